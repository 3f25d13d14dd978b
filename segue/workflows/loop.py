"""Continuous improvement, round after round (``segue loop``): serve, guard, learn, estimate, gate, canary, roll out or back.

Round 0 serves the rule policy with its randomized share. Each round ``r``:

1. **serve** the current policy with its randomized share (``policy.serving``) to ``conversations`` fresh
   simulated users and log them. When a candidate passed the gate in round ``r - 1`` it is the **canary**: it
   serves ``canary.share`` of the round's users beside the current policy, in ``canary.looks`` looks; after each
   look the sequential test (``evaluation.canary``) decides rollout, rollback or wait. A rollback ends the canary
   at once and the rest of its share is served by the current policy (no user is turned away); a conversation in
   which the canary raises is finished by the current policy (``FallbackPolicy``) and the canary is rolled back.
2. **guardrails** on the round's logs (``logs.guardrails``): bands learnt from the earlier accepted rounds of the
   same serving policy. A round that fails is quarantined: not trained on, not evidence. When the policy rolled
   out in the previous round fails an online guardrail (success or prompts), it is rolled back automatically.
3. **truth** (for the ledger and the report only, never for a decision): every policy on the same
   ``truth_conversations`` simulated users, served greedily.
4. **train** the candidates (``candidates``, the main job's learners by default) on every accepted round so far.
5. **estimate** each candidate and the current policy off-policy on the current policy's latest accepted logs,
   and **gate** them (``evaluation.gate``, success first; no simulator guardrail: in the loop the simulator
   plays the people, and the offline decision must not peek at them). The passing candidate with the largest
   lower bound becomes the next round's canary.

When a canary is rolled back as worse although the gate estimated it better, the round its estimate rested on is
quarantined after the fact: its logs are suspect, and are not trained on again.

Every step is one JSON line in ``DIR/ledger.jsonl`` (``segue report --loop DIR`` draws it). Re-running the same
command resumes: finished log parts and trained policies are reused, every decision is made again (the same,
being seeded) and the ledger is written anew. Planted faults (``Fault``) are recorded in the ledger as such.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import ConfigError
from core.records import check_keys
from evaluation.canary import ArmFigures, CanarySettings, canary_look
from evaluation.evaluate import evaluate_logs, simulate_truth
from evaluation.gate import GateSettings
from evaluation.loop_report import ledger_truths
from evaluation.ope import OPESettings
from evaluation.qmodel import FQESettings
from logs.collect import collect, fallback_conversations
from logs.guardrails import GuardrailSettings, RoundFigures, check_round
from logs.manifest import RULE, CollectionSettings
from logs.store import common_manifest, list_parts, read_logs, write_part
from policy.errors import PolicyError
from policy.registry import record_event, resolve, rollback, set_current
from simulator.config import SimulatorConfig

from ..progress import Reporter, format_seconds
from .evaluate import gate_candidates
from .pipeline import DEFAULT_CANDIDATES, Candidate, _train_config
from .train import TrainJob, train_policy

__all__ = ["Fault", "LoopSettings", "LoopResult", "run_loop", "read_ledger", "LEDGER", "FAULT_KINDS"]

LEDGER = "ledger.jsonl"
SETTINGS_FILE = "loop.json"
#: planted faults: ``corrupt`` inverts the round's usefulness labels after serving (the guardrails should quarantine it);
#: ``corrupt-unguarded`` does the same and skips the round's guardrails (a guardrail that failed to fire: the
#: canary must catch what gets through); ``raise`` makes the first canary from that round on raise while serving;
#: ``bad-canary`` sends to the next round's canary, as if it had passed the gate, a regressor trained on a copy of
#: the round's logs with inverted labels (a planted offline-evaluation failure: worse in truth, passed offline).
FAULT_KINDS = ("corrupt", "corrupt-unguarded", "raise", "bad-canary")
RAISE_RATE = 0.05  # share of a faulty canary's turns that raise
#: the guardrails that measure what people met (a rolled-out policy failing one is rolled back); the others
#: (schema, propensities, usefulness labels, prompt mix) are about the data and only quarantine the round
ONLINE_GUARDRAILS = ("success", "prompts")


@dataclass(frozen=True)
class Fault:
    """A planted fault: ``kind`` (``FAULT_KINDS``) at round ``round``; written ``kind@round`` on the command line."""

    kind: str
    round: int

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"--fault kind must be one of {', '.join(FAULT_KINDS)}, got {self.kind!r}")
        if self.round < 0:
            raise ConfigError(f"--fault round must be >= 0, got {self.round}")

    @classmethod
    def parse(cls, text: str) -> "Fault":
        kind, at, number = text.partition("@")
        if not at or not number.isdigit():
            raise ConfigError(f"--fault is KIND@ROUND (e.g. raise@1, corrupt@2), got {text!r}")
        return cls(kind, int(number))

    def __str__(self) -> str:
        return f"{self.kind}@{self.round}"


def _default_gate() -> GateSettings:
    return GateSettings(simulator_guardrails=False)


@dataclass(frozen=True)
class LoopSettings:
    """Every setting of ``segue loop``. Raises ``ConfigError`` for a bad value (named like its option).

    rounds (>= 1) of ``conversations`` simulated users each; seed: of the whole loop (same seed, same logs and
    decisions); runs: the loop's folder (``round-NN/`` logs, ``policies/`` its registry, the ledger);
    candidates: learners trained each round; exploration: the randomized share served with every policy;
    canary, gate, guardrails: their settings; train_steps: of the d3rlpy learners (None: ``auto_steps``);
    bootstrap, fqe_steps: of the off-policy estimates; truth_conversations: simulated users per policy for the
    truth in the ledger (0: none); workers: processes; part_size: conversations per log part; faults: planted;
    simulator: the world; scorer: ``baseline`` or an embeddings folder.
    """

    rounds: int = 5
    conversations: int = 20_000
    seed: int = 1
    runs: Path = Path("runs/loop")
    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    exploration: float = 0.3
    canary: CanarySettings = field(default_factory=CanarySettings)
    gate: GateSettings = field(default_factory=_default_gate)
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    train_steps: int | None = None
    bootstrap: int = 1_000
    fqe_steps: int = 2_000
    truth_conversations: int = 5_000
    workers: int | None = None
    part_size: int = 2_500
    faults: tuple[Fault, ...] = ()
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    scorer: str = "baseline"

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", Path(self.runs))
        object.__setattr__(self, "candidates", tuple(c if isinstance(c, Candidate) else Candidate.parse(c) for c in self.candidates))
        object.__setattr__(self, "faults", tuple(f if isinstance(f, Fault) else Fault.parse(f) for f in self.faults))
        if not 1 <= self.rounds <= 1_000:
            raise ConfigError(f"--rounds must be between 1 and 1,000, got {self.rounds}")
        if not 1 <= self.conversations <= 10_000_000:
            raise ConfigError(f"--conversations must be between 1 and 10,000,000, got {self.conversations}")
        if self.conversations * min(self.canary.share, 1 - self.canary.share) < 2 * self.canary.looks:
            raise ConfigError(f"--conversations {self.conversations} is too few for a canary of share {self.canary.share:g} "
                              f"in {self.canary.looks} looks: each arm needs at least 2 conversations per look")
        if not self.candidates:
            raise ConfigError("the loop needs at least one candidate learner")
        if not 0 < self.exploration <= 1:
            raise ConfigError(f"--exploration must be within (0, 1]: every prompt needs a chance, got {self.exploration}")
        if self.truth_conversations < 0:
            raise ConfigError(f"--truth-conversations must be >= 0, got {self.truth_conversations}")
        if self.runs.exists() and not self.runs.is_dir():
            raise ConfigError(f"--runs {self.runs} is a file: the loop's folder must be a folder")
        late = [str(f) for f in self.faults if f.round >= self.rounds]
        if late:
            raise ConfigError(f"--fault {', '.join(late)}: the loop has rounds 0..{self.rounds - 1}")
        names = [str(f) for f in self.faults]
        if len(set(names)) != len(names):
            raise ConfigError(f"each --fault once, got {', '.join(names)}")
        last = [str(f) for f in self.faults if f.kind in ("bad-canary", "raise") and f.round >= self.rounds - 1]
        if last:
            raise ConfigError(f"--fault {', '.join(last)}: a canary fault needs a round after it for the canary "
                              f"(the loop has rounds 0..{self.rounds - 1})")
        _ = (self.ope, CollectionSettings(conversations=1, part_size=self.part_size))  # their own checks, now

    @property
    def ope(self) -> OPESettings:
        # only the gate's estimator: the gate and the ledger read nothing else, and each round is faster
        return OPESettings(estimators=(self.gate.estimator,), bootstrap=self.bootstrap, confidence=0.95, seed=0,
                           fqe=FQESettings(steps=self.fqe_steps, seed=0))

    @property
    def registry(self) -> Path:
        return self.runs / "policies"

    def fault(self, kind: str, round_: int) -> Fault | None:
        return next((f for f in self.faults if f.kind == kind and f.round == round_), None)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(runs=str(self.runs), candidates=[c.name for c in self.candidates], faults=[str(f) for f in self.faults],
                    canary=self.canary.to_dict(), gate=self.gate.to_dict(), guardrails=self.guardrails.to_dict())
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LoopSettings":
        """Rebuild from ``to_dict`` (any subset); raises ``ConfigError`` for an unknown key or a bad value."""
        check_keys(cls, data, "loop settings")
        values = dict(data)
        for key, kind in (("canary", CanarySettings), ("gate", GateSettings), ("guardrails", GuardrailSettings)):
            if isinstance(values.get(key), dict):
                values[key] = kind.from_dict(values[key])
        if isinstance(values.get("simulator"), dict):
            check_keys(SimulatorConfig, values["simulator"], "simulator settings")
            values["simulator"] = SimulatorConfig(**values["simulator"])
        return cls(**values)


@dataclass
class _Round:
    """What the loop knows of an accepted round: its folders per serving policy, and their figures."""

    index: int
    folders: dict[str, list[Path]]
    figures: dict[str, RoundFigures]


@dataclass
class LoopResult:
    """The rounds' entries of the ledger, where it is, and the policy current at the end."""

    settings: LoopSettings
    ledger: Path
    entries: list[dict]
    current: str
    seconds: float

    @property
    def summary(self) -> dict:
        return next(e for e in reversed(self.entries) if e["step"] == "summary")


