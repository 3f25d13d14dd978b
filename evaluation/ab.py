"""Simulated A/B tests: several policies, the same simulated users, paired.

Conversation ``i`` of seed ``k`` starts from the same simulator seed for
every policy (the same user with the same hidden goal and the same first
words); what follows depends on the policy. Each policy is served greedily.
Reported per policy: success rate, mean prompts and usefulness per
conversation with 95% intervals (normal approximation over conversations),
the share of each prompt, figures per persona, and the paired relative
difference to a reference policy (``rule`` when present, else the first)
with a delta-method 95% interval.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.engine import EngineSettings, run_tasks
from core.errors import ConfigError
from dialogue.features import FeatureVariant
from dialogue.prompts import N_PROMPTS, PROMPTS
from policy.registry import DEFAULT_REGISTRY, RULE, load_policy
from recommender.catalog import Catalog
from simulator.config import SimulatorConfig
from simulator.env import MusicUserEnv
from simulator.rollout import run_conversations
from simulator.vector import MusicUserVectorEnv

__all__ = ["ABSettings", "ABReport", "ABPolicyResult", "Relative", "SegmentFigures", "run_ab", "simulate_policy", "AB_SALT"]

AB_SALT = 0xAB  # keeps A/B users apart from the logging seeds
_CHUNK = 1_000


@dataclass(frozen=True)
class ABSettings:
    """Which policies, on how many simulated users. Raises ``ConfigError`` for a value out of range.

    policies: references (``rule``, a policy folder or a registry name), each once; ``REF@SCORER`` serves that arm
    with its own scorer (e.g. ``regressor-base@popularity``: non-personalized samples); conversations per seed;
    seeds: independent sets of users; simulator: a whole ``SimulatorConfig`` (e.g. the one logs were made with;
    None: the default world with ``nlu_error_rate``); scorer: of the arms without their own, ``baseline``,
    ``popularity`` or an embeddings folder.
    """

    policies: tuple[str, ...]
    conversations: int = 20_000
    seeds: int = 5
    registry: str = str(DEFAULT_REGISTRY)
    catalog_path: str | None = None
    nlu_error_rate: float = SimulatorConfig.nlu_error_rate
    first_seed: int = 0
    simulator: SimulatorConfig | None = None
    scorer: str = "baseline"

    def __post_init__(self) -> None:
        if not self.policies:
            raise ConfigError("give at least one --policy")
        if len(set(self.policies)) != len(self.policies):
            raise ConfigError(f"each --policy once, got {', '.join(self.policies)}")
        if not 1 <= self.conversations <= 10_000_000:
            raise ConfigError(f"--conversations must be between 1 and 10,000,000, got {self.conversations}")
        if not 1 <= self.seeds <= 1_000:
            raise ConfigError(f"--seeds must be between 1 and 1,000, got {self.seeds}")

    @property
    def arms(self) -> list[tuple[str, str]]:
        """(policy reference, scorer) of each arm, in order."""
        return [split_arm(p, self.scorer) for p in self.policies]

    @property
    def world(self) -> SimulatorConfig:
        return self.simulator if self.simulator is not None else SimulatorConfig(nlu_error_rate=self.nlu_error_rate)


@dataclass(frozen=True)
class Relative:
    """A paired relative difference mean(a)/mean(b) - 1 and its delta-method 95% interval (None: undefined)."""

    relative: float | None
    ci: tuple[float, float] | None

    def to_dict(self) -> dict:
        return {"relative": self.relative, "ci": list(self.ci) if self.ci is not None else None}


@dataclass(frozen=True)
class SegmentFigures:
    """Figures of one user segment (persona): conversations, success rate, mean prompts."""

    conversations: int
    success_rate: float
    mean_prompts: float


@dataclass(frozen=True)
class ABPolicyResult:
    """One policy's on-policy figures in the simulator, with 95% intervals (normal approximation)."""

    success_rate: float
    success_rate_ci: tuple[float, float]
    mean_prompts: float
    mean_prompts_ci: tuple[float, float]
    usefulness: float
    usefulness_ci: tuple[float, float]
    prompt_share: dict[str, float]
    most_asked: str
    per_seed: tuple[dict, ...]
    personas: dict[str, SegmentFigures]
    vs_reference: dict[str, Relative]
    risk: dict[str, float] = field(default_factory=dict)  # evaluation.risk's figures, on-policy

    def metric(self, name: str) -> float:
        """``usefulness``, ``success_rate`` or ``prompts`` (= mean prompts)."""
        return {"usefulness": self.usefulness, "success_rate": self.success_rate, "prompts": self.mean_prompts}[name]

    def metric_ci(self, name: str) -> tuple[float, float]:
        return {"usefulness": self.usefulness_ci, "success_rate": self.success_rate_ci, "prompts": self.mean_prompts_ci}[name]

    def to_dict(self) -> dict:
        return {
            "success_rate": self.success_rate, "success_rate_ci": list(self.success_rate_ci),
            "mean_prompts": self.mean_prompts, "mean_prompts_ci": list(self.mean_prompts_ci),
            "usefulness": self.usefulness, "usefulness_ci": list(self.usefulness_ci),
            "prompt_share": dict(self.prompt_share), "most_asked": self.most_asked, "per_seed": [dict(s) for s in self.per_seed],
            "personas": {k: asdict(v) for k, v in self.personas.items()},
            "vs_reference": {k: v.to_dict() for k, v in self.vs_reference.items()},
            "risk": dict(self.risk),
        }


