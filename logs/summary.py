"""Summary statistics of a log folder (``segue logs summary``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dialogue.prompts import PROMPTS

from .manifest import LogManifest
from .store import Folders, read_parts, segue_metadata, unlisted_files

__all__ = ["summarize", "summarize_table", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = ["conversation_id", "turn", "prompt", "reward", "success", "abandoned", "truncated", "n_prompts", "persona"]


def summarize_table(table: pa.Table) -> dict:
    """The JSON summary: conversations, turns, success_rate, mean_prompts,
    usefulness_rate (share of prompts labelled useful), abandon_rate,
    prompt_share, and more (percentiles of length, per-persona figures)."""
    turns = table.num_rows
    first = (table["turn"].to_numpy() == 0)
    n_conv = int(first.sum())
    if n_conv == 0:
        return {"conversations": 0, "turns": 0, "success_rate": 0.0, "mean_prompts": 0.0, "usefulness_rate": 0.0,
                "abandon_rate": 0.0, "prompt_share": {p.id.value: 0.0 for p in PROMPTS}}
    success = table["success"].to_numpy(zero_copy_only=False)[first]
    abandoned = table["abandoned"].to_numpy(zero_copy_only=False)[first]
    truncated = table["truncated"].to_numpy(zero_copy_only=False)[first]
    lengths = table["n_prompts"].to_numpy()[first].astype(np.int64)
    reward = table["reward"].to_numpy(zero_copy_only=False).astype(np.float64)
    persona = np.asarray(table["persona"].to_pylist(), dtype=object)[first] if "persona" in table.column_names else None
    counts = {d["values"]: d["counts"] for d in pc.value_counts(table["prompt"]).to_pylist()}
    share = {p.id.value: counts.get(p.id.value, 0) / turns for p in PROMPTS}
    conv_index = np.cumsum(first) - 1
    usefulness_per_conv = np.bincount(conv_index, weights=reward, minlength=n_conv)
    summary = {
        "conversations": n_conv,
        "turns": int(turns),
        "success_rate": float(success.mean()),
        "mean_prompts": float(lengths.mean()),
        "usefulness_rate": float(reward.mean()),
        "usefulness_per_conversation": float(usefulness_per_conv.mean()),
        "abandon_rate": float(abandoned.mean()),
        "truncated_rate": float(truncated.mean()),
        "prompts_percentiles": {str(q): float(np.percentile(lengths, q)) for q in (50, 90, 99)},
        "max_prompts": int(lengths.max()),
        "conversations_over_30_prompts": int((lengths > 30).sum()),
        "prompt_share": share,
    }
    if persona is not None:
        summary["personas"] = {
            name: {
                "conversations": int((persona == name).sum()),
                "success_rate": float(success[persona == name].mean()),
                "mean_prompts": float(lengths[persona == name].mean()),
                "max_prompts": int(lengths[persona == name].max()),
            }
            for name in sorted(set(persona.tolist()))
        }
    return summary


def summarize(folders: Folders) -> dict:
    """Validate every part of one log folder or several and summarize them together, with per-source counts
    (``sources``: simulated, chat, voice, imported -> conversations, turns, success_rate) and the files a folder
    holds but does not read (``ignored_files``). Raises ``LogValidationError`` as ``logs.read_parts`` does."""
    parts = read_parts(folders)
    table = pa.concat_tables([t.select(SUMMARY_COLUMNS) for _, t in parts])
    summary = summarize_table(table)
    sources: dict[str, dict] = {}
    for path, part in parts:
        source = LogManifest.from_metadata(segue_metadata(part.schema.metadata), where=str(path)).source.value
        first = part["turn"].to_numpy() == 0
        entry = sources.setdefault(source, {"conversations": 0, "turns": 0, "successes": 0})
        entry["conversations"] += int(first.sum())
        entry["turns"] += part.num_rows
        entry["successes"] += int(part["success"].to_numpy(zero_copy_only=False)[first].sum())
    summary["sources"] = {name: {"conversations": e["conversations"], "turns": e["turns"],
                                 "success_rate": e["successes"] / e["conversations"] if e["conversations"] else 0.0}
                          for name, e in sorted(sources.items())}
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    summary["ignored_files"] = {str(f): unlisted_files(f) for f in folders if unlisted_files(f)}
    return summary
