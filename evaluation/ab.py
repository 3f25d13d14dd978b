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
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from dialogue.prompts import N_PROMPTS, PROMPTS
from policy.base import sample_prompt
from policy.registry import DEFAULT_REGISTRY, RULE, load_policy
from recommender.catalog import Catalog
from simulator.config import SimulatorConfig
from simulator.env import MusicUserEnv

__all__ = ["ABSettings", "run_ab", "simulate_policy", "AB_SALT"]

AB_SALT = 0xAB  # keeps A/B users apart from the logging seeds
_CHUNK = 1_000


@dataclass(frozen=True)
class ABSettings:
    policies: tuple[str, ...]
    conversations: int = 20_000
    seeds: int = 5
    registry: str = str(DEFAULT_REGISTRY)
    catalog_path: str | None = None
    nlu_error_rate: float = SimulatorConfig.nlu_error_rate
    first_seed: int = 0
    simulator: dict | None = None  # a whole SimulatorConfig (e.g. the one logs were made with); overrides nlu_error_rate
    scorer: str = "baseline"  # or an embeddings folder

    def __post_init__(self) -> None:
        if not self.policies:
            raise ConfigError("give at least one --policy")
        if len(set(self.policies)) != len(self.policies):
            raise ConfigError(f"each --policy once, got {', '.join(self.policies)}")
        if not 1 <= self.conversations <= 10_000_000:
            raise ConfigError(f"--conversations must be between 1 and 10,000,000, got {self.conversations}")
        if not 1 <= self.seeds <= 1_000:
            raise ConfigError(f"--seeds must be between 1 and 1,000, got {self.seeds}")


