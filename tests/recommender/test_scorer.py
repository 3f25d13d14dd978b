import numpy as np
import pytest

from recommender.constraints import Constraints
from recommender.history import HistoryProfile
from recommender.scorer import BaselineScorer, Scorer


@pytest.fixture(scope="module")
def scorer(catalog):
    return BaselineScorer(catalog)


def _profile(catalog, genre="hip hop", n=80, seed=0):
    rng = np.random.default_rng(seed)
    return HistoryProfile(catalog, rng.choice(np.flatnonzero(catalog.mask("genre", genre)), n))


def _random_constraints(catalog, rng):
    options = {
        "genre": list(catalog.genre_names[:5]) + ["techno", "ambient", "folk", "indie"],
        "energy": ["laid_back", "medium", "upbeat"],
        "mood": ["happy", "melancholic", "calm", "intense"],
        "decade": list(catalog.decade_names),
        "activity": ["workout", "relax", "commute"],
        "familiarity": ["familiar", "new"],
    }
    values = {slot: (rng.choice(vals) if rng.random() < 0.4 else None) for slot, vals in options.items()}
    excluded = frozenset(int(x) for x in rng.choice(catalog.n, 5))
    return Constraints(**values, excluded_tracks=excluded, excluded_genres=frozenset({"pop"}) if rng.random() < 0.3 else frozenset())


def test_baseline_follows_the_protocol(scorer):
    assert isinstance(scorer, Scorer)


def test_filter_never_returns_a_track_that_breaks_a_constraint(catalog, scorer):
    rng = np.random.default_rng(1)
    profile = _profile(catalog)
    for _ in range(60):
        constraints = _random_constraints(catalog, rng)
        ranking = scorer.rank(constraints, profile=profile, k=10)
        assert ranking.n_candidates == int(constraints.mask(catalog, profile).sum())
        for index in ranking.indices:
            assert constraints.satisfied_by(catalog, int(index), profile), (constraints, int(index))


def test_empty_result_is_an_answer(catalog, scorer):
    impossible = Constraints(genre="classical", energy="upbeat", mood="intense", decade="1920s")
    ranking = scorer.rank(impossible, k=10)
    assert ranking.empty and ranking.n_candidates == 0 and len(ranking.indices) == 0
    assert ranking.margin == 0.0
    nothing = Constraints(genre="no such genre")
    assert scorer.suggest_artist(nothing) is None


def test_ranking_equals_a_full_sort(catalog, scorer):
    profile = _profile(catalog, "rock")
    for constraints in (Constraints(), Constraints(energy="upbeat"), Constraints(genre="electronic", mood="calm")):
        for prof in (None, profile):
            mask = constraints.mask(catalog, prof)
            candidates = np.flatnonzero(mask)
            scores = scorer.prior_weight * catalog.prior[candidates] + (prof.affinity(candidates) if prof else 0)
            expected = candidates[np.lexsort((candidates, -scores))]
            for k in (1, 2, 10):
                got = scorer.rank(constraints, profile=prof, k=k)
                assert np.array_equal(got.indices, expected[:k])


def test_history_affinity_matches_its_definition(catalog):
    profile = _profile(catalog, "jazz", n=40, seed=3)
    plays = profile.plays
    rows = np.random.default_rng(4).choice(catalog.n, 50)
    n = len(plays)
    for r in rows:
        genre = np.mean(catalog.primary_genre[plays] == catalog.primary_genre[r])
        style = 0.0
        for s in catalog.styles_of(int(r)):
            for p in plays:
                styles = catalog.styles_of(int(p))
                style += (s in styles) / max(1, len(styles)) / n
        artist = min(1.0, np.mean(catalog.artist[plays] == catalog.artist[r]) * 10)
        expected = 0.45 * genre + 0.35 * min(style, 1.0) + 0.2 * artist
        assert profile.affinity(np.array([r]))[0] == pytest.approx(expected, abs=1e-5)


def test_suggestions_follow_history_and_constraints(catalog, scorer):
    profile = _profile(catalog, "hip hop")
    first, second = scorer.suggest_genres(Constraints(), profile=profile)
    assert catalog.parent_genre(first) == "hip hop"
    assert catalog.parent_genre(second) != catalog.parent_genre(first)
    denied = scorer.suggest_genres(Constraints(excluded_genres=frozenset({first})), profile=profile)
    assert first not in denied
    upbeat = Constraints(energy="upbeat")
    for genre in scorer.suggest_genres(upbeat, profile=profile):
        assert (catalog.mask("genre", genre) & upbeat.mask(catalog)).sum() >= scorer.min_candidates
    assert scorer.suggest_genres(Constraints())[0] == "electronic"  # no history: the most common
    artist = scorer.suggest_artist(Constraints(), profile=profile)
    assert catalog.artist_code(artist) in profile.artist_plays


