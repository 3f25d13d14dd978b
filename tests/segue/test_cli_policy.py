import json

import pytest

from tests.conftest import TRAINED
from tests.segue.in_process import segue_in_process


def run(*args):
    return segue_in_process(*args)


def test_train_json_contract(small_logs, tmp_path):
    result = run("train", "--logs", small_logs, "--algo", "regressor", "--features", "history",
                 "--out", tmp_path / "reg-history", "--eval-conversations", "60", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["algo"] == "regressor" and record["features"] == "history"
    assert record["feature_version"] == "history-v1-g9" and record["prompt_catalogue_version"] == "1"
    assert record["logs"]["conversations"] == 200 and len(record["logs"]["fingerprint"]) == 16
    assert 0 <= record["evaluation"]["simulator"]["success_rate"] <= 1
    assert record["config"]["learner"]["max_iter"] == 300 and record["config"]["algo"] == "regressor"
    assert json.loads((tmp_path / "reg-history" / "policy.json").read_text()) == record


@pytest.fixture(scope="module")
def registry(trained_registry):
    """The session's shared registry (tests/conftest.py)."""
    return trained_registry[0]


def test_ab_json_contract(registry):
    result = run("ab", "--policy", "rule", "--policy", "regressor-history", "--conversations", "40", "--seeds", "2",
                 "--registry", registry, "--workers", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["policies"]) == {"rule", "regressor-history"}
    for figures in report["policies"].values():
        for key in ("success_rate", "mean_prompts", "usefulness"):
            assert isinstance(figures[key], float)
            lo, hi = figures[f"{key}_ci"]
            assert lo <= figures[key] <= hi
        assert sum(figures["prompt_share"].values()) == pytest.approx(1.0)
        assert len(figures["per_seed"]) == 2
    assert report["reference"] == "rule"
    learned, rule = report["policies"]["regressor-history"], report["policies"]["rule"]
    for key, vs in (("success_rate", "success_rate"), ("mean_prompts", "mean_prompts"), ("usefulness", "usefulness")):
        relative = learned["vs_reference"][vs]  # the paired ratio, computed again from the two means
        assert relative["relative"] == pytest.approx(learned[key] / rule[key] - 1, rel=1e-6)  # means summed in float32
        assert relative["ci"][0] <= relative["relative"] <= relative["ci"][1]
    per_seed = [s["success_rate"] for s in learned["per_seed"]]
    assert learned["success_rate"] == pytest.approx(sum(per_seed) / 2)  # two seeds of 40 users each


def test_ab_is_paired_and_reproducible_and_arms_carry_their_own_scorer(registry):
    args = ("ab", "--policy", "rule", "--policy", "cql-base", "--policy", "rule@popularity", "--conversations", "30",
            "--seeds", "1", "--registry", registry, "--json")
    one, two = json.loads(run(*args, "--workers", "1").stdout), json.loads(run(*args, "--workers", "2").stdout)
    assert one["policies"] == two["policies"]
    assert list(one["policies"]) == ["rule", "cql-base", "rule@popularity"]
    assert one["policies"]["rule@popularity"] != one["policies"]["rule"]  # other samples, same users


def test_policy_list_and_show(registry):
    listed = json.loads(run("policy", "list", "--registry", registry, "--json").stdout)
    assert listed["current"] == "rule"
    assert [p["name"] for p in listed["policies"]] == sorted(f"{algo}-{features}" for algo, features, _ in TRAINED)
    shown = run("policy", "show", "regressor-history", "--registry", registry)
    assert shown.returncode == 0 and "regressor / history" in shown.stdout
    table = run("policy", "list", "--registry", registry)
    assert "current policy is rule" in table.stdout
    rule = segue_in_process("policy", "show", "rule", "--json")  # listed as current, so it can be shown: no record
    assert rule.returncode == 0 and json.loads(rule.stdout)["builtin"] is True
    assert "built-in rule-based baseline" in segue_in_process("policy", "show", "rule").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("train", "--logs", "{logs}", "--algo", "ppo", "--out", "{tmp}/x"), "--algo must be one of cql, bcq, bc, regressor"),
        (("train", "--logs", "{logs}", "--features", "all", "--out", "{tmp}/x"), "--features must be base or history"),
        (("train", "--logs", "{tmp}/none", "--out", "{tmp}/x"), "log folder not found"),
        (("train", "--logs", "{logs}", "--out", "{registry}/regressor-history"), "exists and is not empty"),
        (("train", "--logs", "{logs}", "--algo", "bc", "--gamma", "0.5", "--out", "{tmp}/x"), "--gamma does not apply to the bc learner"),
        (("ab", "--policy", "nope", "--conversations", "5", "--seeds", "1", "--registry", "{registry}"), "no policy 'nope'"),
        (("ab", "--policy", "rule", "--policy", "rule", "--conversations", "5"), "each --policy once"),
        (("ab", "--policy", "rule", "--conversations", "0"), "--conversations must be between 1"),
        (("policy", "show", "regresor-history", "--registry", "{registry}"), "did you mean 'regressor-history'"),
    ],
)
def test_policy_command_mistakes(small_logs, registry, tmp_path, args, message):
    result = segue_in_process(*(a.format(logs=small_logs, tmp=tmp_path, registry=registry) for a in args))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_logs_and_policies_made_with_embeddings_carry_their_version(small_embeddings, small_logs, tmp_path):
    emb, folder, _ = small_embeddings
    logs = tmp_path / "logs"
    sim = run("simulate", "--conversations", "120", "--seed", "3", "--out", str(logs), "--part-size", "60",
              "--scorer", str(folder), "--workers", "1", "--json")
    assert sim.returncode == 0, sim.stderr
    manifest = json.loads((logs / "manifest.json").read_text())
    assert manifest["settings"]["scorer"] == str(folder.resolve())
    trained = run("train", "--logs", str(logs), "--algo", "regressor", "--features", "history", "--out",
                  str(tmp_path / "p" / "reg-emb"), "--eval-conversations", "20", "--json")
    assert trained.returncode == 0, trained.stderr
    record = json.loads((tmp_path / "p" / "reg-emb" / "policy.json").read_text())
    assert record["feature_version"].endswith(emb.version)
    ab = segue_in_process("ab", "--policy", tmp_path / "p" / "reg-emb", "--conversations", "20", "--seeds", "1", "--json")
    assert ab.returncode == 2 and "this Segue builds 'history-v1-g9'" in ab.stderr  # served with the baseline scorer: refused
    ab = run("ab", "--policy", str(tmp_path / "p" / "reg-emb"), "--conversations", "20", "--seeds", "1",
             "--scorer", str(folder), "--workers", "1", "--json")
    assert ab.returncode == 0, ab.stderr
    # beside logs of the baseline scorer (make demo's simulated logs and chats served with its embeddings): a
    # base-feature policy is evaluated on the base features (Q models too); a history one is refused, saying why
    from evaluation.evaluate import evaluate_logs
    from evaluation.ope import OPESettings
    from evaluation.qmodel import FQESettings
    from policy.errors import PolicyError

    quick = OPESettings(estimators=("is", "dm"), bootstrap=10, fqe=FQESettings(steps=30), min_ess=1)
    both = evaluate_logs([small_logs, logs], ["rule"], settings=quick)
    assert both.data.history.shape[1] == 0 and both.data.n_conversations == 200 + 120
    assert both.result.policies["rule"].estimators["dm"]  # a Q model fitted on the base features
    with pytest.raises(PolicyError, match=r"reg-emb reads history features, but .* hold other features"):
        evaluate_logs([small_logs, logs], [str(tmp_path / "p" / "reg-emb")], settings=quick)
    # on the baseline's logs alone: said in evaluate's terms (it has no --scorer to serve it with)
    with pytest.raises(PolicyError, match=rf"reg-emb reads history features of the scorer {emb.version}, but these logs "
                                          r"were made with baseline: evaluate it on logs simulated with its scorer"):
        evaluate_logs(small_logs, [str(tmp_path / "p" / "reg-emb")], settings=quick)


