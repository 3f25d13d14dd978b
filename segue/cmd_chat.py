"""``segue chat``, ``segue nlu parse`` and ``segue nlu export``."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.markup import escape

from core.errors import SegueError

from .app import app, err, nlu_app, out, print_json
from .options import Exploration, LogDir, Nlu, NoAudio, NoLog, RasaUrl, Registry, ServePolicy, ServeScorer, ServeSeed, UserId
from .progress import Reporter, plural
from .workflows.serve import ServeSettings

__all__ = ["SERVE_DEFAULTS", "serve_settings", "report_log"]

SERVE_DEFAULTS = ServeSettings()


def _lines(script: Optional[Path]) -> Iterator[str] | None:
    """Script lines, piped stdin lines, or None for an interactive terminal."""
    if script is not None:
        if script.is_dir():
            raise SegueError(f"--script {script} is a folder, not a file")
        if not script.exists():  # a pipe (``--script <(...)``) or a device is read like a file
            raise SegueError(f"--script file not found: {script}")
        data = script.read_bytes()
        if not data.strip():
            raise SegueError(f"--script {script} is empty: give one utterance per line")
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark (Windows editors write it)
            text = data.decode("utf-16", errors="replace")
        elif _binary(data):  # audio, Parquet, an archive ...
            kind = " (a WAV file: `segue voice --input-wav` reads those)" if data[:4] == b"RIFF" else ""
            raise SegueError(f"--script {script} is not a text file{kind}: give one utterance per line, as text")
        else:
            text = data.decode("utf-8-sig", errors="replace")  # broken bytes are read as they come (ftfy mends text)
        lines = re.split(r"\r\n|\n|\r", text)  # lines end at line ends only (str.splitlines also splits at a form feed)
        return iter(lines[:-1] if lines and lines[-1] == "" else lines)
    if not sys.stdin.isatty():
        return (line.rstrip("\n") for line in sys.stdin)
    return None


#: how files that are no text begin: RIFF (WAV), FLAC, Ogg, MP3 (ID3), Parquet, zip, gzip, PDF, PNG, JPEG
_BINARY_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"PAR1", b"PK\x03\x04", b"\x1f\x8b", b"%PDF", b"\x89PNG", b"\xff\xd8\xff")


def _binary(data: bytes) -> bool:
    """Whether ``data`` is no text file: a known binary format's signature, or more than 5% of its first 8 KB (and
    more than 8) control bytes (a text file with a stray control character in a line is still text, a short one too;
    random bytes are ~11%)."""
    head = data[:8192]
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return (data.startswith(_BINARY_MAGIC) and control > 0) or control > max(8, 0.05 * len(head))  # "RIFF please": text


class _Audio:
    """Plays snippets through the sound card when there is one (without waiting); says once when there is none."""

    def __init__(self, enabled: bool) -> None:
        from dialogue.speech.audio import Speaker

        self.speaker = Speaker(device=enabled, notice=lambda message: None)  # the chat says it at the first track
        self.told = False

    def play(self, catalog, track: int) -> None:
        if self.speaker.sd is not None:
            from recommender.snippet import SAMPLE_RATE, render_snippet

            self.speaker.play(render_snippet(catalog, track, seconds=4.0), SAMPLE_RATE, blocking=False)
        if self.speaker.sd is None and not self.told:
            reason = self.speaker.reason or "audio off (--no-audio)"
            err.print(f"[dim]({reason}: the track is shown, not played)[/]")
            self.told = True


def serve_settings(*, nlu: str, rasa_url: Optional[str], policy: Optional[str], registry: Path, scorer: str,
                   user_id: Optional[int], log_dir: Path, no_log: bool, seed: int, source, start_rasa: bool = False,
                   exploration: float = 0.0):
    """The options chat and voice share, as the serving workflow's settings."""
    return ServeSettings(nlu=nlu, rasa_url=rasa_url, start_rasa=start_rasa, policy=policy, registry=registry, scorer=scorer,
                         user_id=user_id, seed=seed, log_dir=log_dir, log=not no_log, source=source, exploration=exploration)


def report_log(written) -> None:
    if written is not None:
        path, n, turns = written
        err.print(f"[dim]logged {n} {plural('conversation', n)}, {turns} {plural('turn', turns)}, to {escape(str(path))}[/]")