def test_a_genre_is_offered_by_the_candidates_its_filter_would_leave(catalog, scorer):
    """offer_counts counts what accepting a value would filter (a coarse genre primary or not): it used to count
    primary genres only once every value was counted, and every genre otherwise, so an offer depended on the order."""
    names = catalog.genre_names + catalog.style_names
    rng = np.random.default_rng(5)
    for constraints in (Constraints(), Constraints(energy="upbeat"), Constraints(mood="happy", decade=catalog.decade_names[3])):
        mask = constraints.mask(catalog)
        counts = scorer.offer_counts(mask)
        assert counts.tolist() == [int(np.count_nonzero(mask & catalog.mask("genre", v))) for v in names]
    secondary = np.flatnonzero(catalog.genre_matrix.sum(axis=0) > np.bincount(catalog.primary_genre, minlength=len(catalog.genre_names)))
    assert secondary.size  # some coarse genre is a secondary genre of some track: the case that differed
    mask = rng.random(catalog.n) < 0.05
    g = int(secondary[0])
    assert scorer.offer_counts(mask)[g] == np.count_nonzero(mask & catalog.genre_matrix[:, g])
    # with no history every value is counted at once; an offered genre leaves enough candidates under its own filter
    for genre in scorer.suggest_genres(Constraints(mood="happy")):
        assert np.count_nonzero(catalog.mask("genre", genre) & Constraints(mood="happy").mask(catalog)) >= scorer.min_candidates


def test_the_popularity_scorer_offers_everyone_the_same_samples_within_their_constraints(catalog, scorer):
    from recommender.embedding_scorer import make_scorer
    from recommender.scorer import PopularityScorer

    popular = make_scorer("popularity", catalog)
    assert isinstance(popular, PopularityScorer) and popular.version == "baseline"
    jazz, rock = _profile(catalog, "jazz", seed=1), _profile(catalog, "rock", seed=2)
    rng = np.random.default_rng(5)
    personalized_differs = 0
    for _ in range(40):
        constraints = _random_constraints(catalog, rng)
        constraints = Constraints(**{**constraints.__dict__, "familiarity": None})  # no filter that reads the history
        a, b = popular.rank(constraints, profile=jazz, k=5), popular.rank(constraints, profile=rock, k=5)
        assert a.indices.tolist() == b.indices.tolist() == scorer.rank(constraints, profile=None, k=5).indices.tolist()
        assert popular.suggest_genres(constraints, profile=jazz) == popular.suggest_genres(constraints, profile=rock)
        personalized_differs += scorer.rank(constraints, profile=jazz, k=5).indices.tolist() != a.indices.tolist()
    assert personalized_differs > 10  # the personalized scorer does read the history
    for index in popular.rank(Constraints(familiarity="new"), profile=jazz, k=10).indices:  # a request still filters
        assert Constraints(familiarity="new").satisfied_by(catalog, int(index), jazz)


def _suggestions_by_brute_force(catalog, scorer, constraints, profile, n):
    """Every genre value counted against the candidates without the genre, then the greedy pick the docstring gives."""
    names = catalog.genre_names + catalog.style_names
    mask = constraints.without("genre").mask(catalog, profile)
    counts = np.array([np.count_nonzero(mask & catalog.mask("genre", v)) for v in names])
    if profile is None:
        genre_n = np.bincount(catalog.primary_genre[mask], minlength=len(catalog.genre_names))
        weight = np.concatenate([genre_n, 0.5 * counts[len(catalog.genre_names):]]) / max(1, int(mask.sum()))
    else:
        weight = np.concatenate([profile.genre_share, 1.5 * profile.style_share]) + 0.02 * scorer._prevalence
    blocked = {*constraints.excluded_genres, constraints.genre}
    usable = [i for i in np.lexsort((np.arange(len(weight)), -weight)) if counts[i] >= scorer.min_candidates
              and names[i] not in blocked]
    chosen = []
    for i in usable:
        if len(chosen) < n and all(catalog.parent_genre(names[i]) != catalog.parent_genre(names[c]) for c in chosen):
            chosen.append(i)
    chosen += [i for i in usable if i not in chosen][: n - len(chosen)]
    return tuple(names[i] for i in chosen)


