"""The Rasa backend against a real Rasa server (``make test-rasa``; skipped in ``make test``)."""

import os
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(os.environ.get("SEGUE_RASA") != "1" or not Path(".venv-rasa/bin/rasa").exists(),
                       reason="Rasa runs in its own venv: make rasa, then make test-rasa"),
]


@pytest.fixture(scope="module")
def rasa(catalog):
    from dialogue.nlu.rasa_client import RasaNLU

    nlu = RasaNLU(catalog=catalog, url="http://localhost:5055", start=True, timeout=30)
    yield nlu
    nlu.close()


@pytest.mark.parametrize("text, prompt, expected", [
    ("play some jazz", None, "inform(genre=jazz)"),
    ("something laid back please", None, "inform(energy=laid_back)"),
    ("I want some rock", None, "inform(genre=rock)"),
    ("yes please", "play_sample", "accept()"),
    ("stop", None, "stop()"),
])
def test_rasa_understands_the_same_meaning(rasa, text, prompt, expected):
    from dialogue.prompts import PromptId

    result = rasa.parse(text, prompt=PromptId(prompt) if prompt else None)
    assert expected in {str(a) for a in result.acts}
    assert 0 <= result.confidence <= 1 and result.to_json()["acts"]