@app.command()
def chat(
    nlu: Nlu = SERVE_DEFAULTS.nlu,
    rasa_url: RasaUrl = SERVE_DEFAULTS.rasa_url,
    start_rasa: bool = typer.Option(False, "--start-rasa", help="Start a Rasa server from .venv-rasa if none answers."),
    policy: ServePolicy = SERVE_DEFAULTS.policy,
    registry: Registry = SERVE_DEFAULTS.registry,
    scorer: ServeScorer = SERVE_DEFAULTS.scorer,
    user_id: UserId = SERVE_DEFAULTS.user_id,
    script: Optional[Path] = typer.Option(None, "--script", help="Read your lines from FILE (non-interactive)."),
    log_dir: LogDir = SERVE_DEFAULTS.log_dir,
    no_log: NoLog = False,
    no_audio: NoAudio = False,
    seed: ServeSeed = SERVE_DEFAULTS.seed,
    exploration: Exploration = SERVE_DEFAULTS.exploration,
) -> None:
    """Talk with Segue in the terminal until it finds you music (say "stop" to leave)."""
    from logs.manifest import LogSource

    from .workflows.serve import open_session

    lines = _lines(script)
    session = open_session(serve_settings(nlu=nlu, rasa_url=rasa_url, start_rasa=start_rasa, policy=policy, registry=registry,
                                          scorer=scorer, user_id=user_id, log_dir=log_dir, no_log=no_log, seed=seed, exploration=exploration,
                                          source=LogSource.CHAT), Reporter())
    manager = session.manager
    audio = _Audio(not no_audio)
    err.print(f"[dim]{escape(session.describe())}[/]")
    out.print(f"[bold cyan]segue>[/] {manager.greet().text}", highlight=False)
    try:
        while True:
            if lines is None:
                try:
                    text = input("you> ")
                except EOFError:
                    break
                if not text.strip():  # an Enter on its own says nothing: asked again, not answered for the person
                    continue
            else:
                text = next(lines, None)
                if text is None:
                    if not manager.finished:  # as `segue voice` says of its input; piped stdin too
                        source = "the script" if script is not None else "the input"
                        err.print(f"note: {source} ended before the conversation did: Segue's last question is unanswered"
                                  + (" (counted as abandoned)" if not no_log else ""), highlight=False)
                    break
                if not text.strip():  # a blank line of the script is nothing said (not a turn)
                    continue
                shown = "".join(ch for ch in text[:200] if ch >= " " or ch == "\t")  # no raw control bytes on the terminal
                out.print("[bold]you>[/] " + escape(shown), highlight=False)
            turn = manager.respond(text)
            out.print(f"[bold cyan]segue>[/] {escape(turn.text)}", highlight=False)
            if turn.play_track is not None:
                audio.play(session.catalog, turn.play_track)
            if turn.finished and manager.conversation.state.stopped:
                break
    except KeyboardInterrupt:
        err.print("interrupted")
    finally:
        report_log(session.close())


@nlu_app.command("parse")
def nlu_parse(
    text: str = typer.Argument(..., help="One utterance."),
    nlu: str = typer.Option("embedded", "--nlu", help="embedded (default) or rasa."),
    rasa_url: Optional[str] = typer.Option(None, "--rasa-url", help="Rasa server (default http://localhost:5005)."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="The prompt it answers (e.g. play_sample), for context."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Understand one utterance: acts, slots, sentiment, confidence."""
    from dialogue.nlu import make_nlu
    from dialogue.prompts import PromptId
    from recommender.catalog import Catalog

    if not text.strip():
        raise SegueError(f"nlu parse needs an utterance to understand, got {text!r}")
    context = None
    if prompt is not None:
        try:
            context = PromptId(prompt)
        except ValueError:
            raise SegueError(f"--prompt must be one of {', '.join(p.value for p in PromptId)}, got {prompt!r}") from None
    result = make_nlu(nlu, catalog=Catalog.load(), rasa_url=rasa_url).parse(text, prompt=context)
    if as_json:
        print_json(result.to_json())
        return
    acts = ", ".join(str(a) for a in result.acts) or "(nothing understood)"
    out.print(f"{acts}   sentiment {result.sentiment:+.2f}, confidence {result.confidence:.2f}", highlight=False)


@nlu_app.command("export")
def nlu_export(
    out_dir: Path = typer.Option(Path("runs/rasa"), "--out", help="Rasa project folder to write."),
) -> None:
    """Write the NLU training data and domain in Rasa's YAML (validated against Rasa's schemas)."""
    from dialogue.nlu.rasa_data import write_rasa_project
    from recommender.catalog import Catalog

    if out_dir.exists() and not out_dir.is_dir():
        raise SegueError(f"--out {out_dir} is a file: give a folder for the Rasa project")
    paths = write_rasa_project(out_dir, Catalog.load())
    out.print("wrote " + ", ".join(str(p) for p in paths.values()) + " (valid against Rasa 3.6's schemas)")
