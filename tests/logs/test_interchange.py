"""Bring your own logs: the interchange table in and out, the replay's fidelity, and every bad table refused."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dialogue.prompts import PROMPTS
from logs.collect import collect
from logs.errors import LogValidationError
from logs.interchange import export_logs, import_logs
from logs.manifest import CollectionSettings, LogSource
from logs.store import fixed_column, read_logs, read_manifest
from tests.segue.in_process import segue_in_process

PROMPT_IDS = [p.id.value for p in PROMPTS]


@pytest.fixture(scope="module")
def population_histories(catalog, tmp_path_factory):
    """The history table of every simulated user the logs can meet (ids 0..9,999)."""
    from recommender.histories import write_histories
    from simulator.config import SimulatorConfig
    from simulator.histories import population_histories as make

    path = tmp_path_factory.mktemp("hist") / "histories.parquet"
    write_histories(make(catalog, SimulatorConfig(), SimulatorConfig().n_users), path)
    return path


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rt") / "logs"
    collect(folder, CollectionSettings(conversations=2000, seed=12, part_size=1000), workers=2)
    return folder


def _aligned(original, imported):
    """Rows of the original in the imported table's order (conversations sorted by their source id, then turn)."""
    key = np.array([str(c) for c in original["conversation_id"].to_pylist()])
    return np.lexsort((original["turn"].to_numpy(), key))


def test_round_trip_gives_the_same_features_and_rewards(logged, population_histories, tmp_path):
    """Segue's own logs exported to the interchange table and imported back: same features, masks, distributions and
    rewards, to 1e-6, on 2,000 conversations (Parquet and CSV)."""
    original = read_logs(logged)
    for suffix in ("parquet", "csv"):
        table = tmp_path / f"exported.{suffix}"
        rows = export_logs(logged, table)
        assert rows == original.num_rows
        said = []
        result = import_logs(table, tmp_path / f"imported-{suffix}", histories=population_histories, part_size=700,
                             progress=lambda done, total, said=said: said.append((done, total)))
        assert (result.conversations, result.turns, result.parts) == (2000, original.num_rows, 3)
        assert said[0] == (50, 2000) and said[-1] == (2000, 2000) and len(said) == 40  # conversations replayed so far
        imported = read_logs(tmp_path / f"imported-{suffix}")
        order = _aligned(original, imported)
        for column in ("features", "history_features", "action_probs"):
            gap = np.abs(fixed_column(original, column)[order].astype(np.float64) - fixed_column(imported, column))
            assert gap.max() <= 1e-6, (suffix, column, float(gap.max()))
        assert np.array_equal(fixed_column(original, "valid_mask")[order], fixed_column(imported, "valid_mask"))
        for column in ("reward", "propensity", "success", "abandoned", "truncated", "n_prompts", "prompt", "user_id"):
            assert original[column].take(pa.array(order)).equals(imported[column]), (suffix, column)
        manifest = read_manifest(tmp_path / f"imported-{suffix}")
        assert manifest.source is LogSource.IMPORTED and manifest.imported.distribution_logged
        # the same conversations keep their ids (logs.ids.exported_id): beside the originals they are duplicates
        assert set(imported["conversation_id"].to_pylist()) == set(original["conversation_id"].to_pylist())
        assert len(np.unique(imported["conversation_id"].to_numpy())) == 2000


def _minimal(logged, tmp_path, **changes):
    """The exported table with only the required columns, then ``changes`` (column -> {row: value})."""
    path = tmp_path / "full.parquet"
    if not path.exists():
        export_logs(logged, path)
    table = pq.read_table(path).slice(0, 40)
    keep = ["conversation_id", "turn", "prompt", "prompt_genres", "prompt_artist", "prompt_track", "propensity", "user_acts",
            "played_track"]
    table = table.select(keep + [c for c in changes if c not in keep and c in table.column_names])
    for column, edits in changes.items():
        if edits is None:
            table = table.drop_columns([column])
            continue
        values = table[column].to_pylist()
        for row, value in edits.items():
            values[row] = value
        table = table.set_column(table.column_names.index(column), column, pa.array(values))
    out = tmp_path / "bad.parquet"
    pq.write_table(table, out)
    return out


