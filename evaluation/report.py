"""Evaluation reports: one self-contained HTML file (plots embedded as PNG data) and a Markdown summary.

The page opens offline: no script, font or image is fetched from anywhere.
It shows, per policy: every estimator's estimate with its interval next to
the simulator's truth, relative errors and coverage (so an estimator with
high variance or bias shows as such), the importance-weight diagnostics,
the support check, which prompts the policy asks, success and prompts per
user segment, learning curves where training logged them, and the gate's
decisions with each condition.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from .data import METRICS, UNCLIPPED_NOTE, Metric
from .results import EvaluationReport, GateDecision, PolicyEstimates

__all__ = ["write_report", "render_html", "render_markdown"]

_METRIC_LABEL = {"usefulness": "usefulness / conversation", "success_rate": "success rate", "prompts": "prompts / conversation"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _estimates_plot(report: EvaluationReport, metric: Metric) -> str:
    plt = _plt()
    policies = [p for p, e in report.policies.items() if e.supported]
    fig, axes = plt.subplots(1, max(1, len(policies)), figsize=(4.2 * max(1, len(policies)), 3.4), squeeze=False)
    for ax, policy in zip(axes[0], policies):
        entry = report.policies[policy]
        names = list(entry.estimators)
        cells = [entry.estimators[n][metric] for n in names]
        v = np.array([np.nan if c.estimate is None else c.estimate for c in cells], dtype=float)
        ci = np.array([c.ci if c.ci else [x, x] for c, x in zip(cells, v)], dtype=float)  # no interval: a bare point
        y = np.arange(len(names))
        # the interval as a line of its own: a percentile interval need not contain the estimate (few resamples)
        ax.hlines(y, ci[:, 0], ci[:, 1], color="#1f5fa8")
        ax.plot(ci.ravel(), np.repeat(y, 2), "|", color="#1f5fa8", markersize=8)
        ax.plot(v, y, "o", color="#1f5fa8")
        if entry.truth is not None:
            ax.axvline(entry.truth.metrics[metric], color="#c0392b", linestyle="--", label="simulator truth")
            ax.legend(loc="lower right", fontsize=7)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_title(policy, fontsize=9)
        ax.set_xlabel(_METRIC_LABEL[metric], fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{_METRIC_LABEL[metric]}: estimate and interval per estimator", fontsize=10)
    return _png(fig)


def _error_plot(report: EvaluationReport) -> str | None:
    plt = _plt()
    rows = [(p, e) for p, e in report.policies.items() if e.errors]
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3.2), squeeze=False)
    for ax, metric in zip(axes[0], METRICS):
        width = 0.8 / len(rows)
        names = list(rows[0][1].errors)
        x = np.arange(len(names))
        for i, (policy, entry) in enumerate(rows):
            err = [entry.errors[n][metric].relative_error for n in names]
            ax.bar(x + i * width, [100 * (e if e is not None else np.nan) for e in err], width, label=policy)
        ax.axhline(0, color="black", linewidth=0.6)
        for bound in (-5, 5):
            ax.axhline(bound, color="#c0392b", linewidth=0.6, linestyle=":")
        ax.set_xticks(x + 0.4 - width / 2, names, fontsize=7)
        ax.set_title(_METRIC_LABEL[metric], fontsize=9)
        ax.set_ylabel("relative error vs truth (%)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("relative error of each estimator (dotted: +-5%)", fontsize=10)
    return _png(fig)


def _prompt_plot(report: EvaluationReport) -> str:
    plt = _plt()
    policies = list(report.policies)
    prompts = list(next(iter(report.policies.values())).prompt_share)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / len(policies)
    x = np.arange(len(prompts))
    for i, policy in enumerate(policies):
        entry = report.policies[policy]
        share = entry.truth.prompt_share if entry.truth is not None else entry.prompt_share
        ax.bar(x + i * width, [share[p] for p in prompts], width, label=policy)
    ax.set_xticks(x + 0.4 - width / 2, prompts, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("share of prompts", fontsize=8)
    source = "in the simulator" if report.truths() else "at the logged states"
    ax.set_title(f"which prompts each policy asks ({source})", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig)


def _persona_plot(report: EvaluationReport) -> str | None:
    plt = _plt()
    rows = [(p, e) for p, e in report.policies.items() if e.truth is not None and e.supported]
    if not rows:
        return None
    personas = sorted({name for _, e in rows for name in e.truth.personas})
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, (metric, key) in zip(axes, ((Metric.SUCCESS_RATE, "success_rate"), (Metric.PROMPTS, "mean_prompts"))):
        width = 0.8 / (2 * len(rows))
        x = np.arange(len(personas))
        for i, (policy, entry) in enumerate(rows):
            truth = [entry.truth.personas.get(p, {}).get(key, np.nan) for p in personas]
            segments = entry.personas
            dr = [segments[p].estimators.get("dr", {}).get(metric) if p in segments else None for p in personas]
            ax.bar(x + (2 * i) * width, truth, width, label=f"{policy} truth")
            ax.bar(x + (2 * i + 1) * width, [np.nan if v is None else v for v in dr], width, label=f"{policy} DR", alpha=0.6)
        ax.set_xticks(x + 0.4 - width / 2, personas)
        ax.set_title(_METRIC_LABEL[metric] + " per user segment", fontsize=9)
    axes[1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def _learning_plot(curves: dict[str, list[tuple[float, float]]]) -> str | None:
    if not curves:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 2.8), squeeze=False)
    for ax, (name, points) in zip(axes[0], curves.items()):  # one panel each: steps and boosting iterations differ in scale
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker=".")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training step" if xs[-1] > 1_000 else "boosting iteration", fontsize=8)
    axes[0][0].set_ylabel("training loss (as logged)", fontsize=8)
    fig.suptitle("learning curves", fontsize=10)
    return _png(fig)


def learning_curves(folders: dict[str, Path | None]) -> dict[str, list[tuple[float, float]]]:
    """Loss per step from d3rlpy's logs (``d3rlpy_logs/fit/loss.csv``) or the regressor's scores."""
    curves = {}
    for name, folder in folders.items():
        if folder is None:
            continue
        loss = Path(folder) / "d3rlpy_logs" / "fit" / "loss.csv"
        if loss.is_file():
            with open(loss) as handle:
                points = [(float(row[1]), float(row[2])) for row in csv.reader(handle) if len(row) >= 3]
            if points:
                curves[name] = points
            continue
        model = Path(folder) / "model.pkl"
        if model.is_file():
            import pickle

            with open(model, "rb") as handle:
                regressor = pickle.load(handle)
            scores = getattr(regressor, "train_score_", None)
            if scores is not None and len(scores):
                curves[name] = [(float(i), float(-s)) for i, s in enumerate(scores)]  # squared-error loss = -score
    return curves


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(ci, digits: int = 3) -> str:
    return "-" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _estimate_rows(entry: PolicyEstimates) -> list[list[str]]:
    rows = []
    for name, per_metric in entry.estimators.items():
        row = [name]
        for metric in METRICS:
            e = per_metric[metric]
            cell = f"{_fmt(e.estimate)} {_ci(e.ci)}"
            err = (entry.errors or {}).get(name, {}).get(metric)
            if err and err.relative_error is not None:
                cell += f" ({err.relative_error:+.1%}{'' if err.covered else ', misses truth'})"
            row.append(cell)
        rows.append(row)
    bounds = [((entry.bounds.get(m) or {}).get("hcope") or {}).get("interval") for m in METRICS]
    if any(bounds):
        rows.append(["hcope bound (Thomas et al. 2015, a guarantee)"] + [_ci(b) for b in bounds])
    if entry.truth is not None:
        t = entry.truth
        rows.append([f"simulator truth ({t.conversations:,} conversations)" if t.conversations else "simulator truth"]
                    + [f"{_fmt(t.metrics[m])} {_ci(t.ci.get(m))}" for m in METRICS])
    return rows


def _risk_rows(report: EvaluationReport) -> list[list[str]]:
    """Per policy: each risk's estimate with its interval (and the truth, when run)."""
    rows = []
    for policy, entry in report.policies.items():
        for name, e in entry.risk.items():
            truth = entry.truth.risk.get(name) if entry.truth is not None else None
            missed = truth is not None and e.covers(truth) is False
            rows.append([policy, name, f"{_fmt(e.estimate)} {_ci(e.ci)}", _fmt(truth) + (" (misses truth)" if missed else "")])
    return rows


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _gate_rows(gates: list[GateDecision]) -> list[list[str]]:
    rows = []
    for g in gates:
        verdict = "promote" if g.promote else "refuse"
        for c in g.conditions:
            rows.append([f"{g.candidate} over {g.current}", verdict, c.name, "pass" if c.passed else "FAIL", c.detail])
    return rows


