"""``segue chat``, ``segue nlu parse`` and ``segue nlu export``."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import typer

from core.errors import SegueError

from .app import app, err, nlu_app, out, print_json

__all__: list[str] = []

CHAT_LOGS = Path("runs") / "chats"
EMBEDDINGS = Path("runs") / "embeddings"


def _lines(script: Optional[Path]) -> Iterator[str] | None:
    """Script lines, piped stdin lines, or None for an interactive terminal."""
    if script is not None:
        if not script.is_file():
            raise SegueError(f"--script file not found: {script}")
        text = script.read_bytes().decode("utf-8", errors="replace")
        return iter(text.splitlines())
    if not sys.stdin.isatty():
        return (line.rstrip("\n") for line in sys.stdin)
    return None


def _pick_scorer(spec: str, catalog, record_features: str, record_version: str | None):
    """The scorer to serve with: ``auto`` = the trained embeddings when they fit the policy, else the baseline."""
    from recommender.embedding_scorer import make_scorer

    if spec != "auto":
        return make_scorer(spec, catalog)
    if (EMBEDDINGS / "embeddings.json").is_file():
        try:
            scorer = make_scorer(str(EMBEDDINGS), catalog)
        except SegueError as exc:
            err.print(f"note: not using {EMBEDDINGS} ({exc}); using the baseline scorer")
            return make_scorer("baseline", catalog)
        if record_features == "base" or (record_version or "").endswith(scorer.version):
            return scorer
    return make_scorer("baseline", catalog)


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


@app.command()
def chat(
    nlu: str = typer.Option("embedded", "--nlu", help="embedded (default) or rasa."),
    rasa_url: Optional[str] = typer.Option(None, "--rasa-url", help="Rasa server (default http://localhost:5005)."),
    start_rasa: bool = typer.Option(False, "--start-rasa", help="Start a Rasa server from .venv-rasa if none answers."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Policy to serve (default: the registry's current one)."),
    registry: Path = typer.Option(Path("runs/policies"), "--registry", help="Policy registry."),
    scorer: str = typer.Option("auto", "--scorer", help="auto (embeddings in runs/embeddings when they fit), baseline, or a folder."),
    user_id: Optional[int] = typer.Option(None, "--user-id", help="Borrow simulated user N's listening history as yours."),
    script: Optional[Path] = typer.Option(None, "--script", help="Read your lines from FILE (non-interactive)."),
    log_dir: Path = typer.Option(CHAT_LOGS, "--log-dir", help="Where the conversation is logged (Parquet)."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log the conversation."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Never try to play snippets."),
    seed: int = typer.Option(0, "--seed", help="Seed of the policy's sampling and the phrasing."),
) -> None:
    """Talk with Segue in the terminal until it finds you music (say "stop" to leave)."""
    lines = _lines(script)
    session = build_session(nlu=nlu, rasa_url=rasa_url, start_rasa=start_rasa, policy=policy, registry=registry,
                            scorer=scorer, user_id=user_id, seed=seed)
    manager, catalog, ref, chosen, understanding = (session.manager, session.catalog, session.policy, session.scorer,
                                                    session.nlu)
    audio = _Audio(not no_audio)
    err.print(f"[dim]{session.describe(user_id)}[/]")
    out.print(f"[bold cyan]segue>[/] {manager.greet().text}", highlight=False)
    try:
        while True:
            if lines is None:
                try:
                    text = input("you> ")
                except EOFError:
                    break
            else:
                text = next(lines, None)
                if text is None:
                    break
                out.print("[bold]you>[/] " + _escape(text[:200]), highlight=False)
            turn = manager.respond(text)
            out.print(f"[bold cyan]segue>[/] {_escape(turn.text)}", highlight=False)
            if turn.play_track is not None:
                audio.play(catalog, turn.play_track)
            if turn.finished and manager.conversation.state.stopped:
                break
    except KeyboardInterrupt:
        err.print("interrupted")
    finally:
        manager.end()
        if not no_log:
            _write_log(manager, log_dir, {"source": "chat", "nlu": understanding.name, "policy": ref,
                                          "scorer": chosen.version, "user_id": user_id, "seed": seed})


@dataclass
class ChatSession:
    manager: object
    catalog: object
    policy: str
    scorer: object
    nlu: object

    def describe(self, user_id: Optional[int]) -> str:
        return (f"policy {self.policy} ({self.manager.variant} features), scorer {self.scorer.version}, NLU {self.nlu.name}"
                + (f", history of user {user_id}" if user_id is not None else ""))


def build_session(*, nlu: str, rasa_url: Optional[str], start_rasa: bool, policy: Optional[str], registry: Path,
                  scorer: str, user_id: Optional[int], seed: int) -> ChatSession:
    """The catalog, served policy, scorer, NLU and dialogue manager that `segue chat` and `segue voice` share."""
    from dialogue.manager import DialogueManager
    from dialogue.nlu import make_nlu
    from policy.registry import current_policy, load_policy, read_record, resolve
    from recommender.catalog import Catalog
    from recommender.history import HistoryProfile

    catalog = Catalog.load()
    ref = policy or current_policy(registry)
    folder = resolve(ref, registry)
    record = read_record(folder) if folder is not None else None
    chosen = _pick_scorer(scorer, catalog, record.features if record else "base", record.feature_version if record else None)
    served, variant = load_policy(ref, catalog=catalog, registry=registry, scorer_version=chosen.version)
    profile = None
    if user_id is not None:
        from simulator.config import SimulatorConfig
        from simulator.population import Population

        if user_id < 0:
            raise SegueError(f"--user-id must be >= 0, got {user_id}")
        profile = HistoryProfile(catalog, Population(catalog, SimulatorConfig(), cache_size=1).user(user_id).plays)
    understanding = make_nlu(nlu, catalog=catalog, rasa_url=rasa_url, start_rasa=start_rasa)
    manager = DialogueManager(catalog, nlu=understanding, policy=served, variant=variant, scorer=chosen,
                              profile=profile, seed=seed, policy_name=ref)
    return ChatSession(manager, catalog, ref, chosen, understanding)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _write_log(manager, folder: Path, settings: dict) -> None:
    from logs.store import part_path, write_part

    table, n = manager.log_table()
    if n == 0:
        return
    folder.mkdir(parents=True, exist_ok=True)
    index = len(list(folder.glob("part-*.parquet")))
    while part_path(folder, index).exists():
        index += 1
    meta = manager.log_metadata(settings)
    meta.update({"segue.part": str(index), "segue.conversations": str(n), "segue.first_conversation": "0",
                 "segue.logged_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    write_part(table, part_path(folder, index), meta)
    err.print(f"[dim]logged {n} conversation(s), {table.num_rows} turns, to {part_path(folder, index)}[/]")


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

    paths = write_rasa_project(out_dir, Catalog.load())
    out.print("wrote " + ", ".join(str(p) for p in paths.values()) + " (valid against Rasa 3.6's schemas)")
