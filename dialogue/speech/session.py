"""The spoken conversation: utterances in, recognized, understood, answered aloud, snippets played."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..nlu import NLUResult
from .asr import Recognition
from .audio import Speaker, VoiceError
from .tts import synthesize

__all__ = ["Heard", "understand", "VoiceSession"]


@dataclass(frozen=True)
class Heard:
    recognition: Recognition
    nlu: NLUResult

    def to_json(self) -> dict:
        return {"text": self.recognition.text, "confidence": self.recognition.confidence, "nlu": self.nlu.to_json()}


def understand(nlu, recognition: Recognition, *, prompt=None) -> NLUResult:
    """The NLU's reading of recognized speech; its confidence scaled by the recognizer's."""
    return nlu.parse(recognition.text, prompt=prompt).heard_with(recognition.confidence)


class VoiceSession:
    """Drives a ``DialogueManager`` by voice: each utterance -> recognizer -> manager -> espeak-ng -> speaker.

    ``recognizer``: any of ``dialogue.speech.choose.make_recognizer``'s (pocketsphinx, Whisper or the two combined);
    it is told the prompt Segue just asked (not its words: as Whisper's previous text they did not help,
    ``benchmarks/voice.py --context``).
    """

    def __init__(self, manager, recognizer, speaker: Speaker, *, catalog, voice: str = "en-us",
                 speed: int = 160, snippet_seconds: float = 4.0, show: Callable[[str, str], None] = lambda who, t: None) -> None:
        self.manager, self.recognizer, self.speaker, self.catalog = manager, recognizer, speaker, catalog
        self.voice, self.speed, self.snippet_seconds, self.show = voice, speed, snippet_seconds, show
        self.heard: list[Heard] = []

    def say(self, text: str) -> None:
        self.show("segue", text)
        samples, rate = synthesize(text, voice=self.voice, speed=self.speed)
        self.speaker.play(samples, rate)

    def run(self, utterances: Iterable[tuple[np.ndarray, int]]) -> None:
        """Talk until the person stops, the utterances run out, or the microphone vanishes (said, not raised).

        Input that runs out before the conversation ends (WAV files with too few answers) is said as a "note".
        """
        self.say(self.manager.greet().text)
        source = iter(utterances)
        while True:
            try:
                item = next(source, None)
            except VoiceError as exc:  # the device went away mid-run: keep the conversation so far
                self.show("note", str(exc))
                return
            if item is None:
                if not self.manager.finished:
                    n = len(self.heard)
                    self.show("note", f"the input ran out after {n} utterance{'s' if n != 1 else ''}, before the "
                                      "conversation ended: Segue's last question is unanswered (counted as abandoned)")
                return
            samples, rate = item
            prompt = self.manager.prompt.prompt if self.manager.prompt is not None and not self.manager.finished else None
            recognition = self.recognizer.recognize(samples, rate, prompt=prompt)
            self.show("you", f"{recognition.text or '(nothing recognized)'}  [{recognition.confidence:.2f}]")
            turn = self.manager.respond(recognition.text, speech_confidence=recognition.confidence)
            self.heard.append(Heard(recognition, turn.nlu))
            self.say(turn.text)
            if turn.play_track is not None:
                from recommender.snippet import SAMPLE_RATE, render_snippet

                self.speaker.play(render_snippet(self.catalog, turn.play_track, seconds=self.snippet_seconds), SAMPLE_RATE)
            if turn.finished and self.manager.conversation.state.stopped:
                return
