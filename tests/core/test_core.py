"""The bottom package: the error root, thread settings, settings-record checks."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from core.errors import ConfigError, SegueError
from core.records import check_keys, check_types
from core.threads import quiet_openmp, resolve_threads, torch_threads


def test_every_package_error_is_a_segue_error():
    from segue import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), SegueError), name


def test_torch_threads_are_set_for_the_block_and_restored():
    import torch

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ConfigError, match="torch threads must be >= 1"):
        with torch_threads(0):
            pass
    assert resolve_threads(0, default=1) == 1 and resolve_threads(64, default=1) == (os.cpu_count() or 1)
    with pytest.raises(ConfigError, match="threads must be >= 0"):
        resolve_threads(-1, default=1)


def test_quiet_openmp_keeps_a_users_choice(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    quiet_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    quiet_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_settings_keys_and_types_are_checked():
    @dataclass
    class Settings:
        n: int = 1
        name: str = "x"

    check_keys(Settings, {"n": 2}, "settings")
    with pytest.raises(ConfigError, match=r"settings: unknown key\(s\) m \(known: n, name\)"):
        check_keys(Settings, {"m": 2}, "settings")
    with pytest.raises(ConfigError, match="expected an object of settings, got list"):
        check_keys(Settings, [1], "settings")
    check_types({"n": 3, "x": 0.5}, {"n": (int,), "x": (float,)}, "settings")  # an integer is a number too
    for value in (True, 1.5, "3", None):
        with pytest.raises(ConfigError, match=f"settings: n must be an integer, got {value!r}"):
            check_types({"n": value}, {"n": (int,)}, "settings")