def _diagnostic_rows(report: EvaluationReport) -> list[list[str]]:
    rows = []
    n = report.conversations
    for policy, entry in report.policies.items():
        d = entry.diagnostics
        if not entry.supported or not d:
            rows.append([policy, "-", "-", "-", "-", entry.support.message])
            continue
        rows.append([policy, f"{d.ess:.0f} of {n:,} ({d.ess_share:.2%})", f"{d.zero_weight_share:.1%}",
                     f"{d.weight_max:.1f}", f"{d.weight_mean:.3f}", entry.support.message])
    return rows


def _warnings(report: EvaluationReport) -> list[str]:
    notes = []
    for policy, entry in report.policies.items():
        if not entry.supported:
            message = entry.support.message
            notes.append(f"{policy}: {message}." if message.startswith(("not estimable", "unsupported")) else
                         f"{policy} is not estimated: {message}.")
            continue
        d = entry.diagnostics
        if d and d.ess_share < 0.02:
            notes.append(f"{policy}: effective sample size {d.ess:.0f} of {report.conversations:,} conversations "
                         f"({d.ess_share:.2%}); importance-sampling estimates have high variance and their bootstrap "
                         f"intervals may be too narrow (heavy-tailed weights).")
    outside = [f"{policy} {name} {metric}" for policy, entry in report.policies.items() if entry.supported
               for name, per_metric in entry.estimators.items() for metric in METRICS
               if any(metric.outside(v) for v in (per_metric[metric].estimate, *(per_metric[metric].ci or ())))]
    if outside:
        notes.append(f"{UNCLIPPED_NOTE[0].upper()}{UNCLIPPED_NOTE[1:]}: here {', '.join(outside[:6])}"
                     f"{f' and {len(outside) - 6} more' if len(outside) > 6 else ''}.")
    if any("dm" in e.estimators for e in report.policies.values()):
        notes.append("dm's interval resamples conversations around one fitted Q model; it does not include the model's own "
                     "error, so a biased Q model gives a narrow interval around the wrong value.")
    return notes


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.2em; }
.note { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; margin: 0.4em 0; }
"""

# Marks, in the page itself, how many embedded plots decoded (read by the headless-browser check).
_SELF_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-rendered', ok + '/' + imgs.length);
});
</script>"""


