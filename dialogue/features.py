"""The state featurizer: dialogue state -> fixed-length float32 vector.

Two variants share one layout: ``base`` (what a system without listening
history knows) and ``history`` (base followed by listening-history features,
including a user-item affinity feature for each prompt). Every feature lies
in [-1, 1]. ``FeatureLayout.names`` lists them in order; the tables below
document each.

Base features (73):
  turn_frac            min(turn, 20) / 20
  turn_log             log1p(turn) / log1p(100)
  slot_<s>_known       1 if slot s has a value (7 slots)
  slot_<s>_conf        NLU confidence of that value, 0 if none
  slot_<s>_dontcare    1 if the user said they do not mind
  asked_<p>            min(times prompt p was asked, 3) / 3 (11 prompts)
  last_prompt_<p>      one-hot of the previous prompt
  last_act_<a>         1 if the last user turn held act a (11 acts)
  sent_last, sent_mean, sent_min, sent_trend   sentiment of the answers (trend = last - first)
  conf_last, conf_mean NLU confidence of the answers
  rejected             min(rejected samples, 5) / 5
  denied_genres        min(denied genres, 4) / 4
  cand_log             log10(1 + candidates) / log10(1 + catalog size)
  cand_frac            candidates / catalog size
  cand_one, cand_le10  1 if exactly one / at most ten candidates
  relaxed              1 if constraints had to be relaxed to match anything
  top_prior, prior_margin   rating-prior score of the best candidate and its margin over the second
                       (negative when the second is a turned-down artist's track that scores higher)
  user_led             min(turns where the user volunteered a slot, 3) / 3
  known_slots          slots with a value / 7

History features (appended in the ``history`` variant, 20 + n_genres):
  hist_genre_<g>       share of plays per coarse genre
  hist_entropy         genre entropy / log2(n_genres)
  hist_energy_<e>      share of plays per energy (3)
  hist_len             log1p(plays) / log1p(1000)
  hist_top_affinity    history affinity of the best candidate
  hist_margin          its score margin over the second (history ranking)
  hist_in_candidates   share of history plays that pass the current constraints
  hist_top_familiar    1 if the best candidate's artist is in the history
  aff_<p>              per-prompt user-item affinity (11): how well what prompt p
                       would offer matches the history. Suggest genres: summed
                       history share of the two genres; suggest artist: the
                       artist's share x 10; play sample: affinity of the sample;
                       station: mean affinity of the top two; ask prompts: how
                       predictable the answer is from history (largest share of
                       that slot's values); open: 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from core.errors import ConfigError

from .acts import Act, Slot
from .context import Conversation
from .prompts import N_PROMPTS, PROMPTS, PromptId

__all__ = ["FeatureLayout", "FeatureVariant", "FeatureVersion", "Featurizer", "FEATURE_VERSION", "VARIANTS"]

FEATURE_VERSION = "1"
BASELINE_SCORER = "baseline"


class FeatureVariant(StrEnum):
    """Which state features a policy reads: ``base`` (no listening history) or ``history`` (base + history)."""

    BASE = "base"
    HISTORY = "history"

    @classmethod
    def parse(cls, value: "str | FeatureVariant", *, option: str = "--features") -> "FeatureVariant":
        """The variant named ``value``; raises ``ConfigError`` naming ``option`` and the value otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"{option} must be base or history, got {value!r}") from None


VARIANTS = tuple(v.value for v in FeatureVariant)
_VERSION_RE = re.compile(r"^(base|history)-v([0-9A-Za-z.]+)-g([0-9]+)(?:-(.+))?$")


@dataclass(frozen=True)
class FeatureVersion:
    """What a feature vector means, as a record: policies and logs are refused when theirs differs.

    ``variant``: base or history; ``revision``: the featurizer's ``FEATURE_VERSION``; ``n_genres``: the
    catalog's coarse genres (one history feature each); ``scorer``: the version of the scorer whose
    affinities the history features hold (``"baseline"`` for the rule-of-thumb scorer, and always for
    the base variant, which has no affinity features). Written as a string, e.g. ``history-v1-g9`` or
    ``history-v1-g9-emb-1a2b3c4d5e6f`` (``str(version)``; ``FeatureVersion.parse`` reads it back).
    """

    variant: FeatureVariant
    n_genres: int
    scorer: str = BASELINE_SCORER
    revision: str = FEATURE_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", FeatureVariant.parse(self.variant, option="feature variant"))
        if self.variant is FeatureVariant.BASE and self.scorer != BASELINE_SCORER:
            object.__setattr__(self, "scorer", BASELINE_SCORER)  # base features hold no affinity: no scorer in them

    def __str__(self) -> str:
        text = f"{self.variant.value}-v{self.revision}-g{self.n_genres}"
        return text if self.scorer == BASELINE_SCORER else f"{text}-{self.scorer}"

    @classmethod
    def parse(cls, text: str) -> "FeatureVersion":
        """Read ``str(version)`` back; raises ``ConfigError`` for a string of another shape."""
        match = _VERSION_RE.match(text or "")
        if match is None:
            raise ConfigError(f"not a feature version: {text!r} (expected e.g. 'history-v1-g9' or 'base-v1-g9')")
        variant, revision, genres, scorer = match.groups()
        return cls(FeatureVariant(variant), int(genres), scorer or BASELINE_SCORER, revision)

    def base(self) -> "FeatureVersion":
        """The base variant's version of the same featurizer and catalog."""
        return replace(self, variant=FeatureVariant.BASE, scorer=BASELINE_SCORER)
