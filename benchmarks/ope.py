"""Off-policy evaluation against the simulator's truth, over independent log sets, in two logging settings.

Settings (``--setting``, both by default):

- ``rule``: the rule policy served with its randomized share 0.3 (``segue simulate --seed S``); candidates:
  policies trained with each learner on other rule logs (``rule-cql``, ``rule-bcq``, ``rule-bc``,
  ``rule-regressor``; training seed 1000). Support is thin: the learned policies are greedy.
- ``learned``: ``rule-cql`` served with its randomized share 0.3 (``segue simulate --policy rule-cql``), the
  round after it was promoted; candidates: ``rule-cql`` itself (the current policy) and the policies trained
  with each learner on other logs of that setting (``next-*``, training seed 1001).

For each setting and seed S = 1..``--seeds``: log ``--conversations`` conversations, then estimate every candidate
with every estimator (FQE Q models, ``--bootstrap`` resamples) and every interval and bound
(``evaluation.intervals``), and the risks (``evaluation.risk``). The truth: each candidate run on-policy for
``--truth-conversations`` simulated users drawn as the logs' users are. Prints one JSON object (``--markdown``: the
tables of BENCHMARKS.md): per setting, policy, estimator and metric the mean and median absolute relative error,
and per interval the share of seeds whose interval covers the truth, whose lower bound is below it, and the mean
width; the same for the hcope bound and the risks; and the off-policy selection metrics over the seeds
(Spearman rank correlation with the truth, regret of the top-1 choice and of the best of the top 3, ranked by
estimate and by lower bound).

    .venv/bin/python benchmarks/ope.py --seeds 20 --conversations 50000 --work runs/ope-bench17

``--q-ensemble K`` refits each FQE model K more times on resamples (``OPESettings.q_ensemble``) and keeps its
results apart (``results-ensembleK.jsonl``).

Resumable: logs, each policy's choices and Q models (``<work>/cache``) and per-seed results
(``<work>/results.jsonl``) are kept; ``--reestimate`` recomputes the estimates from the cache (after a change to
the estimators) without refitting anything; ``--summary`` only summarizes. The next seed's logs are simulated
in a second process while the current seed is evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEARNERS = ("cql", "bcq", "bc", "regressor")
CANDIDATES = {"rule": [f"rule-{a}" for a in LEARNERS], "learned": ["rule-cql"] + [f"next-{a}" for a in LEARNERS]}
SHARE = 0.3
SELECTION_METRIC = "success_rate"


def _segue(*args: str) -> None:
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "segue"), *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"segue {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _simulate_args(work: Path, setting: str, seed: int, conversations: int, out: Path) -> list[str]:
    args = ["simulate", "--conversations", str(conversations), "--seed", str(seed), "--exploration", str(SHARE), "--out", str(out)]
    if setting == "learned":
        args += ["--policy", str(work / "policies" / "rule-cql")]
    return args


def prepare(work: Path, conversations: int, settings: list[str]) -> None:
    """Training logs and the candidates (each learner's defaults), made once. The learned setting serves rule-cql."""
    needed = ["rule"] if settings == ["rule"] else ["rule", "learned"]
    for setting, seed in (("rule", 1000), ("learned", 1001)):
        if setting not in needed:
            continue
        logs = work / "train" / setting
        if not (logs / "manifest.json").exists() or not _complete(logs, conversations):
            print(f"training logs {setting} ...", file=sys.stderr)
            _segue(*_simulate_args(work, setting, seed, conversations, logs))
        prefix = "rule" if setting == "rule" else "next"
        for algo in LEARNERS:
            out = work / "policies" / f"{prefix}-{algo}"
            if not (out / "policy.json").exists():
                print(f"training {out.name} ...", file=sys.stderr)
                _segue("train", "--logs", str(logs), "--algo", algo, "--out", str(out), "--eval-conversations", "0")


def _complete(folder: Path, conversations: int) -> bool:
    from logs.store import read_manifest

    try:
        manifest = read_manifest(folder)
    except Exception:
        return False
    n_parts = manifest.collection.n_parts if manifest.collection else None
    return n_parts is not None and len(list(folder.glob("part-*.parquet"))) == n_parts and manifest.collection.conversations == conversations


def truth(work: Path, conversations: int, settings: list[str]) -> dict:
    from evaluation.evaluate import simulate_truth

    path = work / "truth.json"
    policies = sorted({p for s in settings for p in CANDIDATES[s]})
    key = {"policies": policies, "conversations": conversations}
    found = json.loads(path.read_text()) if path.exists() else None
    if found and found.get("key") == key:
        return found
    started = time.perf_counter()
    print(f"truth: {len(policies)} policies x {conversations:,} simulated users ...", file=sys.stderr)
    simulated = simulate_truth(policies, conversations=conversations, registry=work / "policies", seed=7)
    found = {"key": key, "truth": {n: t.to_dict() for n, t in simulated.items()}, "seconds": time.perf_counter() - started}
    path.write_text(json.dumps(found))
    return found


def _cached_inputs(work: Path, setting: str, seed: int, policy: str, data, catalog, fqe) -> tuple[np.ndarray, dict, dict]:
    """The policy's distribution at the logged states and its compact FQE Q models, from the cache or computed."""
    from evaluation.data import METRICS
    from evaluation.ope import compact_q, target_probabilities
    from evaluation.qmodel import fit_q
    from policy.registry import load_policy

    path = work / "cache" / f"{setting}-{seed}" / f"{policy}.npz"
    if path.exists():
        cached = np.load(path)
        return cached["target"], {m: (cached[f"q_{m}"], cached[f"v_{m}"]) for m in METRICS}, {}
    seconds = {}
    started = time.perf_counter()
    loaded, variant = load_policy(policy, catalog=catalog, registry=work / "policies")
    target = target_probabilities(loaded, variant, data)
    seconds["choices"] = time.perf_counter() - started
    started = time.perf_counter()
    fitted = fit_q("fqe", data, data.decided(target), fqe)
    seconds["fqe"] = time.perf_counter() - started
    compact = {m: compact_q(fitted[m], data, data.decided(target)) for m in METRICS}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, target=target, **{f"q_{m}": compact[m][0] for m in METRICS}, **{f"v_{m}": compact[m][1] for m in METRICS})
    os.replace(tmp, path)
    return target, compact, seconds