class _Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.replace(path.with_name(path.name + ".previous"))
        self._handle = open(path, "a")

    def write(self, round_: int | None, step: str, **data) -> dict:
        if {"time", "round", "step"} & set(data):
            raise ValueError(f"ledger entry data may not set time, round or step: {sorted(data)}")
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "round": round_, "step": step, **data}
        self.entries.append(entry)
        self._handle.write(json.dumps(entry, default=_json_default) + "\n")
        self._handle.flush()
        return entry

    def close(self) -> None:
        self._handle.close()


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def read_ledger(folder: Path) -> list[dict]:
    """The entries of a loop folder's ledger; raises ``ConfigError`` when there is none or a line is not JSON."""
    path = Path(folder) / LEDGER
    if not Path(folder).is_dir():
        raise ConfigError(f"loop folder not found: {folder}")
    if not path.is_file():
        raise ConfigError(f"no {LEDGER} in {folder}: not a loop folder (segue loop --runs {folder} makes one)")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path} line {number} is not JSON ({exc})") from None
            if not isinstance(entry, dict) or not {"step", "round"} <= set(entry):
                raise ConfigError(f"{path} line {number} is not a loop ledger entry (no step and round): {line[:80]!r}")
            entries.append(entry)
    if not entries or entries[0]["step"] != "start":
        raise ConfigError(f"{path} holds no loop: it does not begin with the loop's start entry")
    return entries