_SLOTS = tuple(Slot)
_ACTS = tuple(Act)
_MAX_TURNS = 100
_ACT_INDEX = {a: i for i, a in enumerate(_ACTS)}
#: base features that depend only on the candidate view (they sit between denied_genres and user_led)
_VIEW_BASE = ("cand_log", "cand_frac", "cand_one", "cand_le10", "relaxed", "top_prior", "prior_margin")


def _base_names() -> list[str]:
    names = ["turn_frac", "turn_log"]
    for s in _SLOTS:
        names += [f"slot_{s}_known", f"slot_{s}_conf", f"slot_{s}_dontcare"]
    names += [f"asked_{p.id}" for p in PROMPTS]
    names += [f"last_prompt_{p.id}" for p in PROMPTS]
    names += [f"last_act_{a}" for a in _ACTS]
    names += ["sent_last", "sent_mean", "sent_min", "sent_trend", "conf_last", "conf_mean"]
    names += ["rejected", "denied_genres", "cand_log", "cand_frac", "cand_one", "cand_le10", "relaxed"]
    names += ["top_prior", "prior_margin", "user_led", "known_slots"]
    return names


#: the prompts whose history feature depends on the candidate view (the others' only on the profile)
_VIEW_PROMPTS = frozenset({PromptId.SUGGEST_GENRES, PromptId.SUGGEST_ARTIST, PromptId.PLAY_SAMPLE, PromptId.OFFER_STATION,
                           PromptId.ASK_FAMILIARITY})


def _history_names(genre_names: tuple[str, ...]) -> list[str]:
    names = [f"hist_genre_{g}" for g in genre_names]
    names += ["hist_entropy", "hist_energy_laid_back", "hist_energy_medium", "hist_energy_upbeat", "hist_len"]
    names += ["hist_top_affinity", "hist_margin", "hist_in_candidates", "hist_top_familiar"]
    names += [f"aff_{p.id}" for p in PROMPTS]
    return names


@dataclass(frozen=True)
class FeatureLayout:
    """The names of a feature vector's entries, in order; the first ``n_base`` are the base features."""

    variant: FeatureVariant
    names: tuple[str, ...]
    n_base: int
    version: FeatureVersion

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def n_history(self) -> int:
        return len(self.names) - self.n_base

    def index(self, name: str) -> int:
        return self.names.index(name)

    def base(self) -> "FeatureLayout":
        """The base part of this layout (what a policy of the base variant reads)."""
        return FeatureLayout(FeatureVariant.BASE, self.names[: self.n_base], self.n_base, self.version.base())


