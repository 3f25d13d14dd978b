"""``segue voice``: the conversation spoken (microphone or WAV files in, espeak-ng and snippets out)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.markup import escape as _escape

from core.errors import ConfigError, SegueError

from .app import app, err, out, print_json
from .cmd_chat import SERVE_DEFAULTS, report_log, serve_settings
from .options import Exploration, LogDir, Nlu, NoAudio, NoLog, RasaUrl, Registry, ServePolicy, ServeScorer, ServeSeed, UserId
from .progress import Reporter

__all__: list[str] = []


def _wav_utterances(paths: List[Path], split: bool) -> Iterator[tuple]:
    """(samples, rate) per utterance: each file cut by voice activity (``split``) or taken whole.

    Every file is read before the first utterance is handed out, so a bad file is one error up front.
    """
    from dialogue.speech.audio import narrow_band_note, read_wav, split_utterances

    loaded = [(path, *read_wav(path)) for path in paths]
    for path, _, rate in loaded:
        note = narrow_band_note(rate, str(path))
        if note:
            err.print(f"[yellow]warning:[/] {_escape(note)}", highlight=False)

    def utterances() -> Iterator[tuple]:
        for path, samples, rate in loaded:
            parts = split_utterances(samples, rate) if split else [samples]
            if not parts:
                err.print(f"[yellow]note:[/] no speech found in {path}")
            for part in parts:
                yield part, rate

    return utterances()


@app.command()
def voice(
    input_wav: Optional[List[Path]] = typer.Option(None, "--input-wav", help="Speak from WAV FILE(s) instead of a "
                                                   "microphone (repeat the option; each file may hold several utterances)."),
    output_wav: Optional[Path] = typer.Option(None, "--output-wav", help="Write Segue's voice and snippets to FILE."),
    no_dialogue: bool = typer.Option(False, "--no-dialogue", help="Recognition and NLU only, no conversation."),
    as_json: bool = typer.Option(False, "--json", help="With --no-dialogue: print the utterances as JSON."),
    whole_files: bool = typer.Option(False, "--whole-files", help="One utterance per --input-wav file (no cutting)."),
    push_to_talk: bool = typer.Option(False, "--push-to-talk", help="Microphone: press Enter to talk and to stop, "
                                      "instead of voice activity detection."),
    recognizer_kind: str = typer.Option("auto", "--recognizer", help="Speech recognizer: combined (pocketsphinx and "
                                        "Whisper tiny.en, the better hypothesis chosen per utterance), whisper, "
                                        "pocketsphinx, or auto (combined when Whisper is installed, else pocketsphinx)."),
    no_bias: bool = typer.Option(False, "--no-bias", help="Recognize with pocketsphinx's general language model "
                                 "instead of the music-domain one (pocketsphinx alone)."),
    speak_voice: str = typer.Option("en-us", "--voice", help="espeak-ng voice for Segue (e.g. en-us, en-us+f2)."),
    speed: int = typer.Option(160, "--speed", help="Segue's speaking rate, words per minute (80-450)."),
    nlu: Nlu = SERVE_DEFAULTS.nlu,
    rasa_url: RasaUrl = SERVE_DEFAULTS.rasa_url,
    policy: ServePolicy = SERVE_DEFAULTS.policy,
    registry: Registry = SERVE_DEFAULTS.registry,
    scorer: ServeScorer = SERVE_DEFAULTS.scorer,
    user_id: UserId = SERVE_DEFAULTS.user_id,
    log_dir: LogDir = SERVE_DEFAULTS.log_dir,
    no_log: NoLog = False,
    no_audio: NoAudio = False,
    seed: ServeSeed = SERVE_DEFAULTS.seed,
    exploration: Exploration = SERVE_DEFAULTS.exploration,
) -> None:
    """Talk with Segue out loud: it listens (microphone or --input-wav), answers with speech and plays snippets."""
    from dialogue.speech.audio import Microphone, Speaker
    from dialogue.speech.choose import check_recognizer, make_recognizer
    from dialogue.speech.tts import check_voice, synthesize
    from recommender.catalog import Catalog

    if as_json and not no_dialogue:
        raise ConfigError("--json needs --no-dialogue (the conversation itself is printed as text)")
    check_recognizer(recognizer_kind, biased=not no_bias)
    check_voice(speak_voice, speed)  # with --no-dialogue too: a mistaken option is said, not silently unused
    note = lambda message: err.print(f"[yellow]note:[/] {_escape(message)}")  # noqa: E731
    if output_wav is not None and output_wav.is_dir():
        raise ConfigError(f"--output-wav must be a file, got the folder {output_wav}")
    if input_wav:
        utterances = _wav_utterances(list(input_wav), split=not whole_files)  # reads (and checks) every file now
    else:
        mic = Microphone(push_to_talk=push_to_talk)  # no microphone: one VoiceError that says what to do
        err.print(f"[dim]listening on {mic.name}" + (" (push-to-talk)" if push_to_talk else
                                                     " (speak; a pause ends your turn; Ctrl-C to leave)") + "[/]")
        utterances = ((x, mic.RATE) for x in mic.utterances())

    if no_dialogue:
        from dialogue.nlu import make_nlu
        from dialogue.speech.session import Heard, understand

        catalog = Catalog.load()
        # the models load at the first utterance: a file with no speech in it loads none (recognizers ~8 s, the
        # embedded NLU ~2 s of training); a Rasa NLU is made now, so that a server that does not answer is said first
        understanding = make_nlu(nlu, catalog=catalog, rasa_url=rasa_url) if nlu != "embedded" else None
        recognizer = None
        heard = []
        try:
            for samples, rate in utterances:
                if recognizer is None:
                    if understanding is None:
                        understanding = make_nlu(nlu, catalog=catalog, rasa_url=rasa_url)
                    recognizer = make_recognizer(recognizer_kind, catalog, nlu=understanding, biased=not no_bias, seed=seed,
                                                 notice=note)
                recognition = recognizer.recognize(samples, rate)
                result = Heard(recognition, understand(understanding, recognition)).to_json()
                heard.append(result)
                if not as_json:
                    acts = ", ".join(f"{a['act']}" + (f"({a['slot']}={a['value']})" if a["slot"] else "")
                                     for a in result["nlu"]["acts"]) or "(nothing understood)"
                    out.print(f"{_escape(recognition.text) or '(nothing recognized)'}   [{recognition.confidence:.2f}]"
                              f"   {acts}", highlight=False)
        except KeyboardInterrupt:
            err.print("interrupted")
        except SegueError as exc:  # the microphone vanished mid-run: report what was heard so far
            if recognizer is None:  # nothing heard yet (or the recognizer did not load): the error is the answer
                raise
            err.print(f"[yellow]{_escape(str(exc))}[/]")
        if as_json:
            print_json({"utterances": heard})
        return

    from dialogue.speech.session import VoiceSession
    from logs.manifest import LogSource

    from .workflows.serve import open_session

    session = open_session(serve_settings(nlu=nlu, rasa_url=rasa_url, policy=policy, registry=registry, scorer=scorer,
                                          user_id=user_id, log_dir=log_dir, no_log=no_log, seed=seed, source=LogSource.VOICE,
                                          exploration=exploration),
                           Reporter())
    recognizer = make_recognizer(recognizer_kind, session.catalog, nlu=session.manager.nlu, biased=not no_bias, seed=seed,
                                 notice=note)
    synthesize("ok", voice=speak_voice, speed=speed)  # a bad --voice or a missing espeak-ng fails before listening
    speaker = Speaker(wav=output_wav, device=not no_audio, notice=lambda m: err.print(f"[dim]({_escape(m)})[/]"))
    described = {"pocketsphinx": "pocketsphinx + music-domain language model", "whisper": "Whisper tiny.en",
                 "combined": "pocketsphinx + Whisper tiny.en, chosen per utterance"}[recognizer.name]
    err.print(f"[dim]{_escape(session.describe())}, recognizer "
              + (described if not no_bias else "pocketsphinx general LM") + "[/]")

    def show(who: str, text: str) -> None:
        if who == "note":
            err.print(f"[yellow]{_escape(text)}[/]")
            return
        style = "bold cyan" if who == "segue" else "bold"
        out.print(f"[{style}]{who}>[/] {_escape(text)}", highlight=False)

    talk = VoiceSession(session.manager, recognizer, speaker, catalog=session.catalog, voice=speak_voice, speed=speed,
                        show=show)
    try:
        talk.run(utterances)
    except KeyboardInterrupt:
        err.print("interrupted")
    finally:
        written = session.close()
        speaker.close()
        if output_wav is not None:
            err.print(f"[dim]wrote {speaker.seconds:.1f} s of Segue's side to {_escape(str(output_wav))}[/]")
        report_log(written)
