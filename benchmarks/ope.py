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
    found = json.loads(path.read_text()) if path.exists() else None
    if not found or found["key"]["conversations"] != conversations:
        found = {"key": {"policies": [], "conversations": conversations}, "truth": {}, "seconds": 0.0}
    missing = [p for p in policies if p not in found["truth"]]
    if not missing:
        return found
    started = time.perf_counter()
    print(f"truth: {len(missing)} policies x {conversations:,} simulated users ...", file=sys.stderr)
    simulated = simulate_truth(missing, conversations=conversations, registry=work / "policies", seed=7)
    found["truth"].update({n: t.to_dict() for n, t in simulated.items()})  # the same users for every policy (seed 7)
    found["key"]["policies"] = sorted(found["truth"])
    found["seconds"] += time.perf_counter() - started
    tmp = path.with_name(".truth.json.tmp")
    tmp.write_text(json.dumps(found))
    os.replace(tmp, path)
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
        summary["coverage_by_ess"] = _coverage_by_ess(runs, setting, true)
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


ESS_BINS = ((10, 100), (100, 1_000), (1_000, float("inf")))


def _coverage_by_ess(runs: list[dict], setting: str, true: dict, estimator: str = "dr") -> list[dict]:
    """Coverage of the estimator's intervals by the effective sample size of the (candidate, seed)."""
    out = []
    for lo, hi in ESS_BINS:
        cases = [(e, p) for r in runs for p, e in r["policies"].items()
                 if p in CANDIDATES[setting] and e["supported"] and lo <= e["diagnostics"]["ess"] < hi]
        row = {"ess": [lo, hi if np.isfinite(hi) else None], "cases": len(cases), "coverage": {}}
        for metric in ("success_rate", "usefulness"):
            for method in ("percentile", "t"):
                hits = [iv[0] <= true[p][metric] <= iv[1] for e, p in cases
                        if (iv := e["estimators"][estimator][metric]["intervals"].get(method))]
                row["coverage"][f"{metric} {method}"] = _mean(hits)
        out.append(row)
    return out


def _selection(runs: list[dict], setting: str, true: dict) -> dict:
    """Rank the candidates by estimate and by lower bound (success rate) per seed (``evaluation.selection``):
    Spearman and regret against the truth, averaged over seeds."""
    from evaluation.selection import select

    policies = CANDIDATES[setting]
    truth_values = {p: true[p][SELECTION_METRIC] for p in policies}
    rankers = {"dr estimate": lambda e: e["estimators"]["dr"][SELECTION_METRIC]["estimate"],
               "wdr estimate": lambda e: e["estimators"]["wdr"][SELECTION_METRIC]["estimate"],
               "switch-dr estimate": lambda e: e["estimators"]["switch-dr"][SELECTION_METRIC]["estimate"],
               "dr percentile lower bound": lambda e: (e["estimators"]["dr"][SELECTION_METRIC]["intervals"].get("percentile") or [None])[0],
               "dr bca lower bound": lambda e: (e["estimators"]["dr"][SELECTION_METRIC]["intervals"].get("bca") or [None])[0],
               "hcope lower bound": lambda e: (e["bounds"][SELECTION_METRIC]["hcope"]["interval"] or [None])[0]}
    out = {"metric": SELECTION_METRIC, "candidates": len(policies), "truth": truth_values, "rankers": {}}
    for name, score in rankers.items():
        chosen = []
        for r in runs:
            scores = {p: v for p in policies if (e := r["policies"].get(p)) and e["supported"] and (v := score(e)) is not None}
            if scores:
                chosen.append(select(scores, truth_values, k=3))
        out["rankers"][name] = {"spearman_mean": _mean([c.spearman for c in chosen]),
                                "regret_top1_mean": _mean([c.regret_top1 for c in chosen]),
                                "regret_top3_mean": _mean([c.regret_top_k for c in chosen]),
                                "seeds_with_a_choice": len(chosen),
                                "chosen": {p: sum(c.ranking[0] == p for c in chosen) for p in sorted({c.ranking[0] for c in chosen})}}
    return out


def _pooled(per_policy: list[dict], metric: str, method: str) -> dict | None:
    """Mean over candidates of one estimator's cells for one metric and interval (each candidate weighs the same)."""
    cells = [p[metric] for p in per_policy if metric in p]
    ivs = [c["intervals"].get(method) for c in cells if c["intervals"].get(method)]
    if not ivs:
        return None
    return {"median_abs": _mean([c["median_abs_relative_error"] for c in cells]),
            "coverage": _mean([i["coverage"] for i in ivs]), "lower": _mean([i["lower_below_truth"] for i in ivs]),
            "width": _mean([i["width_relative"] for i in ivs])}


