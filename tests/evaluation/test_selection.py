"""Off-policy selection metrics against values computed by hand."""

from __future__ import annotations

import pytest

from evaluation.selection import select


def test_ranking_and_its_regrets_by_hand():
    truth = {"a": 0.60, "b": 0.65, "c": 0.50, "d": 0.55}
    chosen = select({"a": 0.7, "b": 0.6, "c": 0.2, "d": 0.5}, truth, k=2)
    assert chosen.ranking == ("a", "b", "d", "c")
    assert chosen.regret_top1 == pytest.approx(0.05)      # chose a (0.60), the best is b (0.65)
    assert chosen.regret_top_k == pytest.approx(0.0)      # b is in the top 2
    # ranks by score 1,2,3,4 vs by truth 2,1,3,4: 1 - 6 * (1 + 1) / (4 * 15) = 0.8
    assert chosen.spearman == pytest.approx(0.8)


def test_an_unestimable_candidate_is_not_chosen_but_still_counts_as_the_best():
    truth = {"a": 0.60, "b": 0.70}
    chosen = select({"a": 0.9}, truth)
    assert chosen.ranking == ("a",) and chosen.regret_top1 == pytest.approx(0.10) and chosen.spearman is None
    assert select({}, truth).ranking == ()
