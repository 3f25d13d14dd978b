"""``segue evaluate / report / policy promote|rollback|history|constant`` end to end on small logs."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from evaluation.data import METRICS
from tests.segue.in_process import segue_in_process

# 200 logged conversations leave an effective sample size of about 1 to 7 for these policies, under the default
# minimum of 10 (test_not_estimable_below_the_minimum_ess): the contract tests lower it
FAST = ["--bootstrap", "50", "--fqe-steps", "30", "--min-ess", "0"]


def run(*args):
    return segue_in_process(*args)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    for name, prompt in (("always-play", "play_sample"), ("always-genre", "ask_genre")):
        result = run("policy", "constant", prompt, "--out", folder / name)
        assert result.returncode == 0, result.stderr
    return folder


def test_evaluate_json_contract(small_logs, registry):
    result = run("evaluate", "--logs", small_logs, "--policy", "rule", "--policy", "always-play", "--registry", registry,
                 "--truth", "--truth-conversations", "40", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["policies"]) == {"rule", "always-play"}
    for entry in report["policies"].values():
        assert entry["supported"] is True
        assert {"is", "pdis", "wpdis", "dm", "dr", "wdr"} <= set(entry["estimators"])
        for per_metric in entry["estimators"].values():
            assert set(per_metric) == {"usefulness", "success_rate", "prompts"}
            for e in per_metric.values():
                assert isinstance(e["estimate"], float)
                lo, hi = e["ci"]  # 50 resamples of 200 conversations: every estimator has an interval
                assert lo <= hi and e["se"] >= 0
                assert e["intervals"]["t"] == e["ci"] and {"percentile", "bca"} <= set(e["intervals"])  # ci: the default t
        assert {"switch-dr", "dros"} <= set(entry["estimators"])
        assert entry["estimators"]["switch-dr"]["success_rate"]["detail"]["parameter"] == "tau"
        for metric, bounds in entry["bounds"].items():
            lo, hi = bounds["hcope"]["interval"]
            assert 0 <= lo <= hi, metric
        assert set(entry["risk"]) == {"abandoned", "cvar_usefulness", "cvar_prompts"}
        for name, risk in entry["risk"].items():  # every interval within what the risk can be
            for interval in filter(None, risk["intervals"].values()):
                assert 0.0 <= interval[0] <= interval[1] and (name != "abandoned" or interval[1] <= 1.0), (name, interval)
        assert set(entry["truth_detail"]["risk"]) == {"abandoned", "cvar_usefulness", "cvar_prompts"}
        assert set(entry["truth"]) == {"usefulness", "success_rate", "prompts"}
        assert all(isinstance(v, float) for v in entry["truth"].values())
        assert entry["diagnostics"]["ess"] > 0
    # the logging policy's own empirical values are reported beside the estimates
    assert report["on_policy"]["prompts"] > 1
    # off-policy selection between the two, judged against their truth
    by_estimate = report["selection"]["by"]["estimate"]
    assert sorted(by_estimate["ranking"]) == ["always-play", "rule"] and by_estimate["regret_top1"] >= 0


def test_evaluate_without_truth_reports_null(small_logs, registry):
    result = run("evaluate", "--logs", small_logs, "--policy", "always-genre", "--registry", registry, "--estimator", "is",
                 "--estimator", "wpdis", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["policies"]["always-genre"]
    assert entry["truth"] is None and set(entry["estimators"]) == {"is", "wpdis"}


def test_the_text_tables_explain_their_marks(small_logs, registry):
    """A newcomer met '+28.3% x' in the tables with no legend: each table that shows errors against the truth says
    what they are (and that a rate estimate is not clipped to [0, 1], when one falls outside)."""
    result = run("evaluate", "--logs", small_logs, "--policy", "always-play", "--registry", registry, "--estimator", "is",
                 "--estimator", "wis", "--truth", "--truth-conversations", "40", *FAST)
    assert result.returncode == 0, result.stderr
    assert "error relative to the simulator truth; x: the interval misses the truth" in result.stdout
    outside = "estimates are not clipped" in " ".join(result.stdout.split())  # there exactly when one reads so:
    report = json.loads(run("evaluate", "--logs", small_logs, "--policy", "always-play", "--registry", registry,
                            "--estimator", "is", "--estimator", "wis", "--json", *FAST).stdout)
    values = [(metric, v) for e in report["policies"]["always-play"]["estimators"].values() for metric in METRICS
              for v in (e[metric]["estimate"], *(e[metric]["ci"] or ()))]
    assert outside == any(v is not None and (not 0 <= v <= 1 if metric == "success_rate" else v < 0) for metric, v in values)


@pytest.mark.parametrize("args, message", [
    (["--estimator", "magic"], "unknown estimator 'magic'"),
    (["--q-model", "oracle"], "--q-model must be among"),
    (["--bootstrap", "-3"], "--bootstrap must be between"),
    (["--interval", "hcope"], "--interval must be one of percentile, bca, t, bootstrap-t, got 'hcope'"),
    (["--q-ensemble", "-1"], "--q-ensemble must be between 0 and 100, got -1"),
    (["--policy", "nope"], "no policy 'nope'"),
])
def test_evaluate_bad_input_is_one_clear_line(small_logs, registry, args, message):
    result = segue_in_process("evaluate", "--logs", small_logs, "--policy", "rule", "--registry", registry, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_evaluate_missing_logs(tmp_path, registry):
    result = segue_in_process("evaluate", "--logs", tmp_path / "none", "--policy", "rule", "--registry", registry)
    assert result.returncode == 2 and "log folder not found" in result.stderr and "Traceback" not in result.stderr


def test_gate_refuses_a_policy_that_always_asks_the_same_prompt(small_logs, registry):
    result = run("policy", "promote", "always-play", "--logs", small_logs, "--registry", registry, "--sim-conversations", "40",
                 "--json", *FAST)
    assert result.returncode == 1, result.stderr
    decision = json.loads(result.stdout)
    assert decision["promote"] is False and "no_collapse" in decision["failed"]
    assert "refused" in result.stderr and "rule remains current" in result.stderr
    history = json.loads(run("policy", "history", "--registry", registry, "--json").stdout)
    assert history["current"] == "rule"
    assert history["history"][-1]["action"] == "refused" and history["history"][-1]["to"] == "always-play"


def test_rollback_without_promotion_is_a_clear_error(tmp_path):
    result = segue_in_process("policy", "rollback", "--registry", tmp_path)
    assert result.returncode == 2 and "nothing to roll back" in result.stderr


def test_report_is_self_contained_and_renders(small_logs, registry, tmp_path):
    out = tmp_path / "report.html"
    result = run("report", "--logs", small_logs, "--policy", "always-play", "--policy", "always-genre", "--registry", registry,
                 "--truth-conversations", "40", "--out", out, *FAST)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    markdown = out.with_suffix(".md").read_text()
    assert page.count("src='data:image/png;base64,") >= 6
    assert "http://" not in page and "https://" not in page  # opens offline: nothing fetched
    for text in ("Deployment gate", "no_collapse", "simulator truth", "effective sample size"):
        assert text in page
    assert "| always-play over rule | refuse |" in markdown
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no headless Chromium on this machine (make test installs Debian's chromium when it can)")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    images = page.count("<img ")
    assert f'data-images-rendered="{images}/{images}"' in dom.stdout


def test_report_refuses_a_non_html_name(small_logs, registry, tmp_path):
    result = segue_in_process("report", "--logs", small_logs, "--policy", "rule", "--registry", registry, "--out", tmp_path / "r.pdf")
    assert result.returncode == 2 and "--out must name an .html file" in result.stderr


def test_not_estimable_below_the_minimum_ess(small_logs, registry):
    """With the default minimum (10 effective conversations) the 200 small logs estimate neither policy: each is
    reported as not estimable, with the reason, and no number."""
    result = run("evaluate", "--logs", small_logs, "--policy", "always-play", "--registry", registry, "--estimator", "is",
                 "--bootstrap", "20", "--json")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["policies"]["always-play"]
    assert entry["supported"] is False and entry["estimators"] == {}
    assert entry["support"]["message"].startswith("not estimable: the importance weights leave an effective sample size of")
    assert 0 < entry["diagnostics"]["ess"] < 10


def test_a_cache_folder_that_cannot_be_written_is_said_once(tmp_path, capsys):
    """--cache /dev/null/x ran and exited 0 with no word (a newcomer's finding): the fits were silently not kept."""
    from segue.cmd_eval import _cache

    (tmp_path / "file").write_text("")
    assert _cache(str(tmp_path / "file" / "x")) is None
    said = capsys.readouterr().err
    assert said.count("warning:") == 1 and f"{tmp_path / 'file'} is not a folder; nothing is cached" in said
    assert _cache(str(tmp_path / "new" / "cache")) == tmp_path / "new" / "cache" and not (tmp_path / "new").exists()
    assert _cache("off") is None and capsys.readouterr().err == ""


def test_a_report_on_the_current_policy_alone_has_no_gate_to_run(small_logs, registry, tmp_path):
    """`segue report --policy rule` (rule current) failed with "each --policy once, got rule, rule": the gate's
    guardrails simulated the current policy twice. The current policy is no candidate of its own."""
    from evaluation.ope import OPESettings
    from evaluation.qmodel import FQESettings
    from segue.workflows import EvaluateSettings
    from segue.workflows.evaluate import ReportSettings, write_evaluation_report

    ope = OPESettings(estimators=("is", "dr"), bootstrap=20, fqe=FQESettings(steps=30), min_ess=0)
    html, markdown = write_evaluation_report(ReportSettings(EvaluateSettings(small_logs, ("rule",), registry, ope),
                                                            tmp_path / "r.html"))
    assert html.is_file() and "rule" in markdown.read_text() and "over rule" not in markdown.read_text()
