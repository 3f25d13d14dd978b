"""The chat never crashes: arbitrary text, empty lines, huge lines, control characters."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogue.manager import DialogueManager
from dialogue.nlu.embedded import EmbeddedNLU
from dialogue.records import ConversationBuffer
from logs.writer import conversations_table
from policy.registry import load_policy
from recommender.scorer import BaselineScorer

TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=50),
    st.sampled_from(["", " ", "\n", "yes", "no", "stop", "start over", "play some jazz", "YES!!!", "\x1b[31mred"]),
    st.builds(lambda s, n: s * n, st.sampled_from(["a", "jazz ", "é", "🎵"]), st.integers(1000, 30_000)),
)


@pytest.fixture(scope="module")
def make(catalog):
    policy, variant = load_policy("rule", catalog=catalog)
    nlu = EmbeddedNLU.for_catalog(catalog)
    return lambda seed: DialogueManager(catalog, nlu=nlu, policy=policy, variant=variant, scorer=BaselineScorer(catalog),
                                        seed=seed, sink=ConversationBuffer())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(TEXT, min_size=1, max_size=8), seed=st.integers(0, 2**16))
def test_any_input_gets_an_answer(make, lines, seed):
    m = make(seed)
    asked = 0
    for line in lines:
        turn = m.respond(line)
        assert isinstance(turn.text, str) and turn.text
        assert turn.nlu is None or 0.0 <= turn.nlu.confidence <= 1.0
        asked += turn.prompt is not None
    m.end()
    logged = m.sink.conversations
    assert sum(c.n_prompts for c in logged) == asked  # every prompt asked is logged once, in a finished conversation
    assert all(len(c.labels) == c.n_prompts and (c.success or c.abandoned or c.truncated) for c in logged)
    layout = m.featurizer.layout
    table = conversations_table(logged, n_base=layout.n_base, n_history=layout.n_history, ids=range(len(logged)))
    assert table.num_rows == asked