def render_html(report: EvaluationReport, gates: list[GateDecision], plots: dict[str, str | None]) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Segue off-policy evaluation</title>"
             f"<style>{_CSS}</style></head><body>"]
    parts.append("<h1>Segue off-policy evaluation</h1>")
    parts.append(f"<p>Logs <code>{html.escape(report.logs)}</code>: {report.conversations:,} conversations, "
                 f"{report.turns:,} prompts; logging policy: {html.escape(json.dumps(report.logging_policy))}; "
                 f"on the logs: {', '.join(f'{_METRIC_LABEL[m]} {v:.3f}' for m, v in report.on_policy.items())}. "
                 f"{report.settings['bootstrap']:,} bootstrap resamples of conversations, "
                 f"{report.settings['confidence']:.0%} percentile intervals; Q models: {', '.join(report.settings['q_models'])}.</p>")
    for note in _warnings(report):
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    if gates:
        parts.append("<h2>Deployment gate</h2>")
        parts.append(_html_table(["candidate", "decision", "condition", "result", "detail"], _gate_rows(gates)))
    parts.append("<h2>Estimates, intervals and the simulator's truth</h2>")
    for policy, entry in report.policies.items():
        parts.append(f"<h3>{html.escape(policy)}</h3>")
        if not entry.supported:
            parts.append(f"<p class='note'>{html.escape(entry.support.message)}</p>")
            continue
        parts.append(_html_table(["estimator"] + [_METRIC_LABEL[m] for m in METRICS], _estimate_rows(entry)))
    for metric in METRICS:
        if plots.get(f"estimates_{metric}"):
            parts.append(f"<img alt='estimates of {metric}' src='data:image/png;base64,{plots[f'estimates_{metric}']}'>")
    if plots.get("errors"):
        parts.append("<h2>Relative error per estimator</h2>")
        parts.append(f"<img alt='relative errors' src='data:image/png;base64,{plots['errors']}'>")
    if _risk_rows(report):
        parts.append("<h2>Risk: abandoned conversations and the worst 10% (CVaR)</h2>")
        parts.append(_html_table(["policy", "risk", "estimate [interval]", "simulator truth"], _risk_rows(report)))
    parts.append("<h2>Importance weights and support</h2>")
    parts.append(_html_table(["policy", "effective sample size", "conversations with weight 0", "max weight", "mean weight", "support"],
                             _diagnostic_rows(report)))
    parts.append("<h2>Prompts asked</h2>")
    parts.append(f"<img alt='prompt distribution' src='data:image/png;base64,{plots['prompts']}'>")
    if plots.get("personas"):
        parts.append("<h2>Per user segment</h2>")
        parts.append(f"<img alt='per segment' src='data:image/png;base64,{plots['personas']}'>")
    if plots.get("learning"):
        parts.append("<h2>Learning curves</h2>")
        parts.append(f"<img alt='learning curves' src='data:image/png;base64,{plots['learning']}'>")
    parts.append(_SELF_CHECK)
    parts.append("</body></html>")
    return "".join(parts)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: EvaluationReport, gates: list[GateDecision]) -> str:
    out = ["# Segue off-policy evaluation", "",
           f"Logs `{report.logs}`: {report.conversations:,} conversations, {report.turns:,} prompts; "
           f"{report.settings['bootstrap']:,} bootstrap resamples, {report.settings['confidence']:.0%} intervals.", ""]
    out += [f"> {note}" for note in _warnings(report)]
    if gates:
        out += ["", "## Deployment gate", "", _md_table(["candidate", "decision", "condition", "result", "detail"], _gate_rows(gates))]
    for policy, entry in report.policies.items():
        out += ["", f"## {policy}", ""]
        if not entry.supported:
            out.append(entry.support.message)
            continue
        out.append(_md_table(["estimator"] + [_METRIC_LABEL[m] for m in METRICS], _estimate_rows(entry)))
    if _risk_rows(report):
        out += ["", "## Risk: abandoned conversations and the worst 10% (CVaR)", "",
                _md_table(["policy", "risk", "estimate [interval]", "simulator truth"], _risk_rows(report))]
    out += ["", "## Importance weights and support", "",
            _md_table(["policy", "effective sample size", "weight 0", "max weight", "mean weight", "support"], _diagnostic_rows(report)), ""]
    return "\n".join(out)


def write_report(report: EvaluationReport, out: Path, *, gates: list[GateDecision] | None = None,
                 policy_folders: dict | None = None) -> tuple[Path, Path]:
    """Write ``out`` (HTML) and the Markdown summary beside it (same name, ``.md``), each atomically.

    ``policy_folders``: policy -> its folder (None for ``rule``), for the learning curves.
    """
    out = Path(out)
    gates = gates or []
    plots = {f"estimates_{m}": _estimates_plot(report, m) for m in METRICS}
    plots["errors"] = _error_plot(report)
    plots["prompts"] = _prompt_plot(report)
    plots["personas"] = _persona_plot(report)
    plots["learning"] = _learning_plot(learning_curves(policy_folders or {}))
    markdown = out.with_suffix(".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((out, render_html(report, gates, plots)), (markdown, render_markdown(report, gates))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return out, markdown
