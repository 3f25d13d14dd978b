import json

import numpy as np
import pytest

from core.errors import ConfigError
from recommender.embedding_eval import opis, topk_metrics
from recommender.embeddings import Embeddings, EmbeddingsError, EmbeddingSettings, content_features, make_split, train_embeddings
from tests.conftest import EMBEDDING_ARRAYS, array_digest


def test_round_trip_keeps_arrays_and_version(small_embeddings, catalog):
    _, folder, as_trained = small_embeddings  # recorded from the embeddings as training returned them, before saving
    back = Embeddings.load(folder, catalog=catalog)
    assert back.version == as_trained["version"] and back.version.startswith("emb-")
    for name in EMBEDDING_ARRAYS:
        assert array_digest(getattr(back, name)) == as_trained[name], name
    assert back.threshold == pytest.approx(as_trained["threshold"])
    assert np.allclose(np.linalg.norm(back.target, axis=1), 1.0, atol=1e-5)


def test_load_refuses_changed_missing_and_foreign(small_embeddings, catalog, tmp_path):
    _, folder, _ = small_embeddings
    with pytest.raises(EmbeddingsError, match="segue embeddings train"):
        Embeddings.load(tmp_path / "none")
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    meta = json.loads((copy / "embeddings.json").read_text())
    meta["catalog"] = "0000"
    (copy / "embeddings.json").write_text(json.dumps(meta))
    with pytest.raises(EmbeddingsError, match="trained on catalog '0000'"):
        Embeddings.load(copy, catalog=catalog)
    with np.load(folder / "embeddings.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["target"][0, 0] += 0.5
    np.savez(copy / "embeddings.npz", **arrays)
    with pytest.raises(EmbeddingsError, match="do not match their version"):
        Embeddings.load(copy)


def test_beats_popularity_and_random(small_embeddings):
    ev = small_embeddings[0].meta["evaluation"]
    held, cold = ev["heldout"], ev["cold_start"]
    assert held["groups"] > 100 and cold["groups"] > 50
    for part in (held, cold):
        assert part["model"]["recall@10"] > part["popularity"]["recall@10"]
        assert part["model"]["ndcg@10"] > part["random"]["ndcg@10"]
    assert cold["model"]["recall@10"] > cold["random"]["recall@10"]


def test_split_keeps_heldout_and_cold_out_of_what_the_model_sees(catalog, small_histories):
    split = make_split(catalog, EmbeddingSettings(train_users=50, eval_users=40, seed=1), small_histories)
    assert len(split.train) == 50 and len(split.context) == len(split.heldout) == 40
    assert not np.isin(split.train.users, split.context.users).any()
    assert not split.cold[split.train.tracks].any() and not split.cold[split.context.tracks].any()
    for i in range(len(split.context)):
        assert not np.isin(split.heldout.row(i)[0], split.context.row(i)[0]).any()
    assert split.cold.sum() == round(0.05 * catalog.n)
    assert split.histories == {**small_histories.provenance, "train_users": 50, "eval_users": 40}


def test_metadata_records_where_the_histories_came_from(small_embeddings, small_histories):
    meta = small_embeddings[0].meta
    assert meta["histories"]["source"] == small_histories.source == "simulator population (700 users)"
    assert meta["histories"]["sha256"] == small_histories.sha256 and len(small_histories.sha256) == 64
    assert meta["histories"]["users"] == 700 and meta["histories"]["plays"] == int(small_histories.n_plays.sum())
    assert (meta["histories"]["train_users"], meta["histories"]["eval_users"]) == (500, 200)
    assert "n_users" not in meta["settings"] and "population_seed" not in meta["settings"]


def test_training_needs_histories_and_enough_users(catalog, small_histories):
    with pytest.raises(ConfigError, match="exactly one of split= or histories="):
        train_embeddings(catalog, EmbeddingSettings(steps=1))
    with pytest.raises(ConfigError, match="has 700 users: too few for 695 evaluation users and 10 training users"):
        make_split(catalog, EmbeddingSettings(eval_users=695), small_histories)
    with pytest.raises(ConfigError, match="--users must be >= 10"):
        EmbeddingSettings(train_users=3)
    with pytest.raises(ConfigError, match=r"--cold-epochs must be between 1 and 100,000, got 0"):
        EmbeddingSettings(cold_epochs=0)


def test_topk_metrics_by_hand():
    assert topk_metrics(np.array([5, 1, 2]), np.array([1, 9])) == pytest.approx((0.5, (1 / np.log2(3)) / (1 + 1 / np.log2(3))))
    recall, ndcg = topk_metrics(np.arange(10), np.arange(20))
    assert recall == 1.0 and ndcg == pytest.approx(1.0)


def test_opis_zero_for_identical_segments_positive_for_shifted():
    rng = np.random.default_rng(0)
    n = 4000
    label = rng.random(n) < 0.2
    sim = np.where(label, 0.6, 0.2) + 0.1 * rng.standard_normal(n)
    segment = rng.integers(2, size=n)
    same = {"sim": sim, "label": label, "genre": segment}
    assert opis(same, "genre") < 1e-3
    shifted = {"sim": sim + 0.3 * segment, "label": label, "genre": segment}
    assert opis(shifted, "genre") > 20 * opis(same, "genre")


def test_content_features_and_settings(catalog):
    x = content_features(catalog)
    assert x.shape[0] == catalog.n and np.isfinite(x).all()
    assert np.array_equal(x[:, : len(catalog.genre_names)], catalog.genre_matrix.astype(np.float32))
    with pytest.raises(ConfigError, match="dim must be between 1 and 1024, got 0"):
        EmbeddingSettings(dim=0)
    with pytest.raises(ConfigError, match="m_neg/m_pos"):
        EmbeddingSettings(m_pos=0.1, m_neg=0.2)


def test_user_segments_are_segment_by_length_tercile(small_embeddings, small_histories, catalog):
    from dataclasses import replace

    from recommender.embedding_eval import pairs

    emb = small_embeddings[0]
    settings = EmbeddingSettings(train_users=100, eval_users=300, seed=2)
    split = make_split(catalog, settings, small_histories)
    p = pairs(emb, split, catalog, np.random.default_rng(0))
    explorer = split.heldout.segment_names.index("explorer")
    assert set(np.unique(p["user"])) <= set(range(3 * len(split.heldout.segment_names)))
    assert {int(s) // 3 for s in np.unique(p["user"])} == {0, 1} and explorer == 1
    plain = replace(small_histories, segment=np.zeros(len(small_histories), np.int64), segment_names=())
    q = pairs(emb, make_split(catalog, settings, plain), catalog, np.random.default_rng(0))
    assert set(np.unique(q["user"])) == {0, 1, 2}  # no segment column: history-length terciles alone
    assert np.array_equal(q["user"], p["user"] % 3)


def test_the_cold_start_network_stops_early_at_its_best_epoch(catalog):
    """Early stopping keeps the epoch with the best validation cosine: the same weights as a plain run of that many
    epochs (computed that other way here), and it stops ``cold_patience`` epochs after it."""
    from recommender.embeddings import _cold_start

    rng = np.random.default_rng(0)
    x = content_features(catalog)
    signal = x @ rng.normal(size=(x.shape[1], 16))
    teacher = signal / np.linalg.norm(signal, axis=1, keepdims=True) + rng.normal(scale=0.5, size=signal.shape)
    teacher = (teacher / np.linalg.norm(teacher, axis=1, keepdims=True)).astype(np.float32)
    trainable = np.zeros(catalog.n, dtype=bool)
    trainable[:1500] = True  # few warm tracks and noisy targets: it overfits within a few dozen epochs
    early = EmbeddingSettings(dim=16, cold_epochs=300, cold_patience=8, seed=4)
    src, tgt, info = _cold_start(catalog, teacher, teacher, trainable, early, None)
    assert info["epochs_run"] == info["best_epoch"] + 8 < 300
    plain = EmbeddingSettings(dim=16, cold_epochs=info["best_epoch"], cold_patience=0, seed=4)
    src2, tgt2, info2 = _cold_start(catalog, teacher, teacher, trainable, plain, None)
    assert info2["epochs_run"] == info["best_epoch"]
    assert np.allclose(tgt, tgt2, atol=1e-6) and info2["validation_cosine"] == pytest.approx(info["validation_cosine"], abs=1e-4)
    assert np.array_equal(tgt[trainable], teacher[trainable])  # warm tracks keep their history-based embeddings
    longer = EmbeddingSettings(dim=16, cold_epochs=info["epochs_run"], cold_patience=0, seed=4)
    assert _cold_start(catalog, teacher, teacher, trainable, longer, None)[2]["validation_cosine"] < info["validation_cosine"]
    with pytest.raises(ConfigError, match=r"--cold-patience must be between 0 \(never stop early\) and 100,000, got -1"):
        EmbeddingSettings(cold_patience=-1)
