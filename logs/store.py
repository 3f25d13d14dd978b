"""Parquet parts: atomic writes, and a reader that reads only the parts a folder's manifest names and validates
every one of them.

A part is written to a temporary name in the same folder and renamed into
place, so a crash never leaves a half-written ``part-NNNNN.parquet``.

Which parts a folder holds (``list_parts``): a simulated collection's
``manifest.json`` records its settings, which name its parts
(``part-00000.parquet`` up to its last); a chat or voice log's ``manifest.json``
lists the parts its sessions added; a folder without one (chat logs of Segue 0.1)
holds the files named exactly ``part-NNNNN.parquet``. Any other file (a stray
``part-00001-copy.parquet``) is not read, and ``unlisted_files`` names it.
Reading several folders (``read_logs([a, b])``) also refuses a conversation id
seen in two parts, naming both, and parts whose features are not the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import SegueError

from .errors import LogValidationError, LogWriteError
from .schema import LOG_SCHEMA_VERSION
from .validate import expected_schema, feature_names, fixed_column, part_version, segue_metadata, validate_table

if TYPE_CHECKING:
    from .manifest import LogManifest

__all__ = ["PART_GLOB", "MANIFEST", "part_path", "write_part", "list_parts", "unlisted_files", "read_part", "read_parts", "read_logs",
           "validate_table", "read_manifest", "read_manifests", "common_manifest", "logs_fingerprint", "folder_manifest", "add_part_to_manifest", "check_session_folder",
           "segue_metadata", "feature_names", "fixed_column", "Folders"]

PART_GLOB = "part-*.parquet"
MANIFEST = "manifest.json"
_PART_NAME = re.compile(r"^part-\d{5}\.parquet$")
Folders = str | Path | Sequence[str | Path]


def part_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"part-{index:05d}.parquet"


@contextmanager
def atomic_file(path: Path, what: str):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (atomic rename), on any error it is
    removed. Raises ``LogWriteError`` naming ``what`` and the path when the file cannot be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise LogWriteError(f"cannot write {what}{path}: {exc.strerror or exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` to ``path``, atomically (``atomic_file``)."""
    with atomic_file(path, "") as tmp:
        tmp.write_text(text)


def write_part(table: pa.Table, path: Path, metadata: dict[str, str]) -> None:
    """Write ``table`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Raises ``LogWriteError`` (naming the path) when the file cannot be written; nothing half-written is left.
    """
    existing = table.schema.metadata or {}
    meta = {**{k.decode() if isinstance(k, bytes) else k: v for k, v in existing.items()}, **metadata}
    table = table.replace_schema_metadata(meta)
    with atomic_file(path, "log part ") as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())


# ------------------------------------------------------------------ which parts
def folder_manifest(folder: Path) -> dict | None:
    """The folder's ``manifest.json`` as a dict, or None when it has none; refuses one that is not JSON."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LogValidationError(f"{path} is not valid JSON ({exc}); restore it or remove the folder") from None
    if not isinstance(data, dict):
        raise LogValidationError(f"{path} is not a manifest (expected a JSON object)")
    return data


def check_session_folder(folder: Path) -> None:
    """Refuse to log chat or voice sessions into ``folder`` when it holds a simulated collection (its manifest has
    collection settings): raises ``LogWriteError``, before anything is written."""
    data = folder_manifest(folder) if Path(folder).is_dir() else None
    if data is not None and "settings" in data:
        raise LogWriteError(f"{folder} holds a simulated collection: chat and voice sessions are logged elsewhere (--log-dir)")


def add_part_to_manifest(folder: Path, name: str) -> None:
    """Record a new part in a chat/voice folder's ``manifest.json`` (created when missing; atomic)."""
    folder = Path(folder)
    data = folder_manifest(folder)
    if data is None:  # a folder of Segue 0.1's chat logs: its existing parts join the list
        data = {"segue_log_schema_version": LOG_SCHEMA_VERSION, "parts": sorted(p.name for p in folder.iterdir()
                                                                               if _PART_NAME.match(p.name))}
    if "settings" in data:
        raise LogWriteError(f"{folder} holds a simulated collection: chat and voice sessions are logged elsewhere (--log-dir)")
    parts = list(data.get("parts", []))
    if name not in parts:
        parts.append(name)
    write_text_atomic(folder / MANIFEST, json.dumps({**data, "parts": parts}, indent=2, sort_keys=True))


