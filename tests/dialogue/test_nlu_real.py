"""Real people's words: the faults found on requests people wrote (issue 15's kinds), each as a test with the right
value, the real development set and our own siblings of its kinds, and no regression on the template held-out set."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from dialogue.nlu.embedded import EmbeddedNLU
from dialogue.nlu.normalize import normalize, years
from dialogue.nlu.scoring import kinds, passes, read_rows, score_rows
from dialogue.prompts import PromptId

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "benchmarks" / "data" / "real_nlu_dev.tsv"
SIBLINGS = Path(__file__).parent / "data" / "real_siblings.tsv"
SHARED_DEV = ROOT.parent / "shared" / "data" / "real_nlu" / "music_nlu_dev.tsv"
SAMPLE = "play_sample"


@pytest.fixture(scope="module")
def nlu(catalog):
    return EmbeddedNLU.for_catalog(catalog)


def acts(nlu, text, prompt=None):
    return {str(a) for a in nlu.parse(text, prompt=PromptId(prompt) if prompt else None).acts}


@pytest.mark.parametrize("text, prompt, expected", [
    # negation and dislike
    ("dont like this song", SAMPLE, {"reject()"}),
    ("i don't like this song", SAMPLE, {"reject()"}),
    ("never ever play me any country", None, {"deny(genre=country)"}),
    ("thumbs down this song", SAMPLE, {"reject()"}),
    ("i hate country music", None, {"deny(genre=country)"}),
    ("no more jazz please", None, {"deny(genre=jazz)"}),
    ("anything except techno", None, {"deny(genre=techno)"}),
    ("i'm sick of jazz", None, {"deny(genre=jazz)"}),
    ("enough jazz", None, {"deny(genre=jazz)"}),
    ("i'm so over jazz", None, {"deny(genre=jazz)"}),
    # stop, skip and rating words
    ("turn off the music", None, {"stop()"}),
    ("stop this song from playing", SAMPLE, {"reject()"}),
    ("skip this song", SAMPLE, {"reject()"}),
    ("give this track a thumb up", SAMPLE, {"accept()"}),
    # years and decades, also those the catalog lacks
    ("an album from 1972", None, {"inform(decade=1970s)"}),
    ("play beatles 70s music", None, {"inform(decade=1970s)"}),
    ("80 ' s", None, {"inform(decade=1980s)"}),
    ("1980's rock", None, {"inform(decade=1980s)", "inform(genre=rock)"}),
    ("music from the 10s", None, {"inform(decade=2010s)"}),
    ("something from the sixties", None, {"inform(decade=1960s)"}),
    # fuzzy matching that invented values
    ("r & b music", None, {"inform(genre=r&b)"}),
    ("80's music", None, {"inform(decade=1980s)"}),
    ("play a random song", None, {"dont_care()"}),
    ("i like r n b", None, {"inform(genre=r&b)"}),
    ("sure, game", "suggest_genres", {"affirm()", "inform(genre=game)"}),  # "sure" is no "surf"
    # misspelt genres are the genre, never a stop
    ("jaz please", None, {"inform(genre=jazz)"}),
    ("rok please", None, {"inform(genre=rock)"}),
    ("play foke", None, {"inform(genre=folk)"}),
    ("opera please", None, set()),  # not in the catalog: nothing, never a stop
    # plain requests: music, nothing known
    ("play songs", None, {"dont_care()"}),
    ("will you put on the music", None, {"dont_care()"}),
    ("start playlist", None, {"dont_care()"}),
    ("start over", None, {"restart()"}),
    # changing one's mind, excluding, several things at once
    ("actually not jazz anymore", "ask_energy", {"deny(genre=jazz)"}),
    ("anything but rap", None, {"deny(genre=rap)"}),
    ("I like it but can you play something jazzier", SAMPLE, {"reject()", "inform(genre=jazz)"}),
    ("please note i like jazz and hate disco", None, {"inform(genre=jazz)", "deny(genre=disco)"}),
    # non-word answers and rating idioms
    ("👍", SAMPLE, {"accept()"}),
    ("👎", SAMPLE, {"reject()"}),
    ("+1", SAMPLE, {"accept()"}),
    ("❤️", SAMPLE, {"accept()"}),
    ("<3", SAMPLE, {"accept()"}),
    ("5 stars", SAMPLE, {"accept()"}),
    # broken text
    ("play something by eva muller", None, {"inform(artist=Eva Müller)"}),
    ("play something by Eva MÃ¼ller", None, {"inform(artist=Eva Müller)"}),
])
def test_each_kind_of_fault_has_the_right_value(nlu, text, prompt, expected):
    assert acts(nlu, text, prompt) == expected


def test_common_words_are_not_guessed_at(nlu):
    assert "inform(genre=idm)" not in acts(nlu, "i'm leaving")  # "i'm" is no "idm"
    assert acts(nlu, "please note i like jazz") == {"inform(genre=jazz)"}  # the artist "Note" needs "by Note"
    assert acts(nlu, "play something random") == {"dont_care()"}  # and "Random" needs "by Random"


def test_normalize_repairs_and_reads_idioms():
    assert normalize("Eva MÃ¼ller") == "eva muller"
    assert normalize("dont") == normalize("don t") == normalize("don ' t") == "don't"
    assert normalize("play 80 ' s") == "play 80's"
    assert normalize("give me an album from 1972") == "give me an album from 1970s"
    assert normalize("thumb up 👍") == "thumbs-up thumbs-up"
    assert years("from 1958 to '72, not 1850 or 2045") == [(5, 9, "1950s"), (13, 16, "1970s")]


def test_the_real_development_set(nlu):
    """Target >= 95% of the 88 real requests (SLURP, HWU64, SNIPS; measured 100% with the rules, 82.9% before)."""
    rows = read_rows(DEV)
    assert len(rows) == 88
    score = score_rows(nlu, rows)
    assert score["accuracy"] >= 0.95, score["failures"]
    assert score["by_kind"]["decade"]["n"] == 15 and score["by_kind"]["plain"]["n"] == 5


@pytest.mark.skipif(not SHARED_DEV.is_file(), reason="needs ../shared/data")
def test_the_vendored_development_set_is_the_shared_one():
    assert DEV.read_text(encoding="utf-8") == SHARED_DEV.read_text(encoding="utf-8")


def test_siblings_of_the_kinds_we_wrote_ourselves(nlu):
    """55 phrasings of the same kinds, never tuned on the development set's rows (95% floor; measured 100%)."""
    score = score_rows(nlu, read_rows(SIBLINGS))
    assert score["n"] == 55 and score["accuracy"] >= 0.95, score["failures"]


def test_scoring_rule_and_bad_rows(tmp_path):
    rows = read_rows(DEV)
    assert kinds(rows[0]) == ("genre",)
    bad = tmp_path / "bad.tsv"
    bad.write_text("# comment\nplay jazz\tinform:genre=jazz\nno tab here\n")
    with pytest.raises(ConfigError, match=r"bad\.tsv line 3: expected utterance<TAB>acts"):
        read_rows(bad)
    bad.write_text("play jazz\tinform:genre\n")
    with pytest.raises(ConfigError, match=r"line 1: expected act:slot=value"):
        read_rows(bad)

    class Fake:
        def __init__(self, acts):
            from dialogue.acts import Act, DialogueAct, Slot

            self.acts = tuple(DialogueAct(Act(a), Slot(s) if s else None, v) for a, s, v in acts)

    row = read_rows(DEV)[0]  # please play only music of pop mix -> inform:genre=pop
    assert passes(Fake([("inform", "genre", "Pop")]), row)
    assert not passes(Fake([("inform", "genre", "rock")]), row) and not passes(Fake([]), row)