# ------------------------------------------------------------------ the loop
class _Loop:
    def __init__(self, settings: LoopSettings, reporter: Reporter) -> None:
        self.s = settings
        self.reporter = reporter
        self.registry = settings.registry
        self.accepted: list[_Round] = []
        self.truth: dict[str, dict] = {}
        self.held: dict[str, tuple[int, list[Path], RoundFigures]] = {}  # the last quarantined round of each policy
        self.raise_planted = False

    # ---------------------------------------------------------------- helpers
    def _seed(self, round_: int, arm: int, look: int) -> int:
        return int(np.random.SeedSequence([self.s.seed, round_, arm, look]).generate_state(1, dtype=np.uint64)[0] >> 1)

    def _ref(self, name: str) -> str:
        folder = resolve(name, self.registry)
        return RULE if folder is None else str(folder.resolve())

    def _serve(self, folder: Path, round_: int, arm: int, look: int, policy: str, n: int, *, fallback: str | None = None,
               fault_rate: float = 0.0) -> Path:
        s = self.s
        settings = CollectionSettings(conversations=n, seed=self._seed(round_, arm, look), exploration=s.exploration,
                                      part_size=min(s.part_size, n), simulator=s.simulator, scorer=s.scorer,
                                      policy=self._ref(policy), fallback=self._ref(fallback) if fallback else None,
                                      fault_rate=fault_rate)
        collect(folder, settings, workers=s.workers)
        return folder

    @staticmethod
    def _arm(folders: list[Path]) -> ArmFigures:
        total = ArmFigures()
        for folder in folders:
            table = read_logs(folder).select(["turn", "success", "n_prompts"])
            first = table["turn"].to_numpy() == 0
            total = total + ArmFigures.of(table["success"].to_numpy(zero_copy_only=False)[first],
                                          table["n_prompts"].to_numpy()[first], fallback_conversations(folder))
        return total

    def _reference(self, policy: str) -> RoundFigures | None:
        figures = [r.figures[policy] for r in self.accepted if policy in r.figures]
        return RoundFigures.pooled(figures) if figures else None

    def _truth(self, policies: list[str], manifest) -> dict[str, dict]:
        todo = [p for p in dict.fromkeys(policies) if p not in self.truth]
        if todo and self.s.truth_conversations:
            with self.reporter.bar(f"  truth of {', '.join(todo)} (for the ledger)", self.s.truth_conversations) as update:
                found = simulate_truth(todo, conversations=self.s.truth_conversations, registry=self.registry,
                                       manifest=manifest, seed=self.s.seed, progress=update)
            for name, t in found.items():
                self.truth[name] = {"success_rate": t.metrics["success_rate"], "mean_prompts": t.metrics["prompts"],
                                    "usefulness": t.metrics["usefulness"], "success_ci": list(t.ci["success_rate"]),
                                    "prompts_ci": list(t.ci["prompts"]), "most_asked": t.most_asked}
        return {p: self.truth[p] for p in policies if p in self.truth}

    # ---------------------------------------------------------------- one round
    def serve(self, r: int, current: str, canary: str | None, ledger: _Ledger) -> tuple[dict[str, list[Path]], dict | None]:
        s, base = self.s, self.s.runs / f"round-{r:02d}"
        if canary is None:
            folder = self._serve(base / "current", r, 0, 0, current, s.conversations)
            ledger.write(r, "serve", policy=current, conversations=s.conversations, folders=[folder],
                         exploration=s.exploration)
            return {current: [folder]}, None
        share, looks = s.canary.share, s.canary.looks
        n_canary = _split(round(s.conversations * share), looks)
        n_current = _split(s.conversations - sum(n_canary), looks)
        faulty = self.s.faults and not self.raise_planted and any(f.kind == "raise" and f.round <= r for f in s.faults)
        if faulty:
            self.raise_planted = True
            ledger.write(r, "fault", kind="raise", policy=canary,
                         planted=f"{canary} raises on {RAISE_RATE:.0%} of its turns while serving")
        folders: dict[str, list[Path]] = {current: [], canary: []}
        decision, looks_done = None, []
        for k in range(looks):
            if decision is not None and decision["decision"] == "rollback":  # the canary's share goes to the current policy
                folders[current].append(self._serve(base / f"current-{k}", r, 0, k, current, n_current[k] + n_canary[k]))
                continue
            with self.reporter.stage(f"  round {r}: look {k + 1}/{looks}: {current} and canary {canary}"):
                folders[current].append(self._serve(base / f"current-{k}", r, 0, k, current, n_current[k]))
                folders[canary].append(self._serve(base / f"canary-{k}", r, 1, k, canary, n_canary[k], fallback=current,
                                                   fault_rate=RAISE_RATE if faulty else 0.0))
            if decision is None:
                look = canary_look(k, self._arm(folders[current]), self._arm(folders[canary]), s.canary)
                looks_done.append(look.to_dict())
                ledger.write(r, "canary_look", policy=canary, against=current, **look.to_dict())
                self.reporter.line(f"    {look.decision or 'wait'}: {look.reason}")
                if look.decision is not None:
                    decision = {"decision": look.decision, "reason": look.reason, "look": k, "fallback": look.canary.fallbacks > 0}
        ledger.write(r, "serve", policy=current, canary=canary, conversations=s.conversations,
                     served={p: sum(_count(f) for f in fs) for p, fs in folders.items()},
                     folders=[f for fs in folders.values() for f in fs], exploration=s.exploration)
        return folders, {**decision, "looks": looks_done}

    def corrupt(self, r: int, folders: dict[str, list[Path]], kind: str, ledger: _Ledger) -> None:
        for fs in folders.values():
            for folder in fs:
                _invert_labels(folder)
        planted = "every usefulness label of the round was inverted after serving"
        if kind == "corrupt-unguarded":
            planted += "; its guardrails are skipped"
        ledger.write(r, "fault", kind=kind, planted=planted)

    def train(self, r: int, ledger: _Ledger) -> list[str]:
        logs = [f for rnd in self.accepted for fs in rnd.folders.values() for f in fs]
        turns = sum(pq.read_metadata(part).num_rows for folder in logs for part in list_parts(folder))  # footers only
        names = []
        for candidate in self.s.candidates:
            name = f"r{r:02d}-{candidate.name}"
            folder = self.registry / name
            started = time.perf_counter()
            with self.reporter.stage(f"  round {r}: train {name} on rounds {[x.index for x in self.accepted]}"):
                reused = (folder / "policy.json").is_file()
                if not reused:
                    try:
                        train_policy(TrainJob(tuple(logs), folder, _train_config(candidate, self.s.train_steps, turns), 0),
                                     self.reporter)
                    except PolicyError as exc:
                        ledger.write(r, "train", policy=name, ok=False, error=str(exc))
                        continue
            ledger.write(r, "train", policy=name, ok=True, reused=reused, rounds=[x.index for x in self.accepted],
                         turns=turns, seconds=round(time.perf_counter() - started, 1))
            names.append(name)
        return names

    def gate(self, r: int, current: str, names: list[str], evidence: _Round, ledger: _Ledger) -> str | None:
        folders = evidence.folders[current]
        with self.reporter.stage(f"  round {r}: estimate {', '.join(names)} and {current} on round {evidence.index}'s logs"):
            with self.reporter.stages() as update:
                evaluation = evaluate_logs(folders, [*names, current], registry=self.registry, settings=self.s.ope,
                                           progress=update)
            gates = gate_candidates(evaluation, registry=self.registry, candidates=names, current=current, gate=self.s.gate)
        for name in [*names, current]:
            entry = evaluation.report.policies[name]
            estimates = {m: e.to_dict() for m, e in entry.estimators.get(self.s.gate.estimator, {}).items()}
            ledger.write(r, "estimate", policy=name, evidence_round=evidence.index, estimator=self.s.gate.estimator,
                         supported=entry.supported, estimates=estimates)
        for g in gates:
            ledger.write(r, "gate", evidence_round=evidence.index, **g.to_dict())
        passing = [g for g in gates if g.promote]
        if not passing:
            return None
        return max(passing, key=lambda g: g.improvement.ci[0]).candidate

    # ---------------------------------------------------------------- all rounds
    def run(self) -> LoopResult:
        s, started = self.s, time.perf_counter()
        ledger = _Ledger(s.runs / LEDGER)
        try:
            ledger.write(None, "start", settings=s.to_dict())
            current, pending, pending_evidence, just_rolled_out = RULE, None, None, None
            for r in range(s.rounds):
                with self.reporter.stage(f"round {r}/{s.rounds - 1}: serve {current}" + (f", canary {pending}" if pending else "")):
                    folders, canary = self.serve(r, current, pending, ledger)
                manifest = common_manifest(folders[current][:1])
                for kind in ("corrupt", "corrupt-unguarded"):
                    if s.fault(kind, r):
                        self.corrupt(r, folders, kind, ledger)
                # guardrails, per serving policy
                unguarded = s.fault("corrupt-unguarded", r) is not None
                accepted = _Round(r, {}, {})
                failures, online = {}, {}
                for policy, fs in folders.items():
                    if not fs:
                        continue
                    reference = self._reference(policy)
                    checks, figures = check_round(fs, reference, s.guardrails)
                    passed = all(c.passed for c in checks) or (unguarded and figures is not None)
                    ledger.write(r, "guardrails", policy=policy, passed=passed, skipped=unguarded, reference=reference is not None,
                                 checks=[c.to_dict() for c in checks], figures=figures.to_dict() if figures else None)
                    if not passed and not (figures is not None and self._rebaseline(r, policy, fs, figures, ledger)):
                        failures[policy] = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.passed)
                        online[policy] = [c.name for c in checks if not c.passed and c.name in ONLINE_GUARDRAILS]
                    accepted.folders[policy], accepted.figures[policy] = fs, figures
                if failures:  # the whole round: its arms were served at the same time, through the same pipeline
                    accepted = _Round(r, {}, {})
                    ledger.write(r, "quarantine", policy=None, policies=list(folders), folders=[f for fs in folders.values() for f in fs],
                                 reason="; ".join(f"{p}: {why}" for p, why in failures.items()))
                # an online guardrail of the policy rolled out last round: its first full round's success or prompts
                # outside its canary's band (what people met; labels and the prompt mix only quarantine the round)
                if just_rolled_out is not None and just_rolled_out == current and online.get(current):
                    entry = rollback(self.registry)
                    ledger.write(r, "rollback", policy=current, current=entry["to"], fallback=False,
                                 reason=f"online guardrail ({', '.join(online[current])}): its first full round fell "
                                        "outside the band of its canary")
                    current = entry["to"]
                    if canary is not None:
                        canary = {**canary, "decision": "rollback", "fallback": False,
                                  "reason": "the policy it was compared with was rolled back"}
                just_rolled_out = None
                # the canary's decision
                if canary is not None:
                    if canary["decision"] == "rollout" and pending in accepted.folders:
                        set_current(pending, registry=self.registry, action="promote", reason=f"canary rollout (round {r})",
                                    evidence={"canary": canary["reason"]})
                        ledger.write(r, "rollout", policy=pending, previous=current, reason=canary["reason"])
                        current, just_rolled_out = pending, pending
                    else:
                        reason = canary["reason"] if canary["decision"] == "rollback" else "its logs were quarantined"
                        record_event(self.registry, {"action": "rollback", "from": pending, "to": current,
                                                     "reason": f"canary rolled back (round {r}): {reason}"})
                        ledger.write(r, "rollback", policy=pending, current=current, reason=reason,
                                     fallback=bool(canary.get("fallback")))
                        if (canary["decision"] == "rollback" and not canary.get("fallback") and reason.startswith("worse")
                                and pending_evidence is not None):
                            self._suspect(r, pending_evidence, pending, ledger)
                if accepted.folders:
                    self.accepted.append(accepted)
                truth = self._truth([current] + ([pending] if pending else []), manifest)
                ledger.write(r, "truth", policies=truth, conversations=s.truth_conversations, current=current)
                pending, pending_evidence = None, None
                evidence = next((x for x in reversed(self.accepted) if current in x.folders), None)
                if not self.accepted or evidence is None:
                    ledger.write(r, "skip", reason="no accepted logs of the current policy to learn from or estimate on")
                    continue
                names = self.train(r, ledger)
                if names:
                    self._truth(names, manifest)
                    ledger.write(r, "truth", policies={n: self.truth[n] for n in names if n in self.truth},
                                 conversations=s.truth_conversations, current=current)
                    winner = self.gate(r, current, names, evidence, ledger)
                    planted = self.bad_canary(r, evidence.folders[current], manifest, ledger) \
                        if s.fault("bad-canary", r) and r + 1 < s.rounds else None
                    if planted:  # its offline evidence was planted, not round r's logs: a rollback says nothing of them
                        pending, pending_evidence = planted, None
                        ledger.write(r, "canary_next", policy=planted, canary_round=r + 1)
                    elif winner and r + 1 < s.rounds:
                        pending, pending_evidence = winner, evidence.index
                        ledger.write(r, "canary_next", policy=winner, canary_round=r + 1)
                    elif winner:
                        ledger.write(r, "canary_next", policy=winner, canary_round=None,
                                     note="passed the gate in the last round: no round left for its canary")
            for fault in s.faults:
                if fault.kind == "raise" and not self.raise_planted:
                    ledger.write(None, "fault_not_planted", kind="raise", at=fault.round,
                                 reason=f"no candidate reached the canary from round {fault.round} on: nothing to make raise")
            summary = _summarize(ledger.entries, current)
            ledger.write(None, "summary", **summary)
        finally:
            ledger.close()
        return LoopResult(s, ledger.path, ledger.entries, current, time.perf_counter() - started)

    def bad_canary(self, r: int, folders: list[Path], manifest, ledger: _Ledger) -> str | None:
        """The ``bad-canary`` fault: a regressor trained on an inverted-label copy of ``folders``, returned as the winner."""
        import shutil

        name = f"r{r:02d}-corrupted"
        copies = []
        for folder in folders:
            copy = self.s.runs / f"round-{r:02d}" / "corrupted-copy" / folder.name
            if not copy.exists():
                shutil.copytree(folder, copy)
            _invert_labels(copy)
            copies.append(copy)
        if not (self.registry / name / "policy.json").is_file():
            try:
                train_policy(TrainJob(tuple(copies), self.registry / name, _train_config(Candidate("regressor", "base"), None, 0), 0))
            except PolicyError as exc:
                ledger.write(r, "fault", kind="bad-canary", planted=f"could not be planted: {exc}")
                return None
        self._truth([name], manifest)
        ledger.write(r, "fault", kind="bad-canary", policy=name,
                     planted=f"{name}, trained on a copy of round {r}'s logs with every usefulness label inverted, goes to the "
                             "canary as if it had passed the gate (a planted offline-evaluation failure)")
        return name

    def _rebaseline(self, r: int, policy: str, folders: list[Path], figures: RoundFigures, ledger: _Ledger) -> bool:
        """Two consecutive rounds of ``policy`` quarantined against its band but agreeing with each other: the band is
        what is wrong (its rounds were corrupted, or the world changed). The earlier rounds of ``policy`` stop being
        its reference and its training data; the two rounds are accepted. Returns whether that happened."""
        held = self.held.get(policy)
        self.held[policy] = (r, folders, figures)
        if held is None or held[0] != r - 1:
            return False
        checks, _ = check_round(folders, held[2], self.s.guardrails)
        if not all(c.passed for c in checks):
            return False
        dropped = [x.index for x in self.accepted if policy in x.folders]
        for x in self.accepted:
            x.folders.pop(policy, None)
            x.figures.pop(policy, None)
        self.accepted = [x for x in self.accepted if x.folders]
        self.accepted.append(_Round(held[0], {policy: held[1]}, {policy: held[2]}))
        del self.held[policy]
        ledger.write(r, "rebaseline", policy=policy, accepted_rounds=[held[0], r], dropped_rounds=dropped,
                     reason=f"rounds {held[0]} and {r} of {policy} agree with each other and not with the band of rounds "
                            f"{dropped}: those earlier rounds are suspect (corrupted, or the world changed); they no longer "
                            "set the band nor train the candidates")
        return True

    def _suspect(self, r: int, evidence_round: int, candidate: str, ledger: _Ledger) -> None:
        rounds = [x for x in self.accepted if x.index == evidence_round]
        if rounds:
            self.accepted.remove(rounds[0])
            ledger.write(r, "quarantine", round_quarantined=evidence_round, policy=None,
                         reason=f"after the fact: the canary found {candidate} worse online while the gate estimated it "
                                f"better on round {evidence_round}'s logs; those logs are suspect and not learnt from again")


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _count(folder: Path) -> int:
    return sum(int((pq.read_schema(p).metadata or {}).get(b"segue.conversations", b"0")) for p in list_parts(folder))