def test_the_minimal_table_imports_without_the_optional_columns(logged, tmp_path):
    table = _minimal(logged, tmp_path)
    result = import_logs(table, tmp_path / "minimal")
    imported = read_logs(tmp_path / "minimal")
    assert result.turns == imported.num_rows == 40 and result.conversations == len(set(imported["conversation_id"].to_pylist()))
    assert result.outside_mask > 0  # without the users' histories some prompts were asked where Segue would not
    # of them, every ask_familiarity (never valid with no history; no conversation has one here), counted apart
    familiarity = pq.read_table(table)["prompt"].to_pylist().count("ask_familiarity")
    assert 0 < result.outside_mask_without_history == familiarity <= result.outside_mask
    assert fixed_column(imported, "valid_mask")[np.arange(40), [PROMPT_IDS.index(p) for p in imported["prompt"].to_pylist()]].all()
    probs = fixed_column(imported, "action_probs")
    assert np.count_nonzero(probs, axis=1).max() == 1  # only the logged prompt's probability is known
    assert not read_manifest(tmp_path / "minimal").imported.distribution_logged


BAD = [
    ({"propensity": None}, r"missing column\(s\) propensity"),
    ({"prompt": {3: "ask_tempo"}}, r"row 4, column 'prompt', value 'ask_tempo': not a Segue prompt id"),
    ({"user_acts": {2: "[{\"act\": "}}, r"row 3, column 'user_acts', .*not valid JSON"),
    ({"user_acts": {2: json.dumps([{"act": "shout"}])}}, r"row 3, column 'user_acts', .*unknown act or slot"),
    ({"propensity": {5: 0.0}}, r"row 6, column 'propensity', value 0.0: must be in \(0, 1\]"),
    ({"prompt_track": {0: "fmc-nope"}}, None),  # a track only where the prompt plays one: see below
    ({"turn": {1: 7}}, r"row 2, column 'turn', value 7: .*must have turns 0\.\.\d+, each once"),  # the row out of place
    # a slot value outside the slot's values (they were imported: "polka" was refused only in prompt_genres)
    ({"user_acts": {2: json.dumps([{"act": "inform", "slot": "genre", "value": "polka"}])}},
     r"row 3, column 'user_acts', .*'polka' is not a genre or style of the catalog"),
    ({"user_acts": {2: json.dumps([{"act": "inform", "slot": "mood", "value": "furious"}])}},
     r"row 3, column 'user_acts', .*'furious' is not a mood \(happy, melancholic, calm, intense\)"),
    ({"user_acts": {2: json.dumps([{"act": "deny", "slot": "artist", "value": "Nobody At All"}])}},
     r"row 3, column 'user_acts', .*'Nobody At All' is not an artist of the catalog"),
    ({"user_acts": {2: json.dumps([{"act": "inform", "slot": "energy", "value": 3}])}},
     r"row 3, column 'user_acts', .*the value of slot 'energy' must be a string, got 3"),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[next(iter(c)) + str(i) for i, (c, _) in enumerate(BAD)])
