"""Data guardrails: a round like the earlier ones passes, inverted labels or a broken folder do not."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from logs.guardrails import GuardrailSettings, RoundFigures, check_round, round_figures
from logs.store import list_parts, read_logs, write_part


def test_a_round_passes_against_itself_and_figures_pool_like_the_table_read_whole(small_logs):
    checks, figures = check_round(small_logs, round_figures(small_logs))
    assert all(c.passed for c in checks) and [c.name for c in checks] == [
        "schema", "propensities", "success", "prompts", "usefulness", "prompt_mix"]
    table = read_logs(small_logs)
    first = pc.equal(table["turn"], 0).to_numpy(zero_copy_only=False)
    cut = int(first.nonzero()[0][len(first.nonzero()[0]) // 2])
    halves = [RoundFigures.of_table(table.slice(0, cut)), RoundFigures.of_table(table.slice(cut))]
    pooled = RoundFigures.pooled(halves)
    for name in ("conversations", "turns", "success_rate", "mean_prompts", "usefulness", "min_propensity"):
        assert getattr(pooled, name) == pytest.approx(getattr(figures, name))
    assert pooled.prompts_var == pytest.approx(figures.prompts_var, rel=0.02)  # pooled with ddof 0 across halves
    assert pooled.prompt_share == pytest.approx(figures.prompt_share)


def test_inverted_labels_fail_the_usefulness_band_and_a_broken_folder_fails_the_schema(small_logs, tmp_path):
    reference = round_figures(small_logs)
    bad = tmp_path / "bad"
    shutil.copytree(small_logs, bad)
    for path in list_parts(bad):
        table = pq.read_table(path)
        reward = pc.subtract(pa.scalar(1.0, table["reward"].type), table["reward"])
        table = table.set_column(table.schema.get_field_index("reward"), table.schema.field("reward"), reward)
        write_part(table, path, {})
    checks, _ = check_round(bad, reference)
    failed = {c.name: c.detail for c in checks if not c.passed}
    assert list(failed) == ["usefulness"] and "band" in failed["usefulness"]
    assert all(c.passed for c in check_round(bad, reference, GuardrailSettings(usefulness_tolerance=10))[0])
    list_parts(bad)[0].unlink()
    checks, figures = check_round(bad, reference)
    assert figures is None and [c.name for c in checks] == ["schema"] and "missing" in checks[0].detail


def test_a_first_round_has_no_band_yet(small_logs):
    checks, _ = check_round(small_logs, None)
    assert [c.name for c in checks] == ["schema", "propensities", "success"] and all(c.passed for c in checks)
    assert "no earlier round" in checks[-1].detail