def _invert_labels(folder: Path) -> None:
    """Planted corruption: every usefulness label of the folder's parts inverted (1 - label), in place, once. The
    parts stay valid (a label pipeline that went wrong, not a broken file): only the guardrails can tell."""
    marker = folder / ".corrupted"
    if marker.exists():
        return
    for path in list_parts(folder):
        table = pq.read_table(path)
        reward = pc.subtract(pa.scalar(1.0, table["reward"].type), table["reward"])
        table = table.set_column(table.schema.get_field_index("reward"), table.schema.field("reward"), reward)
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        write_part(table, path, meta)
    marker.write_text("labels inverted by segue loop --fault\n")


def _summarize(entries: list[dict], current: str) -> dict:
    """Per round: the serving policy and its truth; every rollout with its truth against the policy it replaced
    (false promotion: truth worse); missed promotions (a round that sent no candidate to the canary although one
    it trained beat the current policy's truth by more than 0.01 success); planted faults and what caught them."""
    truth = ledger_truths(entries)
    rounds, rollouts, missed = [], [], []
    for r in sorted({e["round"] for e in entries if e["round"] is not None}):
        mine = [e for e in entries if e["round"] == r]
        serve = next(e for e in mine if e["step"] == "serve")
        served = serve["policy"]
        rounds.append({"round": r, "policy": served, "canary": serve.get("canary"),
                       "truth_success": truth.get(served, {}).get("success_rate"),
                       "truth_prompts": truth.get(served, {}).get("mean_prompts")})
        for e in mine:
            if e["step"] == "rollout":
                new, old = truth.get(e["policy"]), truth.get(e["previous"])
                diff = new["success_rate"] - old["success_rate"] if new and old else None
                rollouts.append({"round": r, "policy": e["policy"], "previous": e["previous"], "truth_success_diff": diff,
                                 "false": diff is not None and diff < 0})
        current_r = next((e["current"] for e in mine if e["step"] == "truth"), served)
        trained = [e["policy"] for e in mine if e["step"] == "train" and e.get("ok")]
        # (ledgers written before "canary_round" existed gave that entry the canary's round instead of its own)
        sent = [e for e in entries if e["step"] == "canary_next" and (e["round"] == r if "canary_round" in e else e["round"] == r + 1)]
        gains = {n: truth[n]["success_rate"] - truth[current_r]["success_rate"] for n in trained if n in truth and current_r in truth}
        best = max(gains, key=gains.get) if gains else None
        if not sent and best is not None and gains[best] > 0.01:
            missed.append({"round": r, "policy": best, "over": current_r, "truth_success_gain": gains[best]})
    faults = []
    for e in entries:
        if e["step"] != "fault" or "could not be planted" in e.get("planted", ""):
            continue
        fr = e["round"]
        if e["kind"] in ("corrupt", "corrupt-unguarded"):
            hits = [x for x in entries if (x["step"] == "quarantine" and (x["round"] == fr and "round_quarantined" not in x
                                                                            or x.get("round_quarantined") == fr))
                    or (x["step"] == "rebaseline" and fr in x["dropped_rounds"])]
        else:  # raise, bad-canary: the faulty canary's rollback
            hits = [x for x in entries if x["step"] == "rollback" and x["policy"] == e.get("policy") and x["round"] >= fr]
        faults.append({"round": fr, "kind": e["kind"], "policy": e.get("policy"),
                       "caught_by": f"{hits[0]['step']} in round {hits[0]['round']}" if hits else None})
    first = rounds[1] if len(rounds) > 1 else rounds[0]
    known = bool(truth)  # without the truth (--truth-conversations 0) neither count can be known
    not_planted = [{"kind": e["kind"], "round": e["at"], "reason": e["reason"]} for e in entries
                   if e["step"] == "fault_not_planted"]
    return {"final_policy": current, "rounds": rounds, "rollouts": rollouts, "faults_not_planted": not_planted,
            "false_promotions": sum(1 for x in rollouts if x["false"]) if known else None,
            "missed_promotions": len(missed) if known else None, "missed": missed,
            "faults": faults, "first_round_policy": first["policy"], "final_truth": truth.get(current),
            "round1_truth": truth.get(first["policy"])}