def test_a_bad_table_is_one_error_naming_file_row_column_and_value(logged, tmp_path, changes, message):
    if message is None:  # put an unknown track where a sample is played
        full = pq.read_table(_minimal(logged, tmp_path))
        row = full["prompt"].to_pylist().index("play_sample")
        changes, message = {"prompt_track": {row: "fmc-nope"}}, rf"row {row + 1}, column 'prompt_track', value 'fmc-nope': not a track id"
    table = _minimal(logged, tmp_path, **changes)
    with pytest.raises(LogValidationError, match=message) as raised:
        import_logs(table, tmp_path / "out")
    assert str(table) in str(raised.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_csv_turn_that_is_no_number_is_named_by_its_row_and_line(logged, tmp_path):
    """A turn of "two" in a CSV made the whole column text, and the error named row 1 with value '0'."""
    import pyarrow.csv as pacsv

    table = pq.read_table(_minimal(logged, tmp_path, turn={1: 7}))  # (the edit is undone below)
    turns = [str(t) for t in table["turn"].to_pylist()]
    turns[1] = "two"
    table = table.set_column(table.column_names.index("turn"), "turn", pa.array(turns))
    csv = tmp_path / "bad.csv"
    pacsv.write_csv(table, csv)
    with pytest.raises(LogValidationError, match=r"bad\.csv: row 2 \(line 3\), column 'turn', value 'two': must be a non-negative integer"):
        import_logs(csv, tmp_path / "out")
    turns[1] = "1"  # digits in the text column are numbers
    pacsv.write_csv(table.set_column(table.column_names.index("turn"), "turn", pa.array(turns)), csv)
    assert import_logs(csv, tmp_path / "out").turns == 40


def test_values_that_would_mislead_training_or_the_estimators_are_refused(logged, tmp_path):
    """Found by trying the import: a 'forced' of 'perhaps' became a forced prompt (propensity 1, one-hot), an
    action_probs of {"open": 2} or one without the logged prompt was stored and then passed `logs validate`, a
    sentiment of 42 reached the features, an outcome or user changing within a conversation was ignored. Each is
    one error naming the row, the column and the value, and nothing is written."""
    full = pq.read_table(_minimal(logged, tmp_path))  # writes full.parquet beside it
    table = pq.read_table(tmp_path / "full.parquet").slice(0, 40)
    conv = table["conversation_id"].to_pylist()
    second = conv.index(conv[0], 1) if conv.count(conv[0]) > 1 else None
    assert second is not None and full.num_rows == 40  # conversation 0 has at least two turns
    prompt = table["prompt"].to_pylist()
    other = next(p for p in PROMPT_IDS if p != prompt[1])
    cases = [
        ("forced", {1: "perhaps"}, r"row 2, column 'forced', value 'perhaps': must be true or false"),
        ("action_probs", {1: json.dumps({prompt[1]: 2})}, rf"row 2, column 'action_probs', .*probability of '{prompt[1]}' must be a number in \[0, 1\]"),
        ("action_probs", {1: json.dumps({other: 0.5})}, rf"row 2, column 'action_probs', .*gives the logged prompt '{prompt[1]}' probability 0, but its propensity"),
        ("sentiment", {2: 42.0}, r"row 3, column 'sentiment', value 42.0: must be in \[-1, 1\]"),
        ("confidence", {2: -3.0}, r"row 3, column 'confidence', value -3.0: must be in \[0, 1\]"),
        ("prompt_genres", {0: json.dumps(["polka-metal"])}, r"row 1, column 'prompt_genres', .*'polka-metal' is not a genre or style"),
        ("outcome", {second: "truncated" if table["outcome"][0].as_py() != "truncated" else "abandoned"},
         rf"row {second + 1}, column 'outcome', .*must be the same on every row of a conversation"),
        ("user_id", {second: 12345}, rf"row {second + 1}, column 'user_id', value 12345: must be the same on every row"),
    ]
    for column, edits, message in cases:
        values = table[column].to_pylist()
        if column == "forced":
            values = ["true" if v else "false" for v in values]
        for row, value in edits.items():
            values[row] = value
        bad = tmp_path / f"bad-{column}.parquet"
        pq.write_table(table.set_column(table.column_names.index(column), column, pa.array(values)), bad)
        with pytest.raises(LogValidationError, match=message):
            import_logs(bad, tmp_path / "out")
        assert not (tmp_path / "out").exists(), column
    forced_text = table.set_column(table.column_names.index("forced"), "forced",
                                   pa.array(["TRUE" if v else "no" for v in table["forced"].to_pylist()]))
    pq.write_table(forced_text, tmp_path / "forced-text.parquet")
    assert import_logs(tmp_path / "forced-text.parquet", tmp_path / "ok").turns == 40  # words for yes and no are read


def test_conversations_whose_user_the_histories_lack_are_counted(logged, catalog, tmp_path):
    """With --histories, a user the table lacks was replayed silently as a listener with no history."""
    from recommender.histories import write_histories
    from simulator.config import SimulatorConfig
    from simulator.histories import population_histories as make

    _minimal(logged, tmp_path)
    table = pq.read_table(tmp_path / "full.parquet").slice(0, 40)
    pq.write_table(table, tmp_path / "forty.parquet")
    few = write_histories(make(catalog, SimulatorConfig(), 50), tmp_path / "few.parquet")  # users 0..49
    result = import_logs(tmp_path / "forty.parquet", tmp_path / "out", histories=few)
    users = {c: u for c, u in zip(table["conversation_id"].to_pylist(), table["user_id"].to_pylist())}
    assert result.users_without_history == sum(u >= 50 for u in users.values()) > 0
    asked = [(p, u) for p, u in zip(table["prompt"].to_pylist(), table["user_id"].to_pylist()) if p == "ask_familiarity"]
    assert result.outside_mask_without_history == sum(u >= 50 for _, u in asked)  # only where the history is missing


def test_validate_refuses_action_probs_that_contradict_the_propensity(logged):
    """`logs validate` is where every source's logs are checked: a part whose logged distribution gives the logged
    prompt another probability than its propensity would make the estimators weigh it wrongly."""
    from logs.validate import validate_table

    part = sorted(logged.glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    validate_table(table, part)  # as simulated: consistent
    probs = fixed_column(table, "action_probs").copy()
    row = 3
    probs[row] = np.roll(probs[row], 1)
    if np.isclose(probs[row][PROMPT_IDS.index(table["prompt"][row].as_py())], table["propensity"][row].as_py(), atol=1e-5):
        probs[row] = np.roll(probs[row], 1)
    changed = table.set_column(table.column_names.index("action_probs"), table.schema.field("action_probs"),
                               pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel(), pa.float32()), probs.shape[1]))
    with pytest.raises(LogValidationError, match=rf"propensity .* differs from the action_probs entry .* row {row} "):
        validate_table(changed, part)
    sentiment = table["sentiment"].to_numpy().copy()
    sentiment[5] = 42.0
    changed = table.set_column(table.column_names.index("sentiment"), table.schema.field("sentiment"), pa.array(sentiment, pa.float32()))
    with pytest.raises(LogValidationError, match=r"sentiment must be in \[-1, 1\], found 42.0 in part-00000.parquet row 5 "):
        validate_table(changed, part)