def test_simulate_serves_a_registry_policy(registry, tmp_path):
    result = run("simulate", "-n", "40", "--part-size", "40", "--policy", "regressor-base", "--registry", registry,
                 "--exploration", "0.25", "--out", tmp_path / "logs", "--json", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["conversations"] == 40
    manifest = json.loads((tmp_path / "logs" / "manifest.json").read_text())["settings"]
    assert manifest["policy"].endswith("regressor-base") and manifest["exploration"] == 0.25


@pytest.mark.parametrize("args, message", [
    (("loop", "--fault", "melt@1"), "--fault kind must be one of"),
    (("loop", "--prompts-margin", "lots"), "--prompts-margin must be a number >= 0 or off"),
    (("report", "--loop", "{tmp}/nowhere"), "loop folder not found"),
    (("report",), "give --logs and at least one --policy"),
])
def test_loop_mistakes_are_one_clear_line(args, message, tmp_path):
    extra = ("--runs", tmp_path / "loop") if args[0] == "loop" else ()
    result = segue_in_process(*(a.format(tmp=tmp_path) for a in args), *extra)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_current_policy_from_a_folder_outside_the_registry_is_listed_and_marked(registry, tmp_path):
    """After `policy promote /some/folder`, `policy list` said "current policy is /some/folder" and marked no row."""
    from policy.registry import _CURRENT

    outside = registry / "regressor-history"
    (tmp_path / "reg").mkdir()
    (tmp_path / "reg" / _CURRENT).write_text(str(outside))
    table = segue_in_process("policy", "list", "--registry", tmp_path / "reg")
    assert table.returncode == 0 and f"current policy is {outside}" in table.stdout
    assert f"{outside} *" in table.stdout and "rule *" not in table.stdout  # its row, marked
    assert "*: the current policy" in table.stdout
    (tmp_path / "reg" / _CURRENT).write_text(str(tmp_path / "gone"))  # unreadable: said, and the list still shown
    table = segue_in_process("policy", "list", "--registry", tmp_path / "reg")
    assert table.returncode == 0 and "cannot be read" in table.stderr and "rule" in table.stdout