def test_suggestions_and_kept_candidates_equal_a_brute_force_count(catalog):
    """The scorer keeps a listener's candidate masks and genre order, and counts genre values one at a time before
    counting them all: the offers are still those of counting every value against fresh masks."""
    scorer = BaselineScorer(catalog)
    rng = np.random.default_rng(11)
    profiles = [None, _profile(catalog, "hip hop"), _profile(catalog, "jazz", seed=2), _profile(catalog, "rock", seed=3)]
    for round_ in range(3):  # listeners in turn: what is kept for one never answers for another
        for profile in profiles:
            for _ in range(12):
                constraints = _random_constraints(catalog, rng)
                kept = scorer.candidates(constraints, profile)
                assert not kept.flags.writeable and np.array_equal(kept, constraints.mask(catalog, profile))
                for n in (2, 3):
                    assert scorer.suggest_genres(constraints, profile=profile, n=n) == \
                        _suggestions_by_brute_force(catalog, scorer, constraints, profile, n), (round_, constraints)


def test_affinity_per_genre_and_style_pair_is_the_per_track_sum_bit_for_bit(catalog):
    """track_affinity sums genres and styles once per (primary genre, styles) pair of the catalog: the same float32
    values as the sum over every track's own row."""
    from recommender.history import AFFINITY_WEIGHTS as w

    for genre, seed in (("jazz", 1), ("electronic", 2), ("rock", 3)):
        profile = _profile(catalog, genre, n=120, seed=seed)
        per_track = w["genre"] * profile.genre_share[catalog.primary_genre]
        per_track += w["style"] * np.minimum(catalog.style_matrix @ profile.style_share, 1.0)
        artist = np.zeros(len(catalog.artist_names), dtype=np.float32)
        artist[profile.artist_codes] = np.minimum(1.0, profile.artist_counts / len(profile) * 10.0)
        per_track += w["artist"] * artist[catalog.artist]
        assert profile.track_affinity.dtype == np.float32
        assert np.array_equal(profile.track_affinity, per_track.astype(np.float32))
        familiar = np.isin(catalog.artist, profile.artist_codes)
        assert np.array_equal(profile.familiar_mask, familiar)
    empty = HistoryProfile(catalog, np.zeros(0, dtype=np.int64))
    assert not empty.track_affinity.any() and not empty.familiar_mask.any()


def test_after_a_no_the_next_samples_are_other_artists_while_any_are_left(catalog, scorer):
    """A track turned down used to be followed by the same artist's next track (163 of 300 simulated listeners, and
    84 of them heard one artist four times running): the artists turned down now come after everyone else's."""
    for genre, seed in (("rock", 4), ("electronic", 5), ("hip hop", 6)):
        for profile in (None, _profile(catalog, genre, seed=seed)):
            turned: set[int] = set()
            for _ in range(4):  # four samples turned down in a row
                constraints = Constraints(genre=genre, excluded_tracks=frozenset(turned))
                mask = constraints.mask(catalog, profile)
                rows = np.flatnonzero(mask)
                scores = scorer.prior_weight * catalog.prior[rows] + (profile.affinity(rows) if profile else 0)
                demoted = np.isin(catalog.artist[rows], catalog.artist[list(turned)]) if turned else np.zeros(len(rows), bool)
                expected = rows[np.lexsort((rows, -scores, demoted))]
                for k in (1, 2, 10):
                    got = scorer.rank(constraints, profile=profile, k=k)
                    assert np.array_equal(got.indices, expected[:k]) and got.n_candidates == len(rows)
                top = int(scorer.rank(constraints, profile=profile, k=1).indices[0])
                assert catalog.artist[top] not in catalog.artist[list(turned)] if turned else True
                turned.add(top)
    # one artist asked for: their tracks are all there is, so the next is theirs again
    artist = str(catalog.artist_names[np.bincount(catalog.artist).argmax()])
    first = int(scorer.rank(Constraints(artist=artist), k=1).indices[0])
    again = scorer.rank(Constraints(artist=artist, excluded_tracks=frozenset({first})), k=2)
    assert len(again.indices) == 2 and all(catalog.artist_names[catalog.artist[i]] == artist for i in again.indices)
    # too few other artists: theirs first, then the turned-down artist's: a style of few tracks, one artist with most
    style = next(v for v in catalog.style_names if 4 <= catalog.mask("genre", v).sum() <= 12
                 and 2 <= len(np.unique(catalog.artist[catalog.mask("genre", v)])) < catalog.mask("genre", v).sum())
    rows = np.flatnonzero(catalog.mask("genre", style))
    big = int(np.bincount(catalog.artist[rows]).argmax())
    ranking = scorer.rank(Constraints(genre=style, excluded_tracks=frozenset({int(rows[catalog.artist[rows] == big][0])})),
                          k=len(rows))
    artists = catalog.artist[ranking.indices]
    n_others = int(np.count_nonzero(artists != big))
    assert 0 < n_others < len(ranking.indices) < len(rows)
    assert (artists[:n_others] != big).all() and (artists[n_others:] == big).all()
