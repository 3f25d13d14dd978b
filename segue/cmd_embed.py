"""``segue embeddings train|show`` and ``segue bench scorer``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from core.errors import SegueError
from recommender.embeddings import DEFAULT_EMBEDDINGS, EmbeddingSettings

from .app import bench_app, embeddings_app, err, out, print_json
from .progress import Reporter

__all__: list[str] = []


def _summary_table(meta: dict) -> Table:
    ev = meta.get("evaluation", {})
    table = Table(title=f"embeddings {meta.get('version')}", show_header=True)
    table.add_column("measure")
    table.add_column("model", justify="right")
    table.add_column("popularity", justify="right")
    table.add_column("random", justify="right")
    for part, label in (("heldout", "held-out plays"), ("cold_start", "cold-start tracks")):
        r = ev.get(part)
        if r:
            for m in ("recall@10", "ndcg@10"):
                table.add_row(f"{label} {m}", *(f"{r[w][m]:.4f}" for w in ("model", "popularity", "random")))
    if ev:
        table.add_row("OPIS across genres / user segments", f"{ev['opis_genre']:.4f} / {ev['opis_user']:.4f}", "", "")
        table.add_row("play threshold (cosine) / F1 there", f"{ev['threshold']:.3f} / {ev['f1_at_threshold']:.3f}", "", "")
    return table


@embeddings_app.command("train")
def train(
    out_dir: Path = typer.Option(DEFAULT_EMBEDDINGS, "--out", help="Folder to write (replaced only when training succeeds)."),
    histories: Optional[Path] = typer.Option(
        None, "--histories",
        help="Listening-history table, Parquet or CSV (user_id, track_id, plays[, timestamp, segment]: see "
             "recommender/histories.py; `segue simulate-histories` writes one). Default: the simulator population's "
             "histories for --users + --eval-users users, generated in memory."),
    dim: int = typer.Option(64, "--dim", help="Embedding dimension."),
    steps: int = typer.Option(1_500, "--steps", help="Gradient steps of the towers."),
    users: Optional[int] = typer.Option(
        None, "--users",
        help="Training users. Without --histories: simulated users to generate besides the evaluation users (default "
             "10,000). With --histories: at most this many of the table's users train (default: all but the evaluation users)."),
    eval_users: int = typer.Option(2_000, "--eval-users", help="Evaluation users, drawn at random from the histories' users."),
    cold_epochs: int = typer.Option(EmbeddingSettings.cold_epochs, "--cold-epochs",
                                    help="Most epochs of the cold-start network (content -> embedding of unplayed tracks)."),
    cold_patience: int = typer.Option(EmbeddingSettings.cold_patience, "--cold-patience",
                                      help="Stop the cold-start network after this many epochs without a better "
                                           "validation cosine, keeping its best epoch (default 0: run every epoch)."),
    tcm: bool = typer.Option(True, "--tcm/--no-tcm", help="Threshold-consistent margin regularizer."),
    dual: bool = typer.Option(False, "--dual", help="Separate source and target embeddings per track (default: one)."),
    seed: int = typer.Option(0, "--seed", help="Training seed (also picks the evaluation users and cold tracks)."),
    threads: int = typer.Option(EmbeddingSettings.threads, "--threads", help="torch threads for training."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Catalog file (default: the vendored one)."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as JSON."),
) -> None:
    """Train track/user embeddings on listening histories, evaluate them, and save them with a version."""
    from .workflows.embeddings import DEFAULT_SIMULATED_USERS, EmbeddingsJob, train_scorer_embeddings

    settings = EmbeddingSettings(dim=dim, steps=steps, train_users=users if histories is not None else None,
                                 eval_users=eval_users, tcm=tcm, tied=not dual, seed=seed,
                                 threads=threads, cold_epochs=cold_epochs, cold_patience=cold_patience)
    job = EmbeddingsJob(settings, out_dir, histories, users if users is not None and histories is None else DEFAULT_SIMULATED_USERS,
                        catalog)
    emb, report = train_scorer_embeddings(job, Reporter())
    err.print(f"saved {emb.version} to {out_dir} (trained in {emb.meta['train_seconds']} s)")
    if as_json:
        print_json({"version": emb.version, "path": str(out_dir), "histories": emb.meta["histories"], **report})
    else:
        out.print(_summary_table(emb.meta))


@embeddings_app.command("show")
def show(
    folder: Path = typer.Argument(DEFAULT_EMBEDDINGS, help="Embeddings folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON."),
) -> None:
    """Version, settings and evaluation of saved embeddings."""
    from recommender.embeddings import Embeddings

    emb = Embeddings.load(folder)
    meta = {k: v for k, v in emb.meta.items() if k != "curve"}
    if as_json:
        print_json({**meta, "threshold": emb.threshold})
        return
    out.print(f"{emb.version}: {emb.target.shape[0]:,} tracks x {emb.dim} dims, {int(emb.cold.sum()):,} cold, "
              f"catalog {meta.get('catalog')}, trained {meta.get('created')} in {meta.get('train_seconds')} s")
    out.print(_summary_table(emb.meta))


@bench_app.command("scorer")
def bench_scorer_cmd(
    tracks: int = typer.Option(1_000_000, "--tracks", help="Synthetic tracks (random unit vectors)."),
    dim: int = typer.Option(128, "--dim", help="Embedding dimension."),
    batch: int = typer.Option(1_024, "--batch", help="Queries per batch."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch and faiss (default: torch's)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Top-10 speed: this scorer on the CPU, faiss-cpu IndexFlatIP on the same vectors, and CUDA when present."""
    from recommender.topk import bench_scorer

    if not 1 <= batch <= 65_536:
        raise SegueError(f"--batch must be between 1 and 65,536, got {batch}")
    if not 1_000 <= tracks <= 50_000_000:  # checked again by bench_scorer; here so that a refusal is the only line
        raise SegueError(f"--tracks must be between 1,000 and 50,000,000, got {tracks}")
    if not 2 <= dim <= 4_096:
        raise SegueError(f"--dim must be between 2 and 4,096, got {dim}")
    err.print(f"timing top-10 over {tracks:,} x {dim} ...")
    result = bench_scorer(tracks, dim, batch=batch, threads=threads)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"top-10 over {tracks:,} tracks x {dim} dims")
    for col in ("engine", "single query p50 / p99 (ms)", f"batch of {batch} (queries/s)", "recall"):
        table.add_column(col)
    gpu = result["gpu"] or {}
    engines = [("this scorer, CPU (" + result["cpu"]["precision"] + " candidates)", result["cpu"]), ("faiss-cpu IndexFlatIP", result["faiss_cpu"])]
    engines += [(f"{name.replace('_', ' ')}, {gpu['name']}", gpu[name]) for name in ("project", "plain_fp32", "plain_tf32", "plain_bf16") if name in gpu]
    for name, r in engines:
        table.add_row(name, f"{r['single_ms']:.3f} / {r['single_p99_ms']:.3f}", f"{r['batch_qps']:.0f}", f"{r['recall']:.3f}")
    roof = result["cpu_roofline"]
    table.add_row("CPU roofline (measured)", f"scan {roof['single_scan_ms_fp32']:.3f}", " / ".join(f"{k} {v:.0f}" for k, v in roof["batch_roofline_qps"].items()), "")
    if gpu:
        g = gpu["roofline"]
        table.add_row("GPU roofline (measured)", f"scan {g['single_scan_ms_fp32']:.4f}", " / ".join(f"{k} {v:.0f}" for k, v in g["batch_roofline_qps"].items()), "")
    out.print(table)
    out.print(json.dumps(result["cpu_vs_faiss"]))