def evaluate_seed(work: Path, setting: str, seed: int, folder: Path, bootstrap: int, fqe_steps: int, q_ensemble: int = 0) -> dict:
    from evaluation.data import METRICS, OPEData
    from evaluation.ope import OPESettings, compact_q, evaluate_targets
    from evaluation.qmodel import FQESettings
    from logs.store import read_manifest
    from recommender.catalog import Catalog

    started = time.perf_counter()
    data = OPEData.from_logs(folder)
    catalog = Catalog.load(read_manifest(folder).catalog_path)
    fqe = FQESettings(steps=fqe_steps)
    targets, q_values, stages = {}, {}, {}
    for policy in CANDIDATES[setting]:
        targets[policy], compact, seconds = _cached_inputs(work, setting, seed, policy, data, catalog, fqe)
        q_values[policy] = {"fqe": compact}
        for k in range(q_ensemble):
            path = work / "cache" / f"{setting}-{seed}" / f"{policy}.member{k}.npz"
            if path.exists():
                cached = np.load(path)
                q_values[policy][f"fqe#{k}"] = {m: (cached[f"q_{m}"], cached[f"v_{m}"]) for m in METRICS}
        stages[policy] = seconds
    estimated = time.perf_counter()
    result = evaluate_targets(data, targets, OPESettings(bootstrap=bootstrap, seed=seed, fqe=fqe, q_ensemble=q_ensemble),
                              q_values=q_values)
    for policy in CANDIDATES[setting]:  # keep the ensemble's members (compact) for a re-estimate
        for k in range(q_ensemble):
            member = q_values[policy].get(f"fqe#{k}")
            path = work / "cache" / f"{setting}-{seed}" / f"{policy}.member{k}.npz"
            if member is not None and not path.exists():
                target = data.decided(targets[policy])
                compact = {m: compact_q(member[m], data, target) for m in METRICS}
                np.savez(path, **{f"q_{m}": compact[m][0] for m in METRICS}, **{f"v_{m}": compact[m][1] for m in METRICS})
    record = {"setting": setting, "seed": seed, "conversations": data.n_conversations,
              "on_policy": {str(m): v for m, v in result.on_policy.items()},
              "seconds": {"inputs": estimated - started, "estimators_bootstrap": time.perf_counter() - estimated, "policies": stages},
              "policies": {}}
    for name, entry in result.policies.items():
        d = entry.to_dict()
        record["policies"][name] = {k: d.get(k) for k in ("supported", "diagnostics", "estimators", "bounds", "risk")}
        record["policies"][name]["support"] = entry.support.message
    return record


