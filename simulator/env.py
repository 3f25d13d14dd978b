"""``MusicUserEnv``: a simulated person in a music-finding conversation.

Observation: the featurized dialogue state (``dialogue.features``), float32
in [-1, 1]. Action: a prompt id (``dialogue.prompts``). An invalid prompt
(masked) is allowed but wasted: the user is confused and loses extra
patience. ``info["action_mask"]`` gives the valid prompts for the next step
(also ``env.action_masks()``).

Reward: 0 on every step but the last; the last step's reward is the
conversation's prompt usefulness (the sum of the per-prompt labels, which
``info["usefulness"]`` lists). ``info`` also carries the prompt as asked
(with its arguments), the acts the user meant (``true_acts``), the acts the
system understood (``user_acts``), sentiment and NLU confidence, and at the
end ``success``, ``abandoned``, ``played_track`` and ``n_prompts``.

Episodes end when the user accepts a sample or station (success), stops
(patience gone: abandoned), or after ``max_turns`` prompts (truncated).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dialogue.acts import Act, DialogueAct
from dialogue.context import Conversation
from dialogue.features import Featurizer
from dialogue.prompts import N_PROMPTS, SystemPrompt
from dialogue.usefulness import label_usefulness
from recommender.catalog import Catalog
from recommender.embedding_scorer import make_scorer
from recommender.history import HistoryProfile
from recommender.scorer import BaselineScorer, Scorer

from .config import SimulatorConfig
from .goal import sample_goal
from .population import Population
from .user import SimulatedUser

__all__ = ["MusicUserEnv"]


class MusicUserEnv(gym.Env):
    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        config: SimulatorConfig | None = None,
        features: str = "base",
        scorer: Scorer | str | None = None,
        population: Population | None = None,
        render_mode: str | None = None,
        channel=None,
    ) -> None:
        self.catalog = catalog or (population.catalog if population is not None else Catalog.load())
        self.config = config or (population.config if population is not None else SimulatorConfig())
        self.population = population or Population(self.catalog, self.config)
        self.scorer = make_scorer(scorer, self.catalog) if isinstance(scorer, str) else scorer or BaselineScorer(self.catalog)
        self.featurizer = Featurizer(self.catalog.genre_names, features, self.scorer.version)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(self.featurizer.layout.size,), dtype=np.float32)
        self.action_space = spaces.Discrete(N_PROMPTS)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.channel = channel  # None: the meaning-level NLU noise model; else e.g. dialogue.nlu.channel.TextChannel
        self.conversation: Conversation | None = None
        self._user: SimulatedUser | None = None
        self._turns: list[tuple[SystemPrompt, tuple[DialogueAct, ...]]] = []
        self._asked: set[SystemPrompt] = set()
        self._transcript: list[str] = []
        self._done = True

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        user_id = int(options["user_id"]) if options and "user_id" in options else int(rng.integers(self.config.n_users))
        sim_user = self.population.user(user_id)
        profile = HistoryProfile(self.catalog, sim_user.plays)
        goal = sample_goal(rng, self.population, sim_user, profile, self.config.history_goal_share)
        self._user = SimulatedUser(sim_user, goal, profile, self.catalog, rng, nlu_error_rate=self.config.nlu_error_rate)
        self.conversation = Conversation(self.catalog, self.scorer, profile)
        self._turns = []
        self._asked: set[SystemPrompt] = set()
        self._done = False
        meant = self._user.opening()
        heard = self._hear(meant, None)
        self.conversation.observe(None, heard)
        self._transcript = [f"user: {', '.join(map(str, heard.acts))}"]
        info = {
            "action_mask": self.action_masks(),
            "user_id": user_id,
            "persona": sim_user.persona.name,
            "goal_from_history": goal.from_history,
            "true_acts": tuple(meant),
            "user_acts": heard.acts,
            "sentiment": heard.sentiment,
            "confidence": heard.confidence,
        }
        return self.featurizer(self.conversation), info

    def step(self, action):
        if self._done or self.conversation is None:
            raise gym.error.ResetNeeded("call reset() before step(): the conversation has ended")
        if not self.action_space.contains(action):
            raise gym.error.InvalidAction(f"action must be a prompt id in [0, {N_PROMPTS}), got {action!r}")
        conv, user = self.conversation, self._user
        index = int(action)
        valid = bool(conv.valid_mask()[index])
        prompt = conv.realize(index)
        repeated = prompt in self._asked  # the same prompt with the same arguments, again
        self._asked.add(prompt)
        meant = user.respond(prompt) if valid else [DialogueAct(Act.HELP)]
        gave_up = user.spend(prompt, meant, repeated=repeated, valid=valid)
        if gave_up:
            meant = [DialogueAct(Act.STOP)]
        heard = self._hear(meant, prompt.prompt)
        conv.observe(prompt, heard)
        self._turns.append((prompt, heard.acts))
        self._transcript.append(f"system: {prompt.prompt} | user: {', '.join(map(str, heard.acts)) or '(not understood)'}")

        state = conv.state
        accepted = Act.ACCEPT in {a.act for a in meant} and state.accepted_track is not None
        terminated = accepted or gave_up
        truncated = not terminated and state.turn >= self.config.max_turns
        info: dict[str, Any] = {
            "prompt": prompt,
            "valid_action": valid,
            "true_acts": tuple(meant),
            "user_acts": heard.acts,
            "sentiment": heard.sentiment,
            "confidence": heard.confidence,
        }
        reward = 0.0
        if terminated or truncated:
            self._done = True
            played = state.accepted_track if accepted else None
            labels = label_usefulness(self._turns, played, self.catalog, conv.profile)
            reward = float(sum(labels))
            info.update(
                usefulness=labels,
                success=bool(accepted),
                abandoned=bool(gave_up),
                played_track=played,
                station=bool(accepted and state.station_accepted),
                n_prompts=state.turn,
            )
        obs = self.featurizer(conv)
        info["action_mask"] = self.action_masks()
        return obs, reward, terminated, truncated, info

    def _hear(self, meant, prompt_id):
        user = self._user
        sentiment = user.sentiment(meant)
        if self.channel is None:
            return user.hear(meant, prompt_id, sentiment)
        return self.channel(meant, prompt_id, sentiment, user.rng)

    @property
    def hidden_goal(self):
        """The current user's hidden session goal: for diagnostics and benchmarks only, never for a policy."""
        return None if self._user is None else self._user.goal

    def action_masks(self) -> np.ndarray:
        """Valid prompts now: bool, shape (N_PROMPTS,)."""
        if self.conversation is None:
            return np.ones(N_PROMPTS, dtype=bool)
        return self.conversation.valid_mask()

    def render(self):
        if self.render_mode == "ansi":
            return "\n".join(self._transcript)
        return None
