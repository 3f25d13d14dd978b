"""How good the embeddings are: recall and NDCG on held-out plays, cold start, OPIS.

*Held-out plays*: for every evaluation user and every coarse genre among
their held-out warm tracks, the genre is the constraint the conversation
gathered; the candidates are that genre's tracks minus what the user's
context already holds; the relevant set is their held-out tracks of that
genre. ``recall@10 = hits / min(|relevant|, 10)``; NDCG@10 with binary
gains. The baseline ranks the same candidates by training plays
(popularity within the constraints).

*Cold start*: the same, over the cold tracks only (held out of every
history), against random order (exact expectation) and artist popularity
(training plays of the artist's other tracks: all the popularity a new
track has).

*OPIS* (operating-point inconsistency, seed 000): pairs (user, held-out
track) are positives, (user, random unplayed track) negatives, five per
positive. Accept a pair when its cosine similarity is at least ``t``;
utility F1. Over a calibration range of ``t`` where the overall false
acceptance rate is between 1% and 20%, OPIS is the mean over segments of
the mean squared gap between the segment's F1 curve and the overall one.
Segments: the track's coarse genre; and users by segment x history length
(terciles of the evaluation users' plays), where the segment is the history
table's optional ``segment`` column (the simulator writes the persona); a
table without one gives the history-length terciles alone.
"""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError

from .catalog import Catalog

__all__ = ["evaluate", "pick_threshold", "opis", "topk_metrics", "pairs"]

K = 10
_NEG_PER_POS = 5
_MIN_SEGMENT_POS = 20


def _discount(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)


def topk_metrics(top: np.ndarray, relevant: np.ndarray) -> tuple[float, float]:
    """recall@k (hits / min(|relevant|, k)) and NDCG@k of one ranked list."""
    k = len(top)
    if len(relevant) == 0:
        raise ConfigError("recall/NDCG need at least one relevant (held-out) track per user; got none")
    hit = np.isin(top, relevant)
    disc = _discount(max(k, 1))
    ideal = disc[: min(len(relevant), k)].sum()
    return float(hit.sum() / min(len(relevant), k)), float((hit * disc[:k]).sum() / ideal) if ideal > 0 else 0.0


