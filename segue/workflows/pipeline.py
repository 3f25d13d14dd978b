"""The main job (``segue pipeline``, ``make demo``): log, train, evaluate, report, promote.

1. simulate: randomized conversations of the rule policy with simulated users (resumable: parts already
   written with the same settings are reused);
2. train: each candidate learner on those logs (a candidate already in the registry is reused);
3. evaluate: every candidate and the current policy off-policy on the logs, with the simulator's truth;
4. report: ``runs/report.html`` and ``runs/report.md``, ``runs/evaluation.json``;
5. promote: the candidate with the largest lower bound of improvement among those that pass the gate.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.errors import ConfigError
from core.records import check_keys, check_types
from dialogue.features import FeatureVariant
from evaluation.evaluate import Evaluation
from evaluation.gate import GateSettings
from evaluation.ope import OPESettings
from evaluation.qmodel import FQESettings
from evaluation.report import write_report
from evaluation.results import GateDecision
from logs.collect import check
from logs.manifest import CollectionSettings
from policy.learners import TRAINABLE, learner_config
from policy.registry import POLICY_FILE, current_policy, record_event, set_current
from policy.train import TrainConfig

from ..progress import Reporter, format_seconds
from .evaluate import EvaluateSettings, _policy_folders, evaluate_policies, gate_candidates
from .simulate import SimulateResult, SimulateSettings, simulate_logs
from .train import TrainJob, train_policy

__all__ = ["Candidate", "PipelineSettings", "PipelineResult", "run_pipeline", "auto_steps"]

#: Epochs over the logged prompts that the automatic number of CQL steps aims for, and its bounds.
AUTO_EPOCHS, MIN_AUTO_STEPS, MAX_AUTO_STEPS = 16, 500, 15_000


def auto_steps(transitions: int, batch_size: int) -> int:
    """Gradient steps for ``transitions`` logged prompts: about ``AUTO_EPOCHS`` passes over them, in hundreds, within
    [``MIN_AUTO_STEPS``, ``MAX_AUTO_STEPS``] (15,000 for the default 50,000 conversations, about 900 for 3,000)."""
    return int(min(MAX_AUTO_STEPS, max(MIN_AUTO_STEPS, round(AUTO_EPOCHS * transitions / batch_size, -2))))


@dataclass(frozen=True)
class Candidate:
    """A learner and the feature variant it reads; registered as ``<algo>-<features>``."""

    algo: str
    features: FeatureVariant

    def __post_init__(self) -> None:
        if self.algo not in TRAINABLE:
            raise ConfigError(f"candidate learner must be one of {', '.join(TRAINABLE)}, got {self.algo!r}")
        object.__setattr__(self, "features", FeatureVariant.parse(self.features, option="candidate features"))

    @property
    def name(self) -> str:
        return f"{self.algo}-{self.features.value}"

    @classmethod
    def parse(cls, text: str) -> "Candidate":
        """``cql-base``, ``regressor-history``, ...; raises ``ConfigError`` otherwise."""
        algo, _, features = text.partition("-")
        if not features:
            raise ConfigError(f"a candidate is <learner>-<features>, e.g. cql-base or regressor-history; got {text!r}")
        try:
            return cls(algo, features)
        except ConfigError as exc:
            raise ConfigError(f"candidate {text!r}: {exc}") from None


DEFAULT_CANDIDATES = (Candidate("cql", "base"), Candidate("regressor", "base"), Candidate("regressor", "history"))
_NUMBER, _OPTIONAL = (int,), (int, type(None))
#: the JSON types each pipeline setting accepts (checked before the record is built)
_TYPES = {"conversations": _NUMBER, "seed": _NUMBER, "runs": (str, Path), "workers": _OPTIONAL, "candidates": (list, tuple),
          "train_steps": _OPTIONAL, "eval_conversations": _NUMBER, "truth_conversations": _NUMBER, "bootstrap": _NUMBER,
          "fqe_steps": _NUMBER, "promote": (bool,), "gate": (dict, GateSettings)}


@dataclass(frozen=True)
class PipelineSettings:
    """Every setting of the main job, with its defaults in one place. Raises ``ConfigError`` for a bad value.

    conversations/seed: the logs; runs: the working folder (``logs/``, ``policies/``, the report);
    workers: processes for simulation (None: all cores); candidates: the learners trained;
    train_steps: gradient steps of the d3rlpy learners (None: ``auto_steps`` of the logs' size);
    eval_conversations: the quick simulator evaluation stored with each trained policy; truth_conversations:
    simulated users per policy for the truth and the guardrails; bootstrap and fqe_steps: of the evaluation;
    promote: run the gate and promote the best passing candidate.
    """

    conversations: int = 50_000
    seed: int = 1
    runs: Path = Path("runs")
    workers: int | None = None
    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    train_steps: int | None = None
    eval_conversations: int = 2_000
    truth_conversations: int = 5_000
    bootstrap: int = 1_000
    fqe_steps: int = 2_000
    promote: bool = True
    gate: GateSettings = field(default_factory=GateSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", Path(self.runs))
        if self.runs.exists() and not self.runs.is_dir():
            raise ConfigError(f"--runs {self.runs} is a file: the pipeline's working folder must be a folder")
        if not self.candidates:
            raise ConfigError("the pipeline needs at least one candidate")
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ConfigError(f"each candidate once, got {', '.join(names)}")
        if self.train_steps is not None and not 1 <= self.train_steps <= 10_000_000:
            raise ConfigError(f"--steps must be between 1 and 10,000,000, got {self.train_steps}")
        if self.eval_conversations < 0:
            raise ConfigError(f"--eval-conversations must be >= 0, got {self.eval_conversations}")
        if self.truth_conversations < 1:
            raise ConfigError(f"--truth-conversations must be >= 1, got {self.truth_conversations}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        _ = (self.collection, self.ope)  # their own checks (conversations, seed, bootstrap) now, not at step 1

    @property
    def collection(self) -> CollectionSettings:
        return CollectionSettings(conversations=self.conversations, seed=self.seed)

    @property
    def ope(self) -> OPESettings:
        return OPESettings(bootstrap=self.bootstrap, confidence=0.95, seed=0, fqe=FQESettings(steps=self.fqe_steps, seed=0))

    @property
    def logs(self) -> Path:
        return self.runs / "logs"

    @property
    def registry(self) -> Path:
        return self.runs / "policies"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["runs"] = str(self.runs)
        data["candidates"] = [c.name for c in self.candidates]
        data["gate"] = self.gate.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "PipelineSettings":
        """Rebuild from ``to_dict`` (any subset of the keys; the rest keep their defaults)."""
        check_keys(cls, data, "pipeline settings")
        check_types(data, _TYPES, "pipeline settings")
        if isinstance(data.get("candidates"), list) and not all(isinstance(c, (str, Candidate)) for c in data["candidates"]):
            raise ConfigError(f"pipeline settings: candidates must be a list of names like 'cql-base', got {data['candidates']!r}")
        values = dict(data)
        if "candidates" in values:
            values["candidates"] = tuple(c if isinstance(c, Candidate) else Candidate.parse(c) for c in values["candidates"])
        if "gate" in values and isinstance(values["gate"], dict):
            values["gate"] = GateSettings.from_dict(values["gate"])
        return cls(**values)

    @classmethod
    def read_file(cls, path: Path) -> dict:
        """The JSON object of a settings file (``to_dict``'s keys, any subset), to merge with command-line options
        before ``from_dict``; raises ``ConfigError`` naming the file."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"--settings {path}: cannot read it as JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--settings {path}: expected a JSON object of pipeline settings")
        return data

    @classmethod
    def from_file(cls, path: Path) -> "PipelineSettings":
        """Settings from a JSON file; raises ``ConfigError`` naming the file or the bad value."""
        return cls.from_dict(cls.read_file(path))


@dataclass
class PipelineResult:
    """What the main job made and decided."""

    settings: PipelineSettings
    simulation: SimulateResult
    trained: dict[str, bool]          # candidate -> trained now (False: reused from the registry)
    evaluation: Evaluation
    gates: list[GateDecision]
    report: tuple[Path, Path]
    current_before: str
    promoted: str | None = None

    @property
    def current(self) -> str:
        return self.promoted or self.current_before


def run_pipeline(settings: PipelineSettings, reporter: Reporter | None = None) -> PipelineResult:
    """Run the five stages (module docstring); each is reported with its elapsed time.

    Raises what the stages raise (``LogConflictError`` for a logs folder made with other settings,
    ``PolicyError``, ``ConfigError``); everything finished before the error is kept and reused by the next run.
    """
    reporter = reporter or Reporter.silent()
    started = time.perf_counter()
    runs, logs, registry = settings.runs, settings.logs, settings.registry
    # a logs folder made with other settings: refused before stage 1 (`make demo` sets MAKE_DEMO: there it is RUNS=DIR)
    check(logs, settings.collection, option="RUNS=DIR (make demo's --runs)" if os.environ.get("MAKE_DEMO") else "--runs")
    with reporter.stage(f"1/5 simulate {settings.conversations:,} conversations -> {logs}"):
        simulation = simulate_logs(SimulateSettings(logs, settings.collection, settings.workers), reporter)
        if simulation.parts_reused and not simulation.parts_written:
            n = simulation.parts_reused
            reporter.line("  the one part was already there: reused" if n == 1 else f"  all {n} parts were already there: reused")
    turns = simulation.summary["turns"]
    trained = {}
    for i, candidate in enumerate(settings.candidates, 1):
        name = candidate.name
        with reporter.stage(f"2/5 train {name} ({i}/{len(settings.candidates)})"):
            if (registry / name / POLICY_FILE).is_file():
                reporter.line(f"  {name}: already in {registry}, reused (delete the folder to train it again)")
                trained[name] = False
                continue
            config = _train_config(candidate, settings.train_steps, turns)
            train_policy(TrainJob(logs, registry / name, config, settings.eval_conversations), reporter)
            trained[name] = True
    names = [c.name for c in settings.candidates]
    current = current_policy(registry)
    with reporter.stage(f"3/5 evaluate {', '.join(names)} and the current policy ({current}) on {logs}"):
        evaluation = evaluate_policies(EvaluateSettings(logs, tuple(dict.fromkeys([*names, current])), registry,
                                                        settings.ope, settings.truth_conversations), reporter)
        _write_json(runs / "evaluation.json", evaluation.report.to_dict())
        gate = replace(settings.gate, sim_conversations=settings.truth_conversations)
        gates = gate_candidates(evaluation, registry=registry, candidates=names, current=current, gate=gate,
                                truth=evaluation.report.truths(), reporter=reporter)
    with reporter.stage("4/5 report"):
        report = write_report(evaluation.report, runs / "report.html", gates=gates,
                              policy_folders=_policy_folders(evaluation.report.policies, registry))
    result = PipelineResult(settings, simulation, trained, evaluation, gates, report, current)
    with reporter.stage("5/5 promote"):
        passing = [g for g in gates if g.promote]
        if settings.promote:
            for g in gates:  # every refusal is recorded, as `segue policy promote` records it
                if not g.promote:
                    record_event(registry, {"action": "refused", "from": current, "to": g.candidate,
                                            "reason": "gate failed (pipeline): " + ", ".join(g.failed),
                                            "evidence": {"logs": str(logs), "decision": g.to_dict()}})
            if passing:
                best = max(passing, key=lambda g: g.improvement.ci[0])
                set_current(best.candidate, registry=registry, action="promote", reason="gate passed (pipeline)",
                            evidence={"logs": str(logs), "decision": best.to_dict()})
                result.promoted = best.candidate
    reporter.line(f"pipeline done in {format_seconds(time.perf_counter() - started)}")
    return result


def _train_config(candidate: Candidate, steps: int | None, transitions: int) -> TrainConfig:
    learner = learner_config(candidate.algo)
    batch = getattr(learner, "batch_size", 256)
    return TrainConfig(learner, candidate.features, steps if steps is not None else auto_steps(transitions, batch))


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)