def run_loop(settings: LoopSettings, reporter: Reporter | None = None) -> LoopResult:
    """Run the rounds (module docstring). Raises ``ConfigError`` when ``settings.runs`` holds a loop made with
    other settings, ``LogConflictError``/``PolicyError``/``LogValidationError`` as the steps do; everything
    finished before an error is kept and reused by the same command."""
    reporter = reporter or Reporter.silent()
    runs = settings.runs
    runs.mkdir(parents=True, exist_ok=True)
    saved = runs / SETTINGS_FILE
    # where the loop is and how many processes simulate change nothing it decides: a moved folder resumes
    wanted = {k: v for k, v in settings.to_dict().items() if k not in ("runs", "workers")}
    if saved.exists():
        try:
            found = json.loads(saved.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{saved} is not JSON ({exc}); remove it or choose another --runs") from None
        found = {k: v for k, v in found.items() if k not in ("runs", "workers")}
        if found != json.loads(json.dumps(wanted)):
            now = json.loads(json.dumps(wanted))
            diffs = sorted(k for k in set(found) | set(now) if found.get(k) != now.get(k))

            def shown(value) -> str:
                return "unset" if value is None else repr(value)

            detail = ", ".join(f"{k}: {shown(found.get(k))} there, {shown(now.get(k))} now" for k in diffs)
            raise ConfigError(f"{runs} holds a loop made with other settings ({detail}); choose another --runs")
    else:
        saved.write_text(json.dumps(wanted, indent=2))
    registry = settings.registry
    for name in ("CURRENT", "history.jsonl"):  # the registry's state is re-derived by the rounds
        if (registry / name).exists():
            (registry / name).unlink()
    started = time.perf_counter()
    result = _Loop(settings, reporter).run()
    reporter.line(f"loop done in {format_seconds(time.perf_counter() - started)}: {result.current} is current; "
                  f"ledger {result.ledger}")
    return result

