import numpy as np
import pytest

from dialogue.features import Featurizer
from recommender.constraints import Constraints
from recommender.embedding_scorer import EmbeddingScorer, make_scorer
from recommender.embeddings import EmbeddingsError
from recommender.history import HistoryProfile
from recommender.scorer import BaselineScorer
from recommender.vocab import ENERGIES


@pytest.fixture(scope="module")
def scorer(small_embeddings, catalog):
    return EmbeddingScorer(catalog, small_embeddings[0], device="cpu")


def _profile(catalog, seed):
    rng = np.random.default_rng(seed)
    return HistoryProfile(catalog, rng.choice(catalog.n, size=40))


def test_ranks_by_similarity_within_the_filter(scorer, catalog):
    profile = _profile(catalog, 1)
    c = Constraints(genre=catalog.genre_names[0], energy="upbeat")
    r = scorer.rank(c, profile=profile, k=10)
    mask = c.mask(catalog, profile)
    sims = np.where(mask, scorer.embeddings.target @ scorer.user_vector(profile), -np.inf)
    assert r.n_candidates == int(mask.sum()) and len(r.indices) == 10
    assert np.allclose(r.scores, np.sort(sims)[::-1][:10], atol=1e-5)
    assert mask[r.indices].all() and np.all(np.diff(r.scores) <= 1e-7)


def test_filter_never_breaks_a_constraint(scorer, catalog):
    rng = np.random.default_rng(0)
    values = list(catalog.genre_names) + list(catalog.style_names)
    for trial in range(60):
        profile = _profile(catalog, trial)
        c = Constraints(
            genre=values[rng.integers(len(values))] if rng.random() < 0.7 else None,
            energy=ENERGIES[rng.integers(3)] if rng.random() < 0.5 else None,
            decade=catalog.decade_names[rng.integers(len(catalog.decade_names))] if rng.random() < 0.3 else None,
            familiarity=("familiar", "new")[rng.integers(2)] if rng.random() < 0.3 else None,
            excluded_tracks=frozenset(rng.choice(catalog.n, 50).tolist()),
        )
        r = scorer.rank(c, profile=profile, k=25)
        assert c.mask(catalog, profile)[r.indices].all()
        assert not set(r.indices.tolist()) & c.excluded_tracks
        artist = scorer.suggest_artist(c, profile=profile)
        if artist is not None:
            assert c.without("artist").mask(catalog, profile)[catalog.mask("artist", artist)].any()
        for g in scorer.suggest_genres(c, profile=profile):
            assert np.count_nonzero(c.without("genre").mask(catalog, profile) & catalog.mask("genre", g)) >= scorer.min_candidates


def test_empty_result_is_an_answer(scorer, catalog):
    profile = _profile(catalog, 2)
    c = Constraints(genre=catalog.genre_names[0], artist="no such artist at all")
    r = scorer.rank(c, profile=profile)
    assert r.empty and r.n_candidates == 0 and len(r.indices) == 0
    assert scorer.suggest_artist(Constraints(genre="no such genre"), profile=profile) is None
    assert scorer.suggest_genres(Constraints(energy="nonsense"), profile=profile) == ()


def test_affinity_is_calibrated_by_the_threshold(scorer, catalog):
    profile = _profile(catalog, 3)
    r = scorer.rank(Constraints(), profile=profile, k=200)
    aff = scorer.affinity(profile, r.indices)
    assert ((aff > 0) & (aff < 1)).all()
    assert np.array_equal(aff > 0.5, r.scores > scorer.threshold)
    assert scorer.confident(profile, int(r.indices[0])) == bool(r.scores[0] >= scorer.threshold)


def test_without_history_it_is_the_baseline(scorer, catalog):
    base = BaselineScorer(catalog)
    c = Constraints(energy="laid_back")
    assert np.array_equal(scorer.rank(c, k=5).indices, base.rank(c, k=5).indices)
    assert scorer.suggest_genres(c) == base.suggest_genres(c)


def test_versions_flow_into_features_env_and_policies(small_embeddings, catalog, tmp_path):
    from simulator.env import MusicUserEnv

    emb, folder, _ = small_embeddings
    assert make_scorer("baseline", catalog).version == "baseline"
    env = MusicUserEnv(catalog=catalog, features="history", scorer=str(folder))
    assert str(env.featurizer.layout.version) == f"history-v1-g{len(catalog.genre_names)}-{emb.version}"
    assert str(Featurizer(catalog.genre_names, "base", emb.version).layout.version) == f"base-v1-g{len(catalog.genre_names)}"
    obs, info = env.reset(seed=4)
    for _ in range(5):
        obs, _, done, trunc, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
        assert np.isfinite(obs).all()
        if done or trunc:
            break
    with pytest.raises(EmbeddingsError, match="no embeddings"):
        make_scorer(str(tmp_path / "missing"), catalog)