@dataclass(frozen=True)
class ABReport:
    """A simulated A/B test: every policy on the same users (``to_dict`` is ``segue ab --json``)."""

    conversations_per_seed: int
    seeds: int
    reference: str
    policies: dict[str, ABPolicyResult] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"conversations_per_seed": self.conversations_per_seed, "seeds": self.seeds, "reference": self.reference,
                "policies": {name: r.to_dict() for name, r in self.policies.items()}}


def split_arm(text: str, default_scorer: str) -> tuple[str, str]:
    """``REF@SCORER`` -> (REF, SCORER) when SCORER is ``baseline``, ``popularity`` or an embeddings folder; anything
    else (a plain reference, a folder whose name holds an @) is the reference with ``default_scorer``."""
    ref, at, scorer = text.rpartition("@")
    if at and ref and (scorer in ("baseline", "popularity") or (Path(scorer) / "embeddings.json").is_file()):
        return ref, scorer
    return text, default_scorer


def _risk(columns: dict) -> dict[str, float]:
    """``evaluation.risk``'s figures of simulated conversations (every weight 1)."""
    from .risk import CVAR_ALPHA, cvar

    ones = np.ones((1, len(columns["success"])))
    weights = np.ones(len(columns["success"]))
    return {"abandoned": float(columns["abandoned"].mean()),
            "cvar_usefulness": float(cvar(ones, weights, columns["usefulness"].astype(np.float64), CVAR_ALPHA)[0]),
            "cvar_prompts": float(-cvar(ones, weights, -columns["prompts"].astype(np.float64), CVAR_ALPHA)[0])}