def run(args) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, args.conversations, args.settings)
    truth(work, args.truth_conversations, args.settings)
    results = _results_path(work, args.q_ensemble)
    records = _records(results)
    if args.reestimate:
        records = {}
        results.unlink(missing_ok=True)
    jobs = [(setting, seed) for seed in range(args.first_seed, args.first_seed + args.seeds) for setting in args.settings]
    todo = [job for job in jobs if job not in records]
    pending: tuple | None = None  # the next job's logs, simulated in a second process

    def logs_for(job, wait: bool) -> Path:
        nonlocal pending
        setting, seed = job
        folder = work / "logs" / f"{setting}-{seed}"
        if pending and pending[0] == job:
            pending[1].wait()
            pending = None
        if not _complete(folder, args.conversations):
            if wait:
                _segue(*_simulate_args(work, setting, seed, args.conversations, folder))
            else:
                pending = (job, subprocess.Popen([str(ROOT / ".venv" / "bin" / "segue"),
                                                  *_simulate_args(work, setting, seed, args.conversations, folder)],
                                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return folder

    for i, job in enumerate(todo):
        folder = logs_for(job, wait=True)
        if i + 1 < len(todo):
            logs_for(todo[i + 1], wait=False)
        started = time.perf_counter()
        record = evaluate_seed(work, *job, folder, args.bootstrap, args.fqe_steps, args.q_ensemble)
        record["seconds"]["total"] = time.perf_counter() - started
        with open(results, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"{job[0]} seed {job[1]}: {record['seconds']['total']:.0f} s", file=sys.stderr)
    if pending:
        pending[1].wait()


def _results_path(work: Path, q_ensemble: int) -> Path:
    return work / ("results.jsonl" if not q_ensemble else f"results-ensemble{q_ensemble}.jsonl")


def _records(path: Path) -> dict:
    if not path.exists():
        return {}
    records = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        records[(r["setting"], r["seed"])] = r
    return records


# ------------------------------------------------------------------ summary
def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _spearman(a, b) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(spearmanr(a, b).statistic)


def summarize(records: dict, truth: dict) -> dict:
    true = {p: t["metrics"] for p, t in truth["truth"].items()}
    true_risk = {p: t.get("risk", {}) for p, t in truth["truth"].items()}
    out: dict = {"truth": {p: {**true[p], **true_risk[p]} for p in true}, "settings": {}}
    for setting in CANDIDATES:
        runs = [r for (s, _), r in sorted(records.items()) if s == setting]
        if any(p not in true for p in CANDIDATES[setting]):
            continue
        if not runs:
            continue
        summary = {"seeds": len(runs), "policies": {}, "selection": {},
                   "seconds_mean": _mean([r["seconds"].get("total") for r in runs])}
        for policy in CANDIDATES[setting]:
            entries = [r["policies"][policy] for r in runs if policy in r["policies"]]
            supported = [e for e in entries if e["supported"]]
            per = {"supported_share": len(supported) / len(entries) if entries else None,
                   "ess_mean": _mean([e["diagnostics"]["ess"] for e in supported]), "estimators": {}, "hcope": {}, "risk": {}}
            if supported:
                for estimator in supported[0]["estimators"]:
                    per["estimators"][estimator] = {m: _cells([e["estimators"][estimator][m] for e in supported], true[policy][m])
                                                    for m in supported[0]["estimators"][estimator]}
                for metric in supported[0]["bounds"]:
                    per["hcope"][metric] = _cells([{"estimate": None, "intervals": {"hcope": e["bounds"][metric]["hcope"]["interval"]}}
                                                   for e in supported], true[policy][metric])
                for name in supported[0].get("risk", {}):
                    if name in true_risk[policy]:
                        per["risk"][name] = _cells([e["risk"][name] for e in supported], true_risk[policy][name])
            summary["policies"][policy] = per
        summary["selection"] = _selection(runs, setting, true)
        out["settings"][setting] = summary
    return out


def _cells(estimates: list[dict], truth: float) -> dict:
    """Errors over seeds, and per interval: coverage, lower bound below the truth, upper bound above it, mean width."""
    errors = [(e["estimate"] - truth) / truth for e in estimates if e.get("estimate") is not None and truth]
    absolute = [e["estimate"] - truth for e in estimates if e.get("estimate") is not None]
    cell = {"mean_relative_error": _mean(errors), "median_abs_relative_error": float(np.median(np.abs(errors))) if errors else None,
            "mean_error": _mean(absolute), "median_abs_error": float(np.median(np.abs(absolute))) if absolute else None,
            "intervals": {}}
    for method in estimates[0].get("intervals", {}):
        pairs = [e["intervals"].get(method) for e in estimates]
        pairs = [p for p in pairs if p is not None]
        if not pairs:
            continue
        cell["intervals"][method] = {
            "defined": len(pairs) / len(estimates),
            "coverage": float(np.mean([lo <= truth <= hi for lo, hi in pairs])),
            "lower_below_truth": float(np.mean([lo <= truth for lo, _ in pairs])),
            "upper_above_truth": float(np.mean([hi >= truth for _, hi in pairs])),
            "width_relative": float(np.mean([(hi - lo) / truth for lo, hi in pairs])) if truth else None,
        }
    return cell


def _selection(runs: list[dict], setting: str, true: dict) -> dict:
    """Rank the candidates by estimate and by lower bound (success rate) per seed; Spearman and regret against the truth."""
    policies = CANDIDATES[setting]
    truth_values = {p: true[p][SELECTION_METRIC] for p in policies}
    best = max(truth_values.values())
    rankers = {"dr estimate": lambda e: e["estimators"]["dr"][SELECTION_METRIC]["estimate"],
               "wdr estimate": lambda e: e["estimators"]["wdr"][SELECTION_METRIC]["estimate"],
               "switch-dr estimate": lambda e: e["estimators"]["switch-dr"][SELECTION_METRIC]["estimate"],
               "dr percentile lower bound": lambda e: (e["estimators"]["dr"][SELECTION_METRIC]["intervals"].get("percentile") or [None])[0],
               "dr bca lower bound": lambda e: (e["estimators"]["dr"][SELECTION_METRIC]["intervals"].get("bca") or [None])[0],
               "hcope lower bound": lambda e: (e["bounds"][SELECTION_METRIC]["hcope"]["interval"] or [None])[0]}
    out = {"metric": SELECTION_METRIC, "candidates": len(policies), "truth": truth_values, "rankers": {}}
    for name, score in rankers.items():
        rho, regret1, regret3, chosen = [], [], [], []
        for r in runs:
            scores = {}
            for p in policies:
                e = r["policies"].get(p)
                if e and e["supported"]:
                    value = score(e)
                    if value is not None:
                        scores[p] = value
            if not scores:
                continue
            ranked = sorted(scores, key=scores.get, reverse=True)
            chosen.append(ranked[0])
            regret1.append(best - truth_values[ranked[0]])
            regret3.append(best - max(truth_values[p] for p in ranked[:3]))
            if len(scores) >= 3:
                rho.append(_spearman([scores[p] for p in scores], [truth_values[p] for p in scores]))
        out["rankers"][name] = {"spearman_mean": _mean(rho), "regret_top1_mean": _mean(regret1), "regret_top3_mean": _mean(regret3),
                                "seeds_with_a_choice": len(chosen),
                                "chosen": {p: chosen.count(p) for p in sorted(set(chosen))}}
    return out


def markdown(summary: dict) -> str:
    lines = []
    metrics = ("usefulness", "success_rate", "prompts")
    for setting, s in summary["settings"].items():
        lines.append(f"\n#### Logged by the {'rule' if setting == 'rule' else 'learned (rule-cql)'} policy with share {SHARE}: "
                     f"{s['seeds']} seeds\n")
        for policy, per in s["policies"].items():
            t = summary["truth"][policy]
            lines.append(f"\n**{policy}** (supported in {per['supported_share']:.0%} of seeds, mean ESS "
                         f"{(per['ess_mean'] or 0):,.0f}; truth: usefulness {t['usefulness']:.3f}, success {t['success_rate']:.3f}, "
                         f"prompts {t['prompts']:.2f})\n")
            lines.append("| estimator | interval | " + " | ".join(metrics) + " |")
            lines.append("| --- | --- | " + " | ".join("---" for _ in metrics) + " |")
            for estimator, cells in per["estimators"].items():
                first = True
                for method in cells[metrics[0]]["intervals"]:
                    row = [f"`{estimator}`" if first else "", method]
                    for m in metrics:
                        c = cells[m]
                        iv = c["intervals"].get(method)
                        err = (f"{c['mean_relative_error']:+.1%} / {c['median_abs_relative_error']:.1%} / " if first else "")
                        row.append(err + (f"{iv['coverage']:.0%} / {iv['lower_below_truth']:.0%} / {iv['width_relative']:.0%}"
                                          if iv else "-"))
                    lines.append("| " + " | ".join(row) + " |")
                    first = False
            row = ["hcope bound", "Thomas et al. 2015"]
            for m in metrics:
                iv = per["hcope"].get(m, {}).get("intervals", {}).get("hcope")
                row.append(f"{iv['coverage']:.0%} / {iv['lower_below_truth']:.0%} / {iv['width_relative']:.0%}" if iv else "-")
            lines.append("| " + " | ".join(row) + " |")
            for name, c in per["risk"].items():
                iv = c["intervals"].get("percentile")
                lines.append(f"| risk `{name}` (truth {t[name]:.3f}) | percentile | mean error {c['mean_error']:+.3f} / "
                             f"median abs {c['median_abs_error']:.3f} / "
                             + (f"coverage {iv['coverage']:.0%} / lower below {iv['lower_below_truth']:.0%}" if iv else "-")
                             + " | | |")
        sel = s["selection"]
        lines.append(f"\nOff-policy selection among {sel['candidates']} candidates by {sel['metric']} (truth: "
                     + ", ".join(f"{p} {v:.3f}" for p, v in sel["truth"].items()) + ")\n")
        lines.append("| ranked by | Spearman with truth | regret top-1 | regret best of top-3 | chosen |")
        lines.append("| --- | --- | --- | --- | --- |")
        for name, r in sel["rankers"].items():
            fmt = lambda x, f: format(x, f) if x is not None else "-"  # noqa: E731
            lines.append(f"| {name} | {fmt(r['spearman_mean'], '+.2f')} | {fmt(r['regret_top1_mean'], '.4f')} | "
                         f"{fmt(r['regret_top3_mean'], '.4f')} | " + ", ".join(f"{p} x{n}" for p, n in r["chosen"].items()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", action="append", dest="settings", choices=list(CANDIDATES))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--truth-conversations", type=int, default=50_000)
    parser.add_argument("--bootstrap", type=int, default=1_000)
    parser.add_argument("--fqe-steps", type=int, default=2_000)
    parser.add_argument("--q-ensemble", type=int, default=0, help="refit each Q model K times on resamples (its own results file)")
    parser.add_argument("--work", default="runs/ope-bench17")
    parser.add_argument("--reestimate", action="store_true", help="recompute every estimate from the cache")
    parser.add_argument("--summary", action="store_true", help="only summarize what is done")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.settings = args.settings or list(CANDIDATES)
    if not args.summary:
        run(args)
    work = Path(args.work)
    summary = summarize(_records(_results_path(work, args.q_ensemble)), json.loads((work / "truth.json").read_text()))
    print(markdown(summary) if args.markdown else json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
