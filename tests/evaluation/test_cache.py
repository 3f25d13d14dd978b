"""The evaluation cache: a second evaluation of the same policy on the same logs reads its choices and Q models."""

from __future__ import annotations

import numpy as np
import pytest

import evaluation.evaluate as evaluate_module
import evaluation.ope as ope_module
from evaluation.cache import OPECache, policy_fingerprint
from evaluation.evaluate import evaluate_logs
from evaluation.ope import OPESettings
from evaluation.qmodel import FQESettings


def test_a_second_evaluation_reads_choices_and_q_models(small_logs, trained_registry, tmp_path, monkeypatch):
    registry, _ = trained_registry
    settings = OPESettings(estimators=("dm", "dr"), bootstrap=20, min_ess=0, fqe=FQESettings(steps=20, batch_size=64), q_ensemble=2)
    calls = {"choices": 0, "fits": 0}
    choices, fit = evaluate_module.target_probabilities, ope_module.fit_q

    def counted_choices(*args, **kwargs):
        calls["choices"] += 1
        return choices(*args, **kwargs)

    def counted_fit(*args, **kwargs):
        calls["fits"] += 1
        return fit(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "target_probabilities", counted_choices)
    monkeypatch.setattr(ope_module, "fit_q", counted_fit)
    cache = tmp_path / "cache"
    first = evaluate_logs(small_logs, ["regressor-base", "rule"], registry=registry, settings=settings, cache=cache)
    assert calls == {"choices": 2, "fits": 6}          # two policies; a main Q model and two members each
    assert len(list(cache.glob("*.npz"))) == 2 * (1 + 3)  # each policy's choices and its 3 Q models
    second = evaluate_logs(small_logs, ["regressor-base", "rule"], registry=registry, settings=settings, cache=cache)
    assert calls == {"choices": 2, "fits": 6}          # both from the cache (the rule keyed by its code's digest)
    for key, value in first.result.point.items():
        assert second.result.point[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert np.array_equal(first.targets["regressor-base"], second.targets["regressor-base"])
    # other FQE settings are another entry
    evaluate_logs(small_logs, ["regressor-base"], registry=registry,
                  settings=OPESettings(estimators=("dr",), bootstrap=0, min_ess=0, fqe=FQESettings(steps=21, batch_size=64)),
                  cache=cache)
    assert calls["fits"] == 7 and calls["choices"] == 2
    assert np.array_equal(first.targets["rule"], second.targets["rule"])
    # a changed rule (its code's digest) is another entry, never an old one
    monkeypatch.setattr(evaluate_module, "_rule_key", lambda: "rule-changed")
    evaluate_logs(small_logs, ["rule"], registry=registry, settings=settings, cache=cache)
    assert calls == {"choices": 3, "fits": 10}


def test_policy_files_key_the_cache_and_a_damaged_entry_is_rewritten(trained_registry, tmp_path):
    registry, _ = trained_registry
    key = policy_fingerprint(registry / "regressor-base")
    assert key == policy_fingerprint(registry / "regressor-base") and key != policy_fingerprint(registry / "cql-base")
    store = OPECache(tmp_path, "logs-a")
    store.save_target(key, np.eye(3))
    assert np.array_equal(store.target(key), np.eye(3))
    assert OPECache(tmp_path, "logs-b").target(key) is None   # other logs, another entry
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not a zip file")
    assert store.target(key) is None and not entry.exists()
    assert OPECache(None, "logs-a").target(key) is None        # no folder: nothing cached