def _conversation_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([AB_SALT, seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def simulate_policy(env: MusicUserEnv | MusicUserVectorEnv, policy, variant: FeatureVariant | str, seeds: list[int],
                    rng_seeds: list[int] | None = None):
    """Run ``policy`` once per simulator seed, many conversations at a time (``simulator.rollout.run_conversations``
    on a vector env: ``env`` itself, or one made ``like`` the single ``env``); the prompts of conversation j are
    drawn from ``default_rng(rng_seeds[j])`` (default: its simulator seed).

    Returns per-conversation arrays success bool (n,), prompts int32 (n,), usefulness float32 (n,),
    explorer bool (n,), abandoned bool (n,), and prompt counts int64 (N_PROMPTS,). ``env`` featurizes the history
    variant.
    """
    success = np.zeros(len(seeds), dtype=bool)
    abandoned = np.zeros(len(seeds), dtype=bool)
    prompts = np.zeros(len(seeds), dtype=np.int32)
    usefulness = np.zeros(len(seeds), dtype=np.float32)
    persona = np.zeros(len(seeds), dtype=bool)  # True: explorer
    counts = np.zeros(N_PROMPTS, dtype=np.int64)
    if not seeds:
        return success, prompts, usefulness, persona, abandoned, counts
    venv = env if isinstance(env, MusicUserVectorEnv) else MusicUserVectorEnv.like(env, min(ROLLOUT_ENVS, len(seeds)))
    rngs = [np.random.default_rng(rng_seeds[j] if rng_seeds else seed) for j, seed in enumerate(seeds)]

    def keep(j: int, record) -> None:
        success[j], prompts[j], usefulness[j] = record.success, record.n_prompts, record.usefulness
        persona[j] = record.persona == "explorer"
        abandoned[j] = record.abandoned
        for turn in record.turns:
            counts[turn.prompt.index] += 1

    run_conversations(venv, policy, variant, seeds=list(seeds), rngs=rngs, on_record=keep)
    return success, prompts, usefulness, persona, abandoned, counts


_STATE: dict = {}
#: conversations a rollout steps together (``simulator.vector``): a learned policy answers them in one forward pass
ROLLOUT_ENVS = 64


def _init(settings: ABSettings) -> None:
    import torch

    torch.set_num_threads(1)
    catalog = Catalog.load(settings.catalog_path)
    envs = {scorer: MusicUserVectorEnv(ROLLOUT_ENVS, catalog=catalog, config=settings.world, features="history", scorer=scorer,
                                       autoreset=False, infos=False)
            for scorer in dict.fromkeys(s for _, s in settings.arms)}
    _STATE["envs"] = [envs[scorer] for _, scorer in settings.arms]
    _STATE["policies"] = [load_policy(ref, catalog=catalog, registry=Path(settings.registry),
                                      scorer_version=envs[scorer].envs[0].scorer.version) for ref, scorer in settings.arms]


def _run_chunk(seed: int, start: int, stop: int):
    seeds = [_conversation_seed(seed, i) for i in range(start, stop)]
    results = []
    for p, (env, (policy, variant)) in enumerate(zip(_STATE["envs"], _STATE["policies"])):
        rng_seeds = [int(np.random.SeedSequence([AB_SALT, seed, i, p]).generate_state(1)[0]) for i in range(start, stop)]
        results.append(simulate_policy(env, policy, variant, seeds, rng_seeds))
    return seed, start, results


def _interval(values: np.ndarray) -> tuple[float, float]:
    mean = float(values.mean())
    half = 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return (mean - half, mean + half)


def _relative(a: np.ndarray, b: np.ndarray) -> Relative:
    """Paired relative difference mean(a)/mean(b) - 1 with a delta-method 95% interval."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = a.mean(), b.mean()
    if mb == 0:
        return Relative(None, None)
    ratio = ma / mb
    n = len(a)
    cov = np.cov(a, b, ddof=1) if n > 1 else np.zeros((2, 2))
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (mb**2 * n)
    half = 1.96 * math.sqrt(max(var, 0.0))
    return Relative(float(ratio - 1), (float(ratio - 1 - half), float(ratio - 1 + half)))


def run_ab(settings: ABSettings, *, workers: int | None = None, engine: EngineSettings | None = None,
           progress: Callable[[int, int], None] | None = None) -> ABReport:
    """Run the A/B test (in ``workers`` processes; default all cores; or as Ray tasks, ``engine``). Same settings,
    same report, whatever the number of workers, nodes or the engine. ``progress(done, total)`` counts
    conversations per policy.

    Raises ``ConfigError``/``PolicyError`` (before any simulation) for a bad policy reference or version, or an
    unreachable Ray cluster.
    """
    from recommender.embedding_scorer import make_scorer

    catalog = Catalog.load(settings.catalog_path)
    versions = {scorer: make_scorer(scorer, catalog, device="cpu").version for scorer in dict.fromkeys(s for _, s in settings.arms)}
    for ref, scorer in settings.arms:  # fail fast, in this process, on a bad reference or version
        load_policy(ref, catalog=catalog, registry=Path(settings.registry), scorer_version=versions[scorer])
    n, k = settings.conversations, settings.seeds
    total = n * k
    columns = {ref: {name: np.zeros(total, dtype=dtype) for name, dtype in
                     (("success", bool), ("prompts", np.int32), ("usefulness", np.float32), ("explorer", bool),
                                                  ("abandoned", bool))}
               for ref in settings.policies}
    counts = {ref: np.zeros(N_PROMPTS, dtype=np.int64) for ref in settings.policies}
    chunks = [(settings.first_seed + s, start, min(start + _CHUNK, n)) for s in range(k) for start in range(0, n, _CHUNK)]
    done = 0

    def absorb(seed: int, start: int, results) -> None:
        nonlocal done
        offset = (seed - settings.first_seed) * n + start
        for ref, (success, prompts, usefulness, explorer, abandoned, prompt_counts) in zip(settings.policies, results):
            rows = slice(offset, offset + len(success))
            columns[ref]["success"][rows] = success
            columns[ref]["prompts"][rows] = prompts
            columns[ref]["usefulness"][rows] = usefulness
            columns[ref]["explorer"][rows] = explorer
            columns[ref]["abandoned"][rows] = abandoned
            counts[ref] += prompt_counts
        done += len(results[0][0])
        if progress:
            progress(done, total)

    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    for result in run_tasks(engine, _init, (settings,), _run_chunk, chunks, workers=workers):
        absorb(*result)

    reference = RULE if RULE in settings.policies else settings.policies[0]
    report = ABReport(conversations_per_seed=n, seeds=k, reference=reference)
    ref_cols = columns[reference]
    for ref in settings.policies:
        c = columns[ref]
        share = counts[ref] / max(1, counts[ref].sum())
        per_seed = tuple(
            {"success_rate": float(c["success"][s * n : (s + 1) * n].mean()), "mean_prompts": float(c["prompts"][s * n : (s + 1) * n].mean())}
            for s in range(k)
        )
        personas = {}
        for name, rows in (("decisive", ~c["explorer"]), ("explorer", c["explorer"])):
            if rows.any():
                personas[name] = SegmentFigures(int(rows.sum()), float(c["success"][rows].mean()), float(c["prompts"][rows].mean()))
        report.policies[ref] = ABPolicyResult(
            success_rate=float(c["success"].mean()),
            success_rate_ci=_interval(c["success"].astype(np.float64)),
            mean_prompts=float(c["prompts"].mean()),
            mean_prompts_ci=_interval(c["prompts"].astype(np.float64)),
            usefulness=float(c["usefulness"].mean()),
            usefulness_ci=_interval(c["usefulness"].astype(np.float64)),
            prompt_share={p.id.value: float(share[i]) for i, p in enumerate(PROMPTS)},
            most_asked=PROMPTS[int(np.argmax(counts[ref]))].id.value,
            per_seed=per_seed,
            personas=personas,
            vs_reference={
                "success_rate": _relative(c["success"], ref_cols["success"]),
                "mean_prompts": _relative(c["prompts"], ref_cols["prompts"]),
                "usefulness": _relative(c["usefulness"], ref_cols["usefulness"]),
            },
            risk=_risk(c),
        )
    return report