def test_cli_import_and_export(logged, tmp_path):
    exported = segue_in_process("logs", "export", logged, "--out", tmp_path / "t.csv")
    assert exported.returncode == 0 and "rows to" in exported.stdout
    again = segue_in_process("logs", "export", logged, "--out", tmp_path / "t.csv")
    assert again.returncode == 2 and "exists" in again.stderr
    imported = segue_in_process("logs", "import", tmp_path / "t.csv", "--out", tmp_path / "in", "--json")
    assert imported.returncode == 0, imported.stderr
    said = json.loads(imported.stdout)
    assert said["conversations"] == 2000
    # no --histories: the logged ask_familiarity prompts are the ones outside the replayed mask, and said to be
    assert said["outside_mask"] == said["outside_mask_without_history"] > 0 and said["users_without_history"] == 0
    summary = segue_in_process("logs", "summary", tmp_path / "in", "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["sources"]["imported"]["conversations"] == 2000
    # beside the logs it came from, the re-import is the same 2,000 conversations again: refused, not counted twice
    both = segue_in_process("logs", "summary", logged, tmp_path / "in", "--json")
    assert both.returncode == 2 and "Traceback" not in both.stderr, both.stderr
    said = " ".join(both.stderr.split())
    assert "is in" in said and "their own export imported back" in said, both.stderr


def test_only_an_id_segue_wrote_is_kept_on_import():
    """A Segue id (the decimal export_logs writes, 2**32 <= id < 2**63) is kept; any other id is hashed with the file."""
    from logs.ids import collection_key, exported_id, simulated_id

    segue_id = simulated_id(collection_key({"seed": 1}), 7)
    assert exported_id(str(segue_id)) == segue_id and exported_id(str(2**32)) == 2**32
    for other in ("12", str(2**32 - 1), str(2**63), "-4294967296", "04294967296", "4294967296.0", " 4294967296",
                  "\u0664294967296", "abc", ""):
        assert exported_id(other) is None, other