def _conversation_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([AB_SALT, seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def simulate_policy(env: MusicUserEnv, policy, variant: str, seeds: list[int], rng_seeds: list[int] | None = None):
    """Run ``policy`` once per simulator seed; per-conversation arrays and prompt counts."""
    n_base = env.featurizer.layout.n_base
    success = np.zeros(len(seeds), dtype=bool)
    prompts = np.zeros(len(seeds), dtype=np.int32)
    usefulness = np.zeros(len(seeds), dtype=np.float32)
    persona = np.zeros(len(seeds), dtype=bool)  # True: explorer
    counts = np.zeros(N_PROMPTS, dtype=np.int64)
    for j, seed in enumerate(seeds):
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(rng_seeds[j] if rng_seeds else seed)
        persona[j] = info["persona"] == "explorer"
        while True:
            features = obs if variant == "history" else obs[:n_base]
            action = sample_prompt(policy.probabilities(features, info["action_mask"]), rng).prompt
            counts[action] += 1
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                success[j], prompts[j], usefulness[j] = info["success"], info["n_prompts"], reward
                break
    return success, prompts, usefulness, persona, counts


_STATE: dict = {}


def _init(settings_dict: dict) -> None:
    import torch

    torch.set_num_threads(1)
    settings = ABSettings(**{**settings_dict, "policies": tuple(settings_dict["policies"])})
    catalog = Catalog.load(settings.catalog_path)
    config = SimulatorConfig(**settings.simulator) if settings.simulator else SimulatorConfig(nlu_error_rate=settings.nlu_error_rate)
    env = _STATE["env"] = MusicUserEnv(catalog=catalog, config=config, features="history", scorer=settings.scorer)
    _STATE["policies"] = [load_policy(ref, catalog=catalog, registry=Path(settings.registry), scorer_version=env.scorer.version)
                          for ref in settings.policies]


def _run_chunk(seed: int, start: int, stop: int):
    env = _STATE["env"]
    seeds = [_conversation_seed(seed, i) for i in range(start, stop)]
    results = []
    for p, (policy, variant) in enumerate(_STATE["policies"]):
        rng_seeds = [int(np.random.SeedSequence([AB_SALT, seed, i, p]).generate_state(1)[0]) for i in range(start, stop)]
        results.append(simulate_policy(env, policy, variant, seeds, rng_seeds))
    return seed, start, results


def _interval(values: np.ndarray) -> list[float]:
    mean = float(values.mean())
    half = 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return [mean - half, mean + half]


def _relative(a: np.ndarray, b: np.ndarray) -> dict:
    """Paired relative difference mean(a)/mean(b) - 1 with a delta-method 95% interval."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = a.mean(), b.mean()
    if mb == 0:
        return {"relative": None, "ci": None}
    ratio = ma / mb
    n = len(a)
    cov = np.cov(a, b, ddof=1) if n > 1 else np.zeros((2, 2))
    var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (mb**2 * n)
    half = 1.96 * math.sqrt(max(var, 0.0))
    return {"relative": ratio - 1, "ci": [ratio - 1 - half, ratio - 1 + half]}


def run_ab(settings: ABSettings, *, workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the A/B test; returns the JSON-ready report (``segue ab --json``)."""
    from recommender.embedding_scorer import make_scorer

    catalog = Catalog.load(settings.catalog_path)
    version = make_scorer(settings.scorer, catalog, device="cpu").version
    for ref in settings.policies:  # fail fast, in this process, on a bad reference or version
        load_policy(ref, catalog=catalog, registry=Path(settings.registry), scorer_version=version)
    n, k = settings.conversations, settings.seeds
    total = n * k
    columns = {ref: {name: np.zeros(total, dtype=dtype) for name, dtype in
                     (("success", bool), ("prompts", np.int32), ("usefulness", np.float32), ("explorer", bool))}
               for ref in settings.policies}
    counts = {ref: np.zeros(N_PROMPTS, dtype=np.int64) for ref in settings.policies}
    chunks = [(settings.first_seed + s, start, min(start + _CHUNK, n)) for s in range(k) for start in range(0, n, _CHUNK)]
    done = 0
    settings_dict = {**asdict(settings), "policies": list(settings.policies)}

    def absorb(seed: int, start: int, results) -> None:
        nonlocal done
        offset = (seed - settings.first_seed) * n + start
        for ref, (success, prompts, usefulness, explorer, prompt_counts) in zip(settings.policies, results):
            rows = slice(offset, offset + len(success))
            columns[ref]["success"][rows] = success
            columns[ref]["prompts"][rows] = prompts
            columns[ref]["usefulness"][rows] = usefulness
            columns[ref]["explorer"][rows] = explorer
            counts[ref] += prompt_counts
        done += len(results[0][0])
        if progress:
            progress(done, total)

    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    if workers == 1:
        _init(settings_dict)
        for chunk in chunks:
            absorb(*_run_chunk(*chunk))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(settings_dict,)) as pool:
            for future in as_completed([pool.submit(_run_chunk, *chunk) for chunk in chunks]):
                absorb(*future.result())

    reference = RULE if RULE in settings.policies else settings.policies[0]
    report: dict = {
        "conversations_per_seed": n,
        "seeds": k,
        "reference": reference,
        "policies": {},
    }
    ref_cols = columns[reference]
    for ref in settings.policies:
        c = columns[ref]
        share = counts[ref] / max(1, counts[ref].sum())
        per_seed = [
            {"success_rate": float(c["success"][s * n : (s + 1) * n].mean()), "mean_prompts": float(c["prompts"][s * n : (s + 1) * n].mean())}
            for s in range(k)
        ]
        personas = {}
        for name, rows in (("decisive", ~c["explorer"]), ("explorer", c["explorer"])):
            if rows.any():
                personas[name] = {"conversations": int(rows.sum()), "success_rate": float(c["success"][rows].mean()),
                                  "mean_prompts": float(c["prompts"][rows].mean())}
        report["policies"][ref] = {
            "success_rate": float(c["success"].mean()),
            "success_rate_ci": _interval(c["success"].astype(np.float64)),
            "mean_prompts": float(c["prompts"].mean()),
            "mean_prompts_ci": _interval(c["prompts"].astype(np.float64)),
            "usefulness": float(c["usefulness"].mean()),
            "usefulness_ci": _interval(c["usefulness"].astype(np.float64)),
            "prompt_share": {p.id.value: float(share[i]) for i, p in enumerate(PROMPTS)},
            "most_asked": PROMPTS[int(np.argmax(counts[ref]))].id.value,
            "per_seed": per_seed,
            "personas": personas,
            "vs_reference": {
                "success_rate": _relative(c["success"], ref_cols["success"]),
                "mean_prompts": _relative(c["prompts"], ref_cols["prompts"]),
                "usefulness": _relative(c["usefulness"], ref_cols["usefulness"]),
            },
        }
    return report