class Featurizer:
    """Featurize a :class:`Conversation` into the layout of ``variant`` (base or history).

    ``scorer_version``: the scorer whose affinities the history features hold (part of the version).
    Raises ``ConfigError`` for an unknown variant.
    """

    def __init__(self, genre_names: tuple[str, ...], variant: FeatureVariant | str = FeatureVariant.BASE,
                 scorer_version: str = BASELINE_SCORER) -> None:
        variant = FeatureVariant.parse(variant, option="feature variant")
        base = _base_names()
        names = base + (_history_names(genre_names) if variant is FeatureVariant.HISTORY else [])
        version = FeatureVersion(variant, len(genre_names), scorer_version)
        self.layout = FeatureLayout(variant, tuple(names), len(base), version)
        self._n_genres = len(genre_names)
        self._view_start = self.layout.index(_VIEW_BASE[0])

    def __call__(self, conv: Conversation) -> np.ndarray:
        out = np.zeros(self.layout.size, dtype=np.float32)
        view = conv.view()
        cached = view.features.get(self.layout.variant)
        if cached is None:  # what depends only on the candidates is computed once per constraint set
            cached = view.features[self.layout.variant] = self._view_part(conv, view)
        self._state_part(conv, out)
        out[self._view_start : self._view_start + len(_VIEW_BASE)] = cached[: len(_VIEW_BASE)]
        if self.layout.variant is FeatureVariant.HISTORY and conv.profile is not None:
            out[self.layout.n_base :] = cached[len(_VIEW_BASE) :]
        return out

    def _state_part(self, conv: Conversation, out: np.ndarray) -> None:
        st = conv.state
        out[0] = min(st.turn, 20) / 20.0
        out[1] = math.log1p(st.turn) / math.log1p(_MAX_TURNS)
        i = 2
        for slot in _SLOTS:
            belief = st.beliefs.get(slot)
            if belief is not None:
                if belief.dont_care:
                    out[i + 2] = 1.0
                else:
                    out[i] = 1.0
                    out[i + 1] = belief.confidence
            i += 3
        out[i : i + N_PROMPTS] = np.minimum(st.asked, 3) / 3.0
        i += N_PROMPTS
        if st.last_prompt is not None:
            out[i + st.last_prompt.index] = 1.0
        i += N_PROMPTS
        for act in st.last_acts:
            out[i + _ACT_INDEX[act.act]] = 1.0
        i += len(_ACTS)
        if st.sentiments:
            s = st.sentiments
            out[i : i + 4] = (s[-1], sum(s) / len(s), min(s), max(-1.0, min(1.0, s[-1] - s[0])))
        i += 4
        if st.confidences:
            c = st.confidences
            out[i : i + 2] = (c[-1], sum(c) / len(c))
        i += 2
        out[i] = min(st.n_rejected, 5) / 5.0
        out[i + 1] = min(len(st.denied_genres), 4) / 4.0
        out[-2 + self.layout.n_base] = min(st.user_led, 3) / 3.0
        out[-1 + self.layout.n_base] = sum(1 for s in _SLOTS if st.known(s) is not None) / len(_SLOTS)

    def _view_part(self, conv: Conversation, view) -> np.ndarray:
        """Features that depend only on the candidate view (and the history): base then history."""
        n = view.n_candidates
        catalog_n = conv.catalog.n
        base = view.base_ranking
        parts = [
            math.log10(1 + n) / math.log10(1 + catalog_n),
            n / catalog_n,
            float(n == 1),
            float(n <= 10),
            float(bool(view.relaxed)),
            min(1.0, float(base.scores[0])) if n else 0.0,
            max(-1.0, min(1.0, base.margin)),
        ]
        block = np.array(parts, dtype=np.float32)
        if self.layout.variant is FeatureVariant.HISTORY and conv.profile is not None:
            block = np.concatenate([block, self._history(conv, view)])
        return block

    def _history_template(self, profile) -> np.ndarray:
        """The history block's entries that depend on the profile only (its shares, and how predictable each ask
        prompt's answer is), computed once per profile; the per-view entries are left 0."""
        cached = getattr(profile, "_features_template", None)
        if cached is not None and cached[0] == self._n_genres:
            return cached[1]
        g = self._n_genres
        static = np.zeros(g + 5, dtype=np.float32)
        static[:g] = profile.genre_share[:g]
        static[g] = profile.genre_entropy / math.log2(max(2, g))
        static[g + 1 : g + 4] = profile.energy_share
        static[g + 4] = min(1.0, math.log1p(len(profile)) / math.log1p(1000))
        predictable = {  # how predictable an ask prompt's answer is from the history
            PromptId.ASK_ENERGY: float(profile.energy_share.max()),
            PromptId.ASK_ACTIVITY: float(profile.energy_share.max()),
            PromptId.ASK_GENRE: float(profile.genre_share.max()),
            PromptId.ASK_MOOD: float(profile.mood_share.max()) if profile.mood_share.size else 0.0,
            PromptId.ASK_DECADE: float(profile.decade_share.max()) if profile.decade_share.size else 0.0,
        }
        out = np.zeros(len(static) + 4 + N_PROMPTS, dtype=np.float32)
        out[: len(static)] = static
        a = len(static) + 4
        for k, spec in enumerate(PROMPTS):
            if spec.id not in _VIEW_PROMPTS:
                out[a + k] = min(1.0, predictable.get(spec.id, 0.0))
        profile._features_template = (g, out)
        return out

    def _history(self, conv: Conversation, view) -> np.ndarray:
        """History features; computed once per candidate view, like the view's base features."""
        profile = conv.profile
        out = self._history_template(profile).copy()
        j = self._n_genres + 5
        ranking = view.ranking
        n = view.n_candidates
        affinities = conv.scorer.affinity(profile, ranking.indices) if n else np.zeros(0, np.float32)
        out[j] = float(affinities[0]) if n else 0.0
        out[j + 1] = max(-1.0, min(1.0, ranking.margin)) if n else 0.0
        out[j + 2] = np.count_nonzero(view.mask[profile.plays]) / len(profile) if len(profile) else 0.0
        out[j + 3] = float(profile.familiar_mask[ranking.indices[0]]) if n else 0.0
        a = j + 4
        for k, spec in enumerate(PROMPTS):
            pid = spec.id
            if pid not in _VIEW_PROMPTS:
                continue
            if pid is PromptId.SUGGEST_GENRES:
                value = sum(profile.value_share(x) for x in conv.suggested_genres(view))
            elif pid is PromptId.SUGGEST_ARTIST:
                artist = conv.suggested_artist(view)
                value = 0.0 if artist is None else 10.0 * profile.artist_share(conv.catalog.artist_code(artist))
            elif pid is PromptId.PLAY_SAMPLE:
                value = float(affinities[0]) if n else 0.0
            elif pid is PromptId.OFFER_STATION:
                value = float(affinities.mean()) if n else 0.0
            else:  # ASK_FAMILIARITY
                value = np.count_nonzero(profile.familiar_mask & view.mask) / n if n else 0.0
            out[a + k] = min(1.0, value)
        return out
