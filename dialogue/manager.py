"""The dialogue manager: NLU -> state -> policy -> scorer -> phrasing, one turn at a time.

It drives the same :class:`Conversation` as the simulator, so the policy
sees the features it was trained on. The person can follow the prompts or
lead: "play some jazz" (play a sample now), "something by <artist>",
"start over", "stop". Every conversation is logged in the training-log
schema, with the serving policy's distribution and propensity, so real
chats can feed the next round of training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recommender.catalog import Catalog
from recommender.history import HistoryProfile
from recommender.scorer import Scorer

from .acts import Act
from .context import Conversation
from .features import Featurizer
from .nlu import NLU, NLUResult
from .nlu.lexicon import tokenize
from .phrasing import Phraser, candidate_match, goal_closeness
from .prompts import PromptId, SystemPrompt, prompt_index
from .usefulness import label_usefulness

__all__ = ["DialogueManager", "SystemTurn", "MAX_TURNS"]

MAX_TURNS = 40
_PLAY_WORDS = frozenset({"play", "put", "hear", "listen"})
GREETING = "Hi, I'm Segue. What would you like to listen to?"


@dataclass
class SystemTurn:
    text: str
    prompt: SystemPrompt | None = None   # None for greetings, help, goodbyes
    play_track: int | None = None        # a snippet to play now
    finished: bool = False
    nlu: NLUResult | None = None
    closeness: float = 0.5


@dataclass
class _Row:
    prompt: SystemPrompt
    probs: np.ndarray
    mask: np.ndarray
    propensity: float
    features: np.ndarray
    acts: tuple = ()
    sentiment: float = 0.0
    confidence: float = 0.0


@dataclass
class ChatRecord:
    """One finished (or interrupted) conversation, for the log."""

    rows: list[_Row] = field(default_factory=list)
    success: bool = False
    abandoned: bool = False
    played_track: int | None = None


class DialogueManager:
    def __init__(
        self,
        catalog: Catalog,
        *,
        nlu: NLU,
        policy,
        variant: str,
        scorer: Scorer,
        profile: HistoryProfile | None = None,
        seed: int = 0,
        policy_name: str = "rule",
    ) -> None:
        self.catalog, self.nlu, self.policy, self.variant, self.scorer = catalog, nlu, policy, variant, scorer
        self.profile = profile
        self.policy_name = policy_name
        self.featurizer = Featurizer(catalog.genre_names, "history", scorer.version)
        self.n_base = self.featurizer.layout.n_base
        self.rng = np.random.default_rng(seed)
        self.phraser = Phraser(catalog, seed=seed)
        self.records: list[ChatRecord] = []
        self._new_conversation()

    # ------------------------------------------------------------------ state
    def _new_conversation(self) -> None:
        self.conversation = Conversation(self.catalog, self.scorer, self.profile)
        self.prompt: SystemPrompt | None = None
        self.record = ChatRecord()
        self.records.append(self.record)
        self.started = False

    @property
    def finished(self) -> bool:
        return self.conversation.state.finished

    def greet(self) -> SystemTurn:
        return SystemTurn(GREETING)

    # ------------------------------------------------------------------ one turn
    def respond(self, text: str, *, speech_confidence: float | None = None) -> SystemTurn:
        """The system's answer to one user utterance (never raises on odd text).

        ``speech_confidence``: the speech recognizer's confidence in ``text`` (voice); the NLU's confidence is
        scaled by it, so the state's NLU-confidence features see doubtful hearing too.
        """
        if self.finished:
            self._new_conversation()
        prompt_id = self.prompt.prompt if self.prompt is not None else None
        result = self.nlu.parse(text, prompt=prompt_id)
        if speech_confidence is not None:
            result = result.heard_with(speech_confidence)
        kinds = {a.act for a in result.acts}
        if self.record.rows:
            row = self.record.rows[-1]
            row.acts, row.sentiment, row.confidence = result.acts, result.sentiment, result.confidence
        if Act.STOP in kinds:
            self.conversation.observe(self.prompt, result.to_turn())
            self._close(success=False, abandoned=True)
            return SystemTurn("OK, stopping here. Thanks for listening with me!", finished=True, nlu=result)
        if Act.RESTART in kinds:
            self._close(success=False, abandoned=True)
            self._new_conversation()
            return SystemTurn("Let's start over. " + GREETING, nlu=result)
        if Act.HELP in kinds and len(result.acts) == 1:
            return SystemTurn('You can tell me a genre, an artist, a mood or what you are doing ("upbeat jazz for a '
                              'workout"), answer my questions, say "start over" or "stop".', nlu=result)
        self.conversation.observe(self.prompt, result.to_turn())
        state = self.conversation.state
        if state.accepted_track is not None:
            track = state.accepted_track
            self._close(success=True, played=track)
            what = "station" if state.station_accepted else "track"
            return SystemTurn(f"Enjoy! Playing the whole {what}: {self.phraser.describe(track)}", finished=True, nlu=result)
        if state.turn >= MAX_TURNS:
            self._close(success=False, abandoned=False)
            return SystemTurn("We've been at this a while; let's take a break. Say anything to start again.",
                              finished=True, nlu=result)
        lead = bool(_PLAY_WORDS & set(tokenize(result.text))) and any(a.act is Act.INFORM for a in result.acts)
        return self._ask(result, force_play=lead)

    def _ask(self, result: NLUResult, *, force_play: bool = False) -> SystemTurn:
        conv = self.conversation
        features = self.featurizer(conv)
        mask = conv.valid_mask()
        policy_features = features if self.variant == "history" else features[: self.n_base]
        probs = np.asarray(self.policy.probabilities(policy_features, mask), dtype=np.float64)
        play = prompt_index(PromptId.PLAY_SAMPLE)
        if force_play and mask[play]:  # the person led: "play some jazz"
            index, propensity = play, float(probs[play])
        else:
            index = int(self.rng.choice(len(probs), p=probs / probs.sum()))
            propensity = float(probs[index])
        prompt = conv.realize(index)
        self.record.rows.append(_Row(prompt, probs.astype(np.float32), mask.copy(), propensity, features.copy()))
        self.prompt = prompt
        view = conv.view()
        affinity = None
        if conv.profile is not None and view.n_candidates:
            affinity = float(self.scorer.affinity(conv.profile, view.ranking.indices[:1])[0])
        closeness = goal_closeness(conv.state.sentiments, conv.state.confidences,
                                   candidate_match(view.n_candidates, self.catalog.n, affinity))
        text = self.phraser.say(prompt, closeness=closeness, last_acts=result.acts)
        play_track = prompt.track if prompt.prompt is PromptId.PLAY_SAMPLE else None
        return SystemTurn(text, prompt=prompt, play_track=play_track, nlu=result, closeness=closeness)

    def _close(self, *, success: bool, abandoned: bool = False, played: int | None = None) -> None:
        rec = self.record
        rec.success, rec.abandoned, rec.played_track = success, abandoned, played

    def end(self) -> None:
        """The person left (EOF): an unfinished conversation counts as abandoned."""
        if not self.finished and self.record.rows and not (self.record.success or self.record.abandoned):
            self._close(success=False, abandoned=True)

    # ------------------------------------------------------------------ logging
    def log_table(self):
        """Every conversation with at least one prompt, as a table in the training-log schema."""
        import pyarrow as pa

        from logs.schema import log_schema

        n_base = self.n_base
        n_hist = self.featurizer.layout.size - n_base
        schema = log_schema(n_base, n_hist)
        cols: dict[str, list] = {name: [] for name in schema.names}
        conv_id = 0
        for rec in self.records:
            if not rec.rows:
                continue
            turns = [(r.prompt, tuple(r.acts)) for r in rec.rows]
            labels = label_usefulness(turns, rec.played_track, self.catalog, self.profile)
            n = len(rec.rows)
            for t, (row, label) in enumerate(zip(rec.rows, labels)):
                p = row.prompt
                values = {
                    "conversation_id": conv_id, "user_id": -1, "persona": "person", "turn": t, "prompt": p.prompt.value,
                    "prompt_genres": list(p.genres), "prompt_artist": p.artist, "prompt_track": p.track,
                    "propensity": row.propensity, "action_probs": row.probs.tolist(), "valid_mask": row.mask.tolist(),
                    "features": row.features[:n_base].tolist(), "history_features": row.features[n_base:].tolist(),
                    "user_acts": [{"act": a.act.value, "slot": a.slot.value if a.slot else None, "value": a.value} for a in row.acts],
                    "sentiment": row.sentiment, "nlu_confidence": row.confidence, "reward": float(label),
                    "success": rec.success, "abandoned": rec.abandoned, "truncated": not (rec.success or rec.abandoned),
                    "played_track": rec.played_track, "n_prompts": n,
                }
                for k, v in values.items():
                    cols[k].append(v)
            conv_id += 1
        return pa.table(cols, schema=schema), conv_id

    def log_metadata(self, settings: dict) -> dict[str, str]:
        from logs.schema import file_metadata

        layout = self.featurizer.layout
        return file_metadata(feature_version=layout.version, names=layout.names, n_base=self.n_base,
                             catalog_fingerprint=self.catalog.fingerprint, logging_policy=self.policy_name, settings=settings)
