"""Data commands: ``segue simulate``, ``segue simulate-histories``, ``segue logs ...``, ``segue catalog ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from core.errors import SegueError

from .app import app, catalog_app, err, logs_app, out, print_json
from .options import Address, Engine, use_engine
from .progress import Reporter, plural, unread_note


def _summary_table(summary: dict, title: str) -> Table:
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("conversations", "turns", "success_rate", "mean_prompts", "usefulness_rate",
                "usefulness_per_conversation", "abandon_rate", "truncated_rate", "max_prompts",
                "conversations_over_30_prompts"):
        if key in summary:
            value = summary[key]
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else f"{value:,}")
    for q, v in summary.get("prompts_percentiles", {}).items():
        table.add_row(f"prompts p{q}", f"{v:g}")
    for name, share in sorted(summary.get("prompt_share", {}).items(), key=lambda kv: -kv[1]):
        table.add_row(f"share {name}", f"{share:.3f}")
    for persona, figures in summary.get("personas", {}).items():
        table.add_row(f"{persona}: success / prompts",
                      f"{figures['success_rate']:.3f} / {figures['mean_prompts']:.2f} ({figures['conversations']:,})")
    for source, figures in summary.get("sources", {}).items():
        table.add_row(f"source {source}: conversations / turns / success",
                      f"{figures['conversations']:,} / {figures['turns']:,} / {figures['success_rate']:.3f}")
    return table


# ------------------------------------------------------------------ simulate
@app.command()
def simulate(
    conversations: int = typer.Option(50_000, "--conversations", "-n", help="Conversations to log."),
    seed: int = typer.Option(0, "--seed", help="Seed of the collection (same seed, same logs)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the Parquet parts (created; resumable)."),
    policy: str = typer.Option("rule", "--policy", help="Behaviour policy served: rule, a policy folder or a registry name."),
    registry: Path = typer.Option(Path("runs/policies"), "--registry", help="Policy registry for --policy names."),
    exploration: float = typer.Option(0.3, "--exploration", help="Randomized share: uniform over valid prompts, in [0, 1]."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature over the rule policy's preferences."),
    part_size: int = typer.Option(2_500, "--part-size", help="Conversations per Parquet part."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    envs: Optional[int] = typer.Option(None, "--envs", help="Conversations each process steps together on the vector env "
                                       "(default 64; the same logs whatever the value)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored freemusi.cc)."),
    nlu_error_rate: float = typer.Option(0.08, "--nlu-error-rate", help="Simulated NLU/ASR error rate, in [0, 1]."),
    scorer: str = typer.Option("baseline", "--scorer", help="baseline, popularity (the same samples for everyone), or an "
                               "embeddings folder (segue embeddings train)."),
    engine: Engine = "local",
    address: Address = None,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Log conversations of a behaviour policy served with a randomized share (the rule policy by default) with
    simulated users; every logged prompt carries its probability under that mixture."""
    from logs.manifest import CollectionSettings
    from policy.registry import resolve
    from simulator.config import SimulatorConfig

    from .workflows.simulate import SimulateSettings, simulate_logs

    if not 0.0 <= nlu_error_rate <= 1.0:  # SimulatorConfig says nlu_error_rate: the option's name here
        raise SegueError(f"--nlu-error-rate must be within [0, 1], got {nlu_error_rate}")
    use_engine(engine, address, workers)

    folder = resolve(policy, registry)
    collection = CollectionSettings(
        policy="rule" if folder is None else str(folder.resolve()),
        conversations=conversations, seed=seed, exploration=exploration, temperature=temperature,
        part_size=part_size, simulator=SimulatorConfig(nlu_error_rate=nlu_error_rate),
        catalog_path=str(catalog.resolve()) if catalog else None,
        scorer=scorer if scorer in ("baseline", "popularity") else str(Path(scorer).resolve()),
    )
    try:
        result = simulate_logs(SimulateSettings(out_dir, collection, workers, envs), Reporter())
    except KeyboardInterrupt:
        err.print(f"interrupted: finished parts are kept in {out_dir}; run the same command again to resume")
        raise typer.Exit(130) from None
    summary = {**result.summary, "seconds": round(result.seconds, 2), "parts_written": result.parts_written,
               "parts_reused": result.parts_reused}
    if as_json:
        print_json(summary)
    else:
        out.print(_summary_table(summary, f"{out_dir} ({result.parts_written} {plural('part', result.parts_written)} written, "
                                          f"{result.parts_reused} reused, "
                                          f"{result.seconds:.1f} s)"))