def markdown(summary: dict) -> str:
    """The tables of BENCHMARKS.md: per setting, the candidates, every estimator x interval pooled over candidates,
    the risks, and the selection metrics."""
    lines = []
    pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
    for setting, s in summary["settings"].items():
        policies = s["policies"]
        lines.append(f"\n#### Logged by the {'rule' if setting == 'rule' else 'learned (rule-cql)'} policy with its randomized share "
                     f"{SHARE}: {s['seeds']} seeds x 50,000 conversations\n")
        lines.append("| candidate | truth: success / usefulness / prompts | estimable in | mean ESS |")
        lines.append("| --- | --- | --- | --- |")
        for policy, per in policies.items():
            t = summary["truth"][policy]
            lines.append(f"| {policy} | {t['success_rate']:.3f} / {t['usefulness']:.3f} / {t['prompts']:.2f} | "
                         f"{pct(per['supported_share'])} of seeds | {(per['ess_mean'] or 0):,.0f} |")
        lines.append("\nPooled over the candidates (each weighs the same): median absolute relative error; then per interval "
                     "the share of (candidate, seed) whose 95% interval covers the truth / whose lower bound is below it / "
                     "the mean width relative to the truth.\n")
        lines.append("| estimator | interval | success: error | success: covers / lower below / width | usefulness: error | "
                     "usefulness: covers / lower below / width | prompts: covers |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
        estimators = next((list(p["estimators"]) for p in policies.values() if p["estimators"]), [])
        for estimator in estimators:
            cells = [p["estimators"][estimator] for p in policies.values() if estimator in p["estimators"]]
            methods = list(cells[0]["success_rate"]["intervals"])
            for k, method in enumerate(methods):
                sr, us, pr = (_pooled(cells, m, method) for m in ("success_rate", "usefulness", "prompts"))
                row = [f"`{estimator}`" if k == 0 else "", method,
                       pct(sr["median_abs"]) if k == 0 and sr else "",
                       f"{pct(sr['coverage'])} / {pct(sr['lower'])} / {pct(sr['width'])}" if sr else "-",
                       pct(us["median_abs"]) if k == 0 and us else "",
                       f"{pct(us['coverage'])} / {pct(us['lower'])} / {pct(us['width'])}" if us else "-",
                       pct(pr["coverage"]) if pr else "-"]
                lines.append("| " + " | ".join(row) + " |")
        hc = [p["hcope"] for p in policies.values() if p["hcope"]]
        if hc:
            sr, us, pr = (_pooled(hc, m, "hcope") for m in ("success_rate", "usefulness", "prompts"))
            lines.append(f"| hcope bound | Thomas et al. 2015 | | {pct(sr['coverage'])} / {pct(sr['lower'])} / {pct(sr['width'])} | | "
                         f"{pct(us['coverage'])} / {pct(us['lower'])} / {pct(us['width'])} | {pct(pr['coverage'])} |")
        lines.append("\n`dr`'s coverage by the effective sample size of the (candidate, seed):\n")
        lines.append("| ESS | cases | success: percentile / t | usefulness: percentile / t |")
        lines.append("| --- | --- | --- | --- |")
        for row in s["coverage_by_ess"]:
            c = row["coverage"]
            hi = f"{row['ess'][1]:,}" if row["ess"][1] else "..."
            lines.append(f"| {row['ess'][0]:,} - {hi} | {row['cases']} | {pct(c['success_rate percentile'])} / {pct(c['success_rate t'])} | "
                         f"{pct(c['usefulness percentile'])} / {pct(c['usefulness t'])} |")
        lines.append("\nRisks (weighted importance sampling, percentile interval): truth / mean estimate error / coverage\n")
        lines.append("| candidate | abandoned share | CVaR 10% usefulness (worst) | CVaR 10% prompts (longest) |")
        lines.append("| --- | --- | --- | --- |")
        for policy, per in policies.items():
            t = summary["truth"][policy]
            row = [policy]
            for name in ("abandoned", "cvar_usefulness", "cvar_prompts"):
                c = per["risk"].get(name)
                iv = (c or {}).get("intervals", {}).get("percentile")
                row.append(f"{t[name]:.3f} / {c['mean_error']:+.3f} / {pct(iv['coverage']) if iv else '-'}" if c else "-")
            lines.append("| " + " | ".join(row) + " |")
        sel = s["selection"]
        lines.append(f"\nOff-policy selection among {sel['candidates']} candidates by {sel['metric']} (truth: "
                     + ", ".join(f"{p} {v:.3f}" for p, v in sel["truth"].items()) + "); a candidate not estimable "
                     "on a seed cannot be chosen there\n")
        lines.append("| ranked by | Spearman with truth (mean) | regret of top-1 (mean) | regret of best of top-3 | chosen |")
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