def _top(scores: np.ndarray, cands: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best candidates by score (ties to the lower row)."""
    s = scores[cands]
    if len(cands) > k:
        kth = -np.partition(-s, k - 1)[k - 1]
        keep = s >= kth
        cands, s = cands[keep], s[keep]
    return cands[np.lexsort((cands, -s))][:k]


def _groups(split, catalog: Catalog, which: str):
    """(user row, constraint genre, relevant tracks) for every user and genre of their held-out tracks."""
    held = split.heldout
    for i in range(len(held)):
        t, _ = held.row(i)
        t = t[split.cold[t]] if which == "cold" else t[~split.cold[t]]
        if len(t) == 0:
            continue
        genres = catalog.primary_genre[t]
        for g in np.unique(genres):
            yield i, int(g), t[genres == g]


def _ranking_metrics(emb, split, catalog: Catalog, which: str) -> dict:
    users = emb.user_vectors(split.context)
    plays = split.plays
    artist_plays = np.bincount(catalog.artist, weights=plays, minlength=len(catalog.artist_names))
    rows_by_genre = [np.flatnonzero(catalog.primary_genre == g) for g in range(len(catalog.genre_names))]
    pool = split.cold if which == "cold" else np.ones(catalog.n, dtype=bool)
    sums = {"model": np.zeros(2), "popularity": np.zeros(2), "random": np.zeros(2)}
    n = 0
    cur, scores = -1, None
    disc = _discount(K)
    pop = artist_plays[catalog.artist] if which == "cold" else plays  # a new track's popularity is its artist's
    for i, g, rel in _groups(split, catalog, which):
        if i != cur:
            cur, scores = i, emb.target @ users[i]
            ctx, _ = split.context.row(i)
        cands = rows_by_genre[g]
        cands = cands[pool[cands]]
        cands = cands[~np.isin(cands, ctx)]
        if len(cands) == 0:
            continue
        n += 1
        sums["model"] += topk_metrics(_top(scores, cands, K), rel)
        sums["popularity"] += topk_metrics(_top(pop, cands, K), rel)
        k = min(K, len(cands))  # random order: exact expectation
        p = len(rel) / len(cands)
        sums["random"] += (k * p / min(len(rel), K), (p * disc[:k]).sum() / disc[: min(len(rel), K)].sum())
    out = {name: {"recall@10": round(float(v[0] / max(n, 1)), 4), "ndcg@10": round(float(v[1] / max(n, 1)), 4)} for name, v in sums.items()}
    out["groups"] = n
    return out


def pairs(emb, split, catalog: Catalog, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Positive and negative (user, track) pairs of the evaluation users with their similarities and segments.

    Returns arrays of one length (n_pairs,): ``sim`` float32 cosine similarity, ``label`` bool (True: held out,
    i.e. played), ``genre`` int64 the track's coarse genre, ``user`` int64 the user segment
    (``segment * 3 + history-length tercile``).
    """
    users = emb.user_vectors(split.context)
    held, ctx = split.heldout, split.context
    u_rows, tracks, label = [], [], []
    warm_rows = np.flatnonzero(~split.cold)
    for i in range(len(held)):
        t, _ = held.row(i)
        t = t[~split.cold[t]]
        if len(t) == 0:
            continue
        seen = np.concatenate([t, ctx.row(i)[0]])
        neg = warm_rows[rng.integers(len(warm_rows), size=_NEG_PER_POS * len(t) * 2)]
        neg = neg[~np.isin(neg, seen)][: _NEG_PER_POS * len(t)]
        u_rows += [i] * (len(t) + len(neg))
        tracks += [t, neg]
        label += [np.ones(len(t), bool), np.zeros(len(neg), bool)]
    u_rows = np.asarray(u_rows, np.int64)
    tracks = np.concatenate(tracks)
    label = np.concatenate(label)
    sim = np.einsum("ij,ij->i", users[u_rows], emb.target[tracks])
    n_plays = held.n_plays[u_rows]
    edges = np.quantile(held.n_plays, [1 / 3, 2 / 3])
    length = np.searchsorted(edges, n_plays, side="right")
    user_seg = held.segment[u_rows].astype(np.int64) * 3 + length  # segment x length tercile (segment 0 if none)
    return {"sim": sim, "label": label, "genre": catalog.primary_genre[tracks].astype(np.int64), "user": user_seg}


def _f1_curves(sim: np.ndarray, label: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    pos = np.sort(sim[label])
    neg = np.sort(sim[~label])
    tp = len(pos) - np.searchsorted(pos, thresholds, side="left")
    fp = len(neg) - np.searchsorted(neg, thresholds, side="left")
    fn = len(pos) - tp
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def calibration_range(sim: np.ndarray, label: np.ndarray, n: int = 50) -> np.ndarray:
    """Thresholds where the overall false acceptance rate runs from 20% to 1%."""
    lo, hi = np.quantile(sim[~label], [0.80, 0.99])
    return np.linspace(lo, hi, n)


def opis(p: dict[str, np.ndarray], segment: str) -> float:
    """Mean over segments (>= 20 positives) of the mean squared gap of their F1 curve to the overall one."""
    thresholds = calibration_range(p["sim"], p["label"])
    overall = _f1_curves(p["sim"], p["label"], thresholds)
    gaps = []
    for s in np.unique(p[segment]):
        m = p[segment] == s
        if np.count_nonzero(p["label"][m]) < _MIN_SEGMENT_POS:
            continue
        gaps.append(np.mean((_f1_curves(p["sim"][m], p["label"][m], thresholds) - overall) ** 2))
    return float(np.mean(gaps)) if gaps else 0.0


def pick_threshold(p: dict[str, np.ndarray]) -> float:
    """The one play threshold: the similarity with the best overall F1 on the evaluation pairs ``p``."""
    grid = np.linspace(np.quantile(p["sim"], 0.01), np.quantile(p["sim"], 0.99), 200)
    return float(grid[int(np.argmax(_f1_curves(p["sim"], p["label"], grid)))])


def evaluate(emb, split, catalog: Catalog, settings, p: dict[str, np.ndarray] | None = None) -> dict:
    """Every figure of the embeddings issue, as a JSON-ready dict (``p``: the evaluation pairs, if already drawn)."""
    if p is None:
        p = pairs(emb, split, catalog, np.random.default_rng([settings.seed, 7]))
    thresholds = calibration_range(p["sim"], p["label"])
    return {
        "heldout": _ranking_metrics(emb, split, catalog, "warm"),
        "cold_start": _ranking_metrics(emb, split, catalog, "cold"),
        "opis_genre": round(opis(p, "genre"), 6),
        "opis_user": round(opis(p, "user"), 6),
        "f1_at_threshold": round(float(_f1_curves(p["sim"], p["label"], np.array([emb.threshold]))[0]), 4),
        "calibration_range": [round(float(thresholds[0]), 4), round(float(thresholds[-1]), 4)],
        "threshold": round(emb.threshold, 4),
        "pairs": int(len(p["sim"])),
    }