# ------------------------------------------------------------------ simulate-histories
@app.command("simulate-histories")
def simulate_histories(
    users: int = typer.Option(12_000, "--users", help="Simulated users, ids 0..N-1 (12,000: the 10,000 training and "
                                                       "2,000 evaluation users of `segue embeddings train`)."),
    out_file: Path = typer.Option(..., "--out", help="File to write: Parquet, or CSV when it ends in .csv (.csv.gz, .csv.bz2, .csv.zst: compressed) (atomically; a folder is refused)."),
    population_seed: int = typer.Option(2021, "--population-seed", "--seed",
                                        help="Seed of the population: who the users are (same seed, same table)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored one)."),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as JSON on stdout."),
) -> None:
    """Write the simulated population's listening histories as a history table (user_id, track_id, plays, segment)."""
    from .workflows.embeddings import HistoriesJob
    from .workflows.embeddings import simulate_histories as run_histories

    result = run_histories(HistoriesJob(out_file, users, population_seed, catalog), Reporter())
    if as_json:
        print_json(result.to_dict())
    else:
        out.print(f"wrote {result.rows:,} rows ({result.users:,} users, {result.plays:,} plays, population seed "
                  f"{result.population_seed}) to {result.path} ({result.seconds:.1f} s)")


# ------------------------------------------------------------------ logs
@logs_app.command("summary")
def logs_summary(
    folders: list[Path] = typer.Argument(..., help="Log folder(s): part-NNNNN.parquet files and their manifest.json."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Validate one log folder or several (read together) and summarize them, with per-source counts."""
    from logs.summary import summarize

    summary = summarize(folders)
    if as_json:
        print_json(summary)
        return
    out.print(_summary_table(summary, ", ".join(map(str, folders))))
    for folder, names in summary["ignored_files"].items():  # summarize listed them already
        err.print(unread_note(folder, names))


@logs_app.command("validate")
def logs_validate(
    folders: list[Path] = typer.Argument(..., help="Log folder(s): part-NNNNN.parquet files and their manifest.json."),
) -> None:
    """Check every part: its schema column by column, required values, propensities, prompt ids, features, turn order,
    outcomes; and, across parts and folders, that no conversation id is in two parts."""
    from logs.store import list_parts, read_parts

    parts = read_parts(folders)
    rows = sum(t.num_rows for _, t in parts)
    notes = Reporter(err, live=False)
    for folder in folders:
        notes.note_unread([folder])
        n = len(list_parts(folder))
        out.print(f"{folder}: {n} {plural('part', n)}, all valid", highlight=False)
    out.print(f"{len(parts)} {plural('part', len(parts))}, {rows:,} turns, all valid" + (" (conversation ids unique across them)" if len(parts) > 1 else ""),
              highlight=False)


@logs_app.command("export")
def logs_export(
    folders: list[Path] = typer.Argument(..., help="Log folder(s) to export."),
    out_file: Path = typer.Option(..., "--out", help="The interchange table to write: .parquet, or .csv."),
) -> None:
    """Write logs as the interchange table another system can read (columns in logs/interchange.py)."""
    from logs.interchange import export_logs

    if out_file.exists():
        raise SegueError(f"--out {out_file} exists: delete it or choose another file (nothing is overwritten)")
    rows = export_logs(folders, out_file)
    Reporter(err, live=False).note_unread(folders)  # a stray copy is not exported: said, as validate says it
    out.print(f"wrote {rows:,} rows to {out_file}", highlight=False)


@logs_app.command("import")
def logs_import(
    table: Path = typer.Argument(..., help="The interchange table (Parquet or CSV; columns in logs/interchange.py)."),
    out_dir: Path = typer.Option(..., "--out", help="A new folder for Segue's parts."),
    histories: Optional[Path] = typer.Option(None, "--histories", help="Listening-history table whose users are the "
                                             "table's user_id (their history features; default: none)."),
    scorer: str = typer.Option("baseline", "--scorer", help="The scorer the conversations were served with: baseline or "
                               "an embeddings folder."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored one)."),
    part_size: int = typer.Option(2_500, "--part-size", help="Conversations per Parquet part."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Import conversations logged by another system: replay Segue's state tracker and usefulness labeller to add
    features and rewards, validate, and write Segue's own parts."""
    from logs.interchange import import_logs

    if catalog is not None and not catalog.is_file():
        raise SegueError(f"--catalog file not found: {catalog}")
    with Reporter().bar("replaying conversations", None) as progress:
        result = import_logs(table, out_dir, histories=histories, scorer=scorer,
                             catalog_path=str(catalog.resolve()) if catalog else None, part_size=part_size,
                             progress=progress)
    summary = {"folder": str(result.folder), "conversations": result.conversations, "turns": result.turns, "parts": result.parts,
               "outside_mask": result.outside_mask, "outside_mask_without_history": result.outside_mask_without_history,
               "users_without_history": result.users_without_history}
    if as_json:
        print_json(summary)
    else:
        out.print(f"imported {result.conversations:,} conversations ({result.turns:,} turns) into {result.folder} "
                  f"({result.parts} {plural('part', result.parts)})", highlight=False)
        if result.users_without_history:
            err.print(f"note: {result.users_without_history:,} of {result.conversations:,} conversations have a user_id "
                      f"that {histories} does not hold: they were replayed as listeners with no history (give the "
                      "histories of every user in the table)", highlight=False)
        if result.outside_mask:
            without = result.outside_mask_without_history
            why = ("the table's system has other rules, or the replay lacks what it knew: the optional confidence and "
                   "opening_* columns")
            fix = "give these users' histories too" if histories else "give --histories with the table's users"
            if without == result.outside_mask:
                why = (f"all ask_familiarity, in conversations replayed with no listening history, where Segue never "
                       f"asks it: {fix} if the table's system had them")
            elif without:
                why += f"; {without:,} of them ask_familiarity with no listening history ({fix})"
            err.print(f"note: {result.outside_mask:,} prompt(s) were asked where Segue's replayed state would not ask them "
                      f"({why}); they are kept, marked valid", highlight=False)


# ------------------------------------------------------------------ catalog
@catalog_app.command("build")
def catalog_build(
    source: Path = typer.Option(..., "--source", help="freemusi.cc folder with tracks.csv and releases.csv."),
    out_file: Path = typer.Option(Path("recommender/data/freemusicc.parquet"), "--out", help="Parquet file to write."),
) -> None:
    """Derive the catalog Parquet from the freemusi.cc database."""
    from recommender.catalog import write_catalog
    from recommender.derive import derive_freemusicc

    table = derive_freemusicc(source)
    write_catalog(table, out_file)
    out.print(f"wrote {table.num_rows:,} tracks to {out_file}")


@catalog_app.command("synthetic")
def catalog_synthetic(
    tracks: int = typer.Option(..., "--tracks", help="Number of tracks (up to 20,000,000)."),
    seed: int = typer.Option(0, "--seed", help="Seed (same seed, same catalog)."),
    out_file: Path = typer.Option(..., "--out", help="Parquet file to write."),
) -> None:
    """Generate a seeded synthetic catalog with the real catalog's schema."""
    from recommender.catalog import write_catalog
    from recommender.synthetic import synthetic_table

    table = synthetic_table(tracks, seed=seed)
    write_catalog(table, out_file)
    out.print(f"wrote {table.num_rows:,} synthetic tracks to {out_file}")


@catalog_app.command("info")
def catalog_info(
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Counts of tracks, genres, styles, energies and moods."""
    from recommender.catalog import Catalog
    from recommender.vocab import ENERGIES, MOODS

    cat = Catalog.load(catalog)
    info = {
        "name": cat.name,
        "tracks": cat.n,
        "artists": len(cat.artist_names),
        "genres": {g: int(cat.genre_matrix[:, i].sum()) for i, g in enumerate(cat.genre_names)},
        "styles": len(cat.style_names),
        "energy": {e: int((cat.energy == i).sum()) for i, e in enumerate(ENERGIES)},
        "mood": {m: int((cat.mood == i).sum()) for i, m in enumerate(MOODS)} | {"unknown": int((cat.mood < 0).sum())},
        "fingerprint": cat.fingerprint,
    }
    if "energy_source" in cat.table.column_names:
        import pyarrow.compute as pc

        info["energy_source"] = {d["values"]: d["counts"] for d in pc.value_counts(cat.table["energy_source"]).to_pylist()}
    if as_json:
        print_json(info)
        return
    from rich.table import Table

    table = Table(title=f"catalog {info['name']} ({info['fingerprint']})", show_header=False)
    table.add_row("tracks", f"{info['tracks']:,}")
    table.add_row("artists", f"{info['artists']:,}")
    table.add_row("styles", f"{info['styles']:,}")
    for key in ("genres", "energy", "mood", "energy_source"):
        if key in info:
            table.add_row(key if key != "genres" else "genres (a track may have several)",
                          ", ".join(f"{k} {v:,}" for k, v in sorted(info[key].items(), key=lambda kv: -kv[1])))
    out.print(table)


@catalog_app.command("snippet")
def catalog_snippet(
    track_id: str = typer.Argument(..., help="Track id, e.g. fmc-00005."),
    out_file: Path = typer.Option(..., "--out", help="WAV file to write."),
    seconds: float = typer.Option(4.0, "--seconds", help="Length in seconds (0.5 to 30)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored one)."),
) -> None:
    """Render a track's synthesized snippet to a WAV file."""
    import pyarrow.compute as pc

    from dialogue.speech.audio import write_wav
    from recommender.catalog import Catalog
    from recommender.snippet import SAMPLE_RATE, render_snippet

    if not 0.5 <= seconds <= 30:
        raise SegueError(f"--seconds must be between 0.5 and 30, got {seconds}")
    if out_file.suffix.lower() != ".wav":  # a WAV file named .mp3 was written
        raise SegueError(f"--out must be a .wav file (the snippet is written as 16-bit WAV), got {str(out_file)!r}")
    if out_file.is_dir():
        raise SegueError(f"--out {out_file} is a folder: give a .wav file name")
    cat = Catalog.load(catalog)
    hits = pc.index(cat.table["track_id"], track_id).as_py()
    if hits < 0:
        raise SegueError(f"no track with id {track_id!r} in catalog {cat.name}")
    write_wav(out_file, render_snippet(cat, hits, seconds=seconds), SAMPLE_RATE)
    track = cat.track(hits)
    out.print(f"wrote {seconds:g} s of {track.title!r} by {track.artist} ({track.genre}, {track.energy}) to {out_file}")