def _named_parts(folder: Path) -> list[str]:
    data = folder_manifest(folder)
    if data is None:
        return sorted(p.name for p in folder.iterdir() if _PART_NAME.match(p.name))
    if "settings" in data:
        from .manifest import CollectionSettings

        try:
            settings = CollectionSettings.from_dict(data["settings"])
        except (SegueError, TypeError, ValueError, KeyError) as exc:  # any malformed manifest is one clear error
            raise LogValidationError(f"{folder / MANIFEST}: its settings are not valid ({exc})") from None
        return [part_path(folder, i).name for i in range(settings.n_parts)]
    parts = data.get("parts")
    if not isinstance(parts, list) or not all(isinstance(p, str) and _PART_NAME.match(p) for p in parts):
        raise LogValidationError(f"{folder / MANIFEST}: 'parts' must be a list of part-NNNNN.parquet names")
    return parts


def list_parts(folder: str | Path) -> list[Path]:
    """The parts a reader reads from ``folder``, in order (see the module docstring).

    Raises ``LogValidationError`` when the folder is missing, holds no part, or lacks a part its manifest names.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LogValidationError(f"log folder not found: {folder}" + (" (it is a file)" if folder.exists() else ""))
    names = _named_parts(folder)
    if not names:
        raise LogValidationError(f"no log parts (part-NNNNN.parquet) in {folder}")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise LogValidationError(f"{folder / missing[0]} is named by {MANIFEST} but missing ({len(missing)} missing in all): "
                                 "an interrupted collection is finished by running the same command again")
    return [folder / n for n in names]


def unlisted_files(folder: str | Path) -> list[str]:
    """Parquet files in ``folder`` that are not among its parts (and so are never read): stray copies, leftovers."""
    folder = Path(folder)
    read = {p.name for p in list_parts(folder)}
    return sorted(p.name for p in folder.glob("*.parquet") if p.name not in read)


# ------------------------------------------------------------------ reading
def _upgrade(table: pa.Table, meta: dict[str, str], path: Path) -> pa.Table:
    """A validated part in the current schema: its known columns only, in order; schema version 1 gains
    ``forced`` (False) and an unknown opening (empty acts, sentiment and confidence 0)."""
    target = expected_schema({**meta, "segue.log_schema_version": LOG_SCHEMA_VERSION}, path)
    columns = {}
    n = table.num_rows
    for field in target:
        if field.name in table.column_names:
            columns[field.name] = table[field.name]
        elif field.name == "forced":
            columns[field.name] = pa.array(np.zeros(n, dtype=bool))
        elif field.name == "opening_acts":
            columns[field.name] = pa.array([[]] * n, type=field.type)
        else:
            columns[field.name] = pa.array(np.zeros(n, dtype=np.float32))
    return pa.table(columns, schema=target.with_metadata(table.schema.metadata))


def read_part(path: Path, *, validate: bool = True) -> pa.Table:
    """One part, validated (``validate_table``), in the current schema (``_upgrade``).

    Raises ``LogValidationError`` naming the part for an unreadable file or a failed check.
    """
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read log part {path}: {exc}") from None
    meta = segue_metadata(table.schema.metadata)
    if validate:
        validate_table(table, path)
    return _upgrade(table, meta, path)


def _folders(folders: Folders) -> list[Path]:
    if isinstance(folders, (str, Path)):
        return [Path(folders)]
    out = [Path(f) for f in folders]
    if not out:
        raise LogValidationError("no log folder given")
    if len({f.resolve() for f in out}) != len(out):
        raise LogValidationError(f"the same log folder is given twice: {', '.join(map(str, out))}")
    return out


def _check_same_features(parts: list[tuple[Path, pa.Table]]) -> None:
    first_path, first = parts[0]
    names = {c: feature_names(segue_metadata(first.schema.metadata), c) for c in ("features", "history_features")}
    for path, table in parts[1:]:
        meta = segue_metadata(table.schema.metadata)
        for column, expected in names.items():
            if feature_names(meta, column) != expected:
                raise LogValidationError(f"{path} and {first_path} hold other state features ({column}): logs of another "
                                         "Segue version cannot be read together")


def _check_unique_ids(parts: list[tuple[Path, pa.Table]]) -> None:
    ids, owner = [], []
    for i, (_, table) in enumerate(parts):
        conv = table["conversation_id"].to_numpy()
        firsts = conv[np.r_[True, conv[1:] != conv[:-1]]] if len(conv) else conv
        ids.append(firsts)
        owner.append(np.full(len(firsts), i))
    ids, owner = np.concatenate(ids), np.concatenate(owner)
    order = np.argsort(ids, kind="stable")
    same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if same.size:
        a, b = order[same[0]], order[same[0] + 1]
        raise LogValidationError(f"conversation {int(ids[a])} is in {parts[owner[a]][0]} and in {parts[owner[b]][0]}: "
                                 "a conversation id must be in one part only (a copied part, logs read twice, or logs read beside "
                                 "their own export imported back)")


def read_parts(folders: Folders, *, validate: bool = True) -> list[tuple[Path, pa.Table]]:
    """(path, table) of every part of one folder or several, validated, in order (folder by folder).

    Raises ``LogValidationError`` for any part that fails, for a conversation id in two parts (naming both) and for
    parts whose state features differ.
    """
    parts = [(path, read_part(path, validate=validate)) for folder in _folders(folders) for path in list_parts(folder)]
    _check_same_features(parts)
    _check_unique_ids(parts)
    return parts


def read_logs(folders: Folders, *, validate: bool = True) -> pa.Table:
    """Every part of one folder or several (``read_parts``), concatenated; the table's metadata is the first part's."""
    return pa.concat_tables([table for _, table in read_parts(folders, validate=validate)])


def _first_part_manifest(folder: Path) -> "LogManifest":
    from .manifest import LogManifest

    first = list_parts(folder)[0]
    try:
        schema = pq.read_schema(first)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogValidationError(f"cannot read log part {first}: {exc}") from None
    meta = segue_metadata(schema.metadata)
    part_version(meta, first)
    return LogManifest.from_metadata(meta, where=str(first))


def read_manifest(folder: str | Path) -> "LogManifest":
    """How the logs in ``folder`` were made, from its first part's ``segue.*`` metadata.

    Raises ``LogValidationError`` when the folder has no parts or the metadata is not Segue's.
    """
    return _first_part_manifest(Path(folder))


def read_manifests(folders: Folders) -> list[tuple[Path, "LogManifest"]]:
    """(part, its manifest) for every part of every folder (chat folders mix chat and voice sessions)."""
    from .manifest import LogManifest

    out = []
    for folder in _folders(folders):
        for path in list_parts(folder):
            try:
                meta = segue_metadata(pq.read_schema(path).metadata)
            except (pa.ArrowInvalid, OSError) as exc:
                raise LogValidationError(f"cannot read log part {path}: {exc}") from None
            part_version(meta, path)
            out.append((path, LogManifest.from_metadata(meta, where=str(path))))
    return out


def common_manifest(folders: Folders, *, variant=None) -> "LogManifest":
    """The manifest that stands for logs read together: the first simulated part's (its world is the simulator's
    truth), else the first part's. All parts must share the catalog and the feature version (with ``variant``
    given, that variant's: base-feature training may mix scorers). Raises ``LogValidationError`` naming two parts
    that differ."""
    from dialogue.features import FeatureVariant

    parts = read_manifests(folders)
    first_path, first = parts[0]

    def version(m):
        return m.feature_version.base() if variant is not None and FeatureVariant(variant) is FeatureVariant.BASE else m.feature_version

    for path, m in parts[1:]:
        if m.catalog_fingerprint != first.catalog_fingerprint:
            raise LogValidationError(f"{path} and {first_path} were logged over other catalogs ({m.catalog_fingerprint} vs "
                                     f"{first.catalog_fingerprint}): they cannot be read together")
        if version(m) != version(first):
            raise LogValidationError(f"{path} and {first_path} hold other features ({version(m)} vs {version(first)}): "
                                     "logs made with another scorer cannot be read together for history features")
    simulated = [m for _, m in parts if m.collection is not None]
    return simulated[0] if simulated else first


def logs_fingerprint(folders: Folders) -> str:
    """sha256 (first 16 hex digits) over the names and contents of the parts of one folder or several."""
    digest = hashlib.sha256()
    for folder in _folders(folders):
        for part in list_parts(folder):
            digest.update(part.name.encode())
            with open(part, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]

