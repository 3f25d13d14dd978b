"""Track and user embeddings learned from listening histories (torch).

Two towers. The *track* side has a target embedding per track (what the
scorer ranks) and, unless ``tied``, a separate source embedding (what a
track says about the listener when it is in their history: "after X,
play Y" is directed, seed 001). The *user* tower is a weighted mean of the
history's source embeddings (weights ``log1p(plays)``) through a learned
linear map. Scores are cosine similarities, in [-1, 1].

Training: for each user in a batch, one track of their history is the
target and the rest (randomly thinned) is the context; a softmax over every
trainable track (temperature ``tau``, the context itself masked out) makes
the target likelier than sampled tracks (the row's own history masked out).
The threshold-consistent margin regularizer (TCM, seed 000) adds a penalty
on hard positives (target similarity below ``m_pos``) and hard negatives
(tracks of the target's coarse genre above ``m_neg``), each averaged over
the hard pairs only.

Cold start (seed 002, "Cold Brew"): a small network maps a track's content
(genre, styles, energy, mood, decade, rating, and the mean embedding of its
artist's other tracks, if any) to its embeddings, trained to mimic the
history-based ones on warm tracks. Tracks with no plays get its output.

Histories come from a listening-history table (``recommender.histories``:
``user_id, track_id, plays``, optionally ``timestamp`` and ``segment``).
The simulator's population is one source of such a table
(``simulator.histories.population_histories``, ``segue simulate-histories``);
a user's real listening data, exported to that format, is another. This
module never builds histories itself. ``make_split`` draws the evaluation
users at random from the table's users (the rest train), holds a share of
each evaluation user's tracks out, and holds a share of the catalog out of
every history for cold start. The saved metadata records where the
histories came from (path or "simulator population"), a sha256 of their
content, and how many users and plays they hold.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.errors import ConfigError
from core.threads import torch_threads

from .catalog import Catalog
from .errors import EmbeddingsError
from .histories import Histories

__all__ = [
    "EmbeddingSettings", "Embeddings", "EmbeddingsError", "Histories", "HistorySplit", "make_split", "train_embeddings",
    "content_features", "check_output_folder", "FORMAT_VERSION", "DEFAULT_EMBEDDINGS", "MIN_TRAIN_USERS",
]

FORMAT_VERSION = 1
MIN_TRAIN_USERS = 10  # a table needs at least eval_users + this many users
DEFAULT_EMBEDDINGS = Path("runs") / "embeddings"
_ARRAYS = "embeddings.npz"
_META = "embeddings.json"


@dataclass(frozen=True)
class EmbeddingSettings:
    """How to split the histories and train; every field is checked (``ConfigError`` when out of range)."""

    dim: int = 64
    tied: bool = True             # one embedding per track for both roles (measured better than source/target here)
    tcm: bool = True              # threshold-consistent margin regularizer
    m_pos: float = 0.4            # TCM: positives below this similarity are hard
    m_neg: float = 0.15           # TCM: same-genre negatives above it are hard
    tcm_weight: float = 10.0
    tau: float = 0.07             # softmax temperature
    steps: int = 1500
    batch: int = 512
    negatives: int = 4096         # shared uniform negatives per step (sampled softmax)
    lr: float = 0.01
    context_keep: float = 0.7     # share of the other history tracks kept as context
    eval_users: int = 2_000       # drawn at random from the table's users; the rest train
    train_users: int | None = None  # at most this many training users (drawn at random); None: all the others
    holdout_share: float = 0.2    # of each eval user's tracks
    cold_share: float = 0.05      # of the catalog, held out of every history
    cold_epochs: int = 200        # most passes of the cold-start network over the warm tracks
    cold_patience: int = 0        # stop after this many passes without a better validation cosine; 0: never early
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.dim <= 1024, "dim", "between 1 and 1024"),
            (self.tau > 0, "tau", "> 0"),
            (1 <= self.steps <= 1_000_000, "steps", "between 1 and 1,000,000"),
            (1 <= self.batch <= 65_536, "batch", "between 1 and 65,536"),
            (32 <= self.negatives <= 1_000_000, "negatives", "between 32 and 1,000,000"),
            (self.lr > 0, "lr", "> 0"),
            (0 < self.context_keep <= 1, "context_keep", "within (0, 1]"),
            (self.train_users is None or self.train_users >= MIN_TRAIN_USERS, "train_users", f">= {MIN_TRAIN_USERS} (or unset: all the others)"),
            (self.eval_users >= 1, "eval_users", ">= 1"),
            (0 < self.holdout_share < 1, "holdout_share", "within (0, 1)"),
            (0 <= self.cold_share < 0.5, "cold_share", "within [0, 0.5)"),
            (-1 <= self.m_neg < self.m_pos <= 1, "m_neg/m_pos", "-1 <= m_neg < m_pos <= 1"),
            (self.tcm_weight >= 0, "tcm_weight", ">= 0"),
            (1 <= self.threads <= 256, "threads", "between 1 and 256"),
            (1 <= self.cold_epochs <= 100_000, "cold_epochs", "between 1 and 100,000"),
            (0 <= self.cold_patience <= 100_000, "cold_patience", "between 0 (never stop early) and 100,000"),
        ]
        options = {"dim": "--dim", "steps": "--steps", "train_users": "--users", "eval_users": "--eval-users",
                   "threads": "--threads", "cold_epochs": "--cold-epochs",
                   "cold_patience": "--cold-patience"}  # what `segue embeddings train` calls them
        for ok, name, rule in checks:
            if not ok:
                label = options.get(name, f"embedding setting {name}")
                raise ConfigError(f"{label} must be {rule}, got {getattr(self, name.split('/')[0])}")


# ---------------------------------------------------------------- the split
@dataclass(frozen=True, eq=False)
class HistorySplit:
    """Training histories, evaluation users (context / held-out tracks) and the cold tracks.

    ``histories``: the provenance of the table they were split from (``Histories.provenance``) with the
    numbers of training and evaluation users; it goes into the embeddings' metadata.
    """

    train: Histories
    context: Histories          # eval users, what the scorer may see
    heldout: Histories          # eval users, what they also played (never in context)
    cold: np.ndarray            # bool (n_tracks,): tracks held out of every history
    histories: dict = field(default_factory=dict)

    @property
    def plays(self) -> np.ndarray:
        """Training plays per track (float32 (n_tracks,)): the popularity baseline."""
        return np.bincount(self.train.tracks, weights=self.train.counts, minlength=len(self.cold)).astype(np.float32)


def make_split(catalog: Catalog, settings: EmbeddingSettings, histories: Histories) -> HistorySplit:
    """Split a history table's users: ``settings.eval_users`` evaluation users drawn at random (seeded by
    ``settings.seed``), the others (at most ``settings.train_users``) train. A ``cold_share`` of the catalog
    is held out of every history; each evaluation user's tracks are split into context and held out
    (``holdout_share`` of them, at least one when they have two or more; cold tracks always held out).

    Raises ``ConfigError`` when the table has fewer than ``eval_users`` + ``train_users`` (or
    + ``MIN_TRAIN_USERS``) users, ``EmbeddingsError`` when it was read against another catalog.
    """
    if histories.catalog and histories.catalog != catalog.fingerprint:
        raise EmbeddingsError(f"histories {histories.source} were read against catalog {histories.catalog!r}, "
                              f"not {catalog.fingerprint!r}: read them again with this catalog")
    if len(histories) and int(histories.tracks.max(initial=0)) >= catalog.n:
        raise EmbeddingsError(f"histories {histories.source} hold catalog rows up to {int(histories.tracks.max())}, "
                              f"but the catalog has {catalog.n} tracks")
    n_train_min = settings.train_users if settings.train_users is not None else MIN_TRAIN_USERS
    if len(histories) < settings.eval_users + n_train_min:
        raise ConfigError(
            f"the history table {histories.source} has {len(histories):,} users: too few for {settings.eval_users:,} "
            f"evaluation users and {n_train_min:,} training users (give a larger table or fewer evaluation users, --eval-users)"
        )
    rng = np.random.default_rng([settings.seed, 0xC01D])
    cold = np.zeros(catalog.n, dtype=bool)
    cold[rng.choice(catalog.n, size=int(round(settings.cold_share * catalog.n)), replace=False)] = True
    shuffled = np.random.default_rng([settings.seed, 0x05E5]).permutation(len(histories))
    eval_rows = np.sort(shuffled[: settings.eval_users])
    rest = shuffled[settings.eval_users :]
    train_rows = np.sort(rest if settings.train_users is None else rest[: settings.train_users])
    train = histories.select(train_rows, drop=cold)
    full = histories.select(eval_rows)
    c_ptr, c_t, c_c, h_ptr, h_t, h_c = [0], [], [], [0], [], []
    for i in range(len(full)):
        t, c = full.row(i)
        out = rng.random(len(t)) < settings.holdout_share
        if out.all() or len(t) < 2:
            out[:] = False
            out[-1] = len(t) >= 2
        out |= cold[t]  # a cold track is never seen: it can only be held out
        warm_ctx = ~out & ~cold[t]  # the context is what the scorer saw: warm tracks only
        c_t.append(t[warm_ctx]), c_c.append(c[warm_ctx]), c_ptr.append(c_ptr[-1] + int(warm_ctx.sum()))
        h_t.append(t[out]), h_c.append(c[out]), h_ptr.append(h_ptr[-1] + int(out.sum()))

    def pack(ptr, t, c) -> Histories:
        return Histories(np.asarray(ptr, np.int64), np.concatenate(t).astype(np.int64), np.concatenate(c).astype(np.float32),
                         full.users, full.segment, full.segment_names, full.n_plays, full.source, full.sha256, full.catalog)

    provenance = {**histories.provenance, "train_users": int(len(train)), "eval_users": int(len(full))}
    return HistorySplit(train, pack(c_ptr, c_t, c_c), pack(h_ptr, h_t, h_c), cold, provenance)


# ---------------------------------------------------------------- content features
def content_features(catalog: Catalog) -> np.ndarray:
    """Content of every track, float32 (n_tracks, n_features): genre and style multi-hot,
    energy, mood and decade one-hot (unknown as its own column), rating prior."""
    n = catalog.n
    parts = [catalog.genre_matrix.astype(np.float32), np.asarray(catalog.style_matrix.todense(), dtype=np.float32)]
    for codes, size in ((catalog.energy.astype(np.int64), 3), (catalog.mood.astype(np.int64), 4),
                        (catalog.decade.astype(np.int64), len(catalog.decade_names))):
        onehot = np.zeros((n, size + 1), dtype=np.float32)
        onehot[np.arange(n), np.where(codes < 0, size, codes)] = 1.0
        parts.append(onehot)
    parts.append(catalog.prior[:, None].astype(np.float32))
    return np.concatenate(parts, axis=1)


def _artist_means(catalog: Catalog, vectors: np.ndarray, warm: np.ndarray) -> np.ndarray:
    """Per track, the mean of ``vectors`` over the *other* warm tracks of its artist (zeros if none), plus a has-any flag."""
    n_art = len(catalog.artist_names)
    w = warm.astype(np.float32)
    sums = np.zeros((n_art, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, catalog.artist, vectors * w[:, None])
    cnt = np.bincount(catalog.artist, weights=w, minlength=n_art)
    own_sum = sums[catalog.artist] - vectors * w[:, None]
    own_cnt = cnt[catalog.artist] - w
    mean = np.where(own_cnt[:, None] > 0, own_sum / np.maximum(own_cnt, 1)[:, None], 0.0)
    return np.concatenate([mean, (own_cnt > 0)[:, None]], axis=1).astype(np.float32)


# ---------------------------------------------------------------- the result
def _normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class Embeddings:
    """Unit-norm ``source`` and ``target`` (float32 (n_tracks, dim)), the user map ``user_proj``
    (dim, dim), which tracks are ``cold`` (content-network embeddings), the play threshold
    (one cosine similarity for every user and genre) and the metadata."""

    source: np.ndarray
    target: np.ndarray
    user_proj: np.ndarray
    cold: np.ndarray
    threshold: float
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.target.shape[1])

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    def user_vectors(self, hist: Histories) -> np.ndarray:
        """Unit user vectors for every row of ``hist`` (float32 (n_users, dim))."""
        rows = np.repeat(np.arange(len(hist)), np.diff(hist.indptr))
        sums = np.zeros((len(hist), self.dim), dtype=np.float64)
        np.add.at(sums, rows, self.source[hist.tracks] * np.log1p(hist.counts)[:, None])
        return _normalize(sums.astype(np.float32) @ self.user_proj.T)

    def user_vector(self, plays: np.ndarray) -> np.ndarray:
        """Unit user vector of a play list (catalog rows, repeats allowed); zeros for an empty history."""
        plays = np.asarray(plays, dtype=np.int64)
        if plays.size == 0:
            return np.zeros(self.dim, dtype=np.float32)
        tracks, counts = np.unique(plays, return_counts=True)
        v = (np.log1p(counts.astype(np.float32))[:, None] * self.source[tracks]).sum(axis=0) @ self.user_proj.T
        norm = float(np.linalg.norm(v))
        return (v / norm).astype(np.float32) if norm > 0 else np.zeros(self.dim, dtype=np.float32)

    # ------------------------------------------------------------ save / load
    def save(self, folder: str | Path) -> Path:
        """Write ``embeddings.npz`` and ``embeddings.json`` into ``folder``; all or nothing. A folder of earlier
        embeddings is replaced; anything else is refused (``check_output_folder``) and left as it is."""
        folder = Path(folder)
        check_output_folder(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes it private; the folder is meant to be shared like the rest of runs/
            np.savez(tmp / _ARRAYS, source=self.source, target=self.target, user_proj=self.user_proj, cold=self.cold)
            (tmp / _META).write_text(json.dumps({**self.meta, "threshold": self.threshold}, indent=2, sort_keys=True))
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
                folder.rename(old)
                tmp.rename(folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, catalog: Catalog | None = None) -> "Embeddings":
        folder = Path(folder)
        if not (folder / _META).is_file() or not (folder / _ARRAYS).is_file():
            raise EmbeddingsError(f"no embeddings in {folder} (build them with `segue embeddings train --out {folder}`)")
        try:
            meta = json.loads((folder / _META).read_text())
            with np.load(folder / _ARRAYS) as z:
                arrays = {k: z[k] for k in ("source", "target", "user_proj", "cold")}
        except (OSError, ValueError, KeyError) as exc:
            raise EmbeddingsError(f"embeddings in {folder} are unreadable: {exc}") from None
        if meta.get("format") != FORMAT_VERSION:
            raise EmbeddingsError(f"embeddings in {folder} have format {meta.get('format')!r}, this Segue reads {FORMAT_VERSION}")
        if _digest(arrays) != meta.get("version", "").removeprefix("emb-"):
            raise EmbeddingsError(f"embeddings in {folder} do not match their version {meta.get('version')!r} (files changed?)")
        if catalog is not None and meta.get("catalog") != catalog.fingerprint:
            raise EmbeddingsError(
                f"embeddings in {folder} were trained on catalog {meta.get('catalog')!r}, not {catalog.fingerprint!r}: retrain them"
            )
        threshold = float(meta.pop("threshold"))
        return cls(arrays["source"], arrays["target"], arrays["user_proj"], arrays["cold"], threshold, meta)


def check_output_folder(folder: str | Path) -> None:
    """Refuse to write embeddings where they would replace something else: ``folder`` must not exist, be empty,
    or hold only embeddings (``embeddings.json`` / ``embeddings.npz``). Raises ``EmbeddingsError`` naming it."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise EmbeddingsError(f"--out {folder} is a file: give a folder for the embeddings")
    others = sorted(p.name for p in folder.iterdir() if p.name not in (_ARRAYS, _META))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise EmbeddingsError(f"--out {folder} holds other files ({shown}): embeddings replace only a folder of "
                              "embeddings; choose an empty or new folder")


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in ("source", "target", "user_proj", "cold"):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------- training
class _Batcher:
    """Samples (context, target) batches from training histories."""

    def __init__(self, hist: Histories, keep: float, rng: np.random.Generator) -> None:
        self.h, self.keep, self.rng = hist, keep, rng
        self.sizes = np.diff(hist.indptr)
        self.eligible = np.flatnonzero(self.sizes >= 2)
        if len(self.eligible) == 0:
            raise ConfigError("no training user has two or more distinct tracks")

    def __call__(self, batch: int):
        h, rng = self.h, self.rng
        users = self.eligible[rng.integers(len(self.eligible), size=batch)]
        sizes = self.sizes[users]
        starts = h.indptr[users]
        target_pos = (rng.random(batch) * sizes).astype(np.int64)
        rows = np.repeat(np.arange(batch), sizes)
        pos = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        entries = np.repeat(starts, sizes) + pos
        not_target = pos != np.repeat(target_pos, sizes)
        kept = not_target & (rng.random(len(pos)) < self.keep)
        lonely = np.bincount(rows[kept], minlength=batch) == 0  # keep at least one context track
        if lonely.any():
            kept |= not_target & lonely[rows]
        ctx_rows, ctx_tracks = rows[kept], h.tracks[entries[kept]]
        weights = np.log1p(h.counts[entries[kept]])
        masked_rows, masked_tracks = rows[not_target], h.tracks[entries[not_target]]  # every other history track
        targets = h.tracks[starts + target_pos]
        return ctx_rows, ctx_tracks, weights, masked_rows, masked_tracks, targets


def train_embeddings(
    catalog: Catalog,
    settings: EmbeddingSettings,
    *,
    split: HistorySplit | None = None,
    histories: Histories | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Embeddings, dict]:
    """Train the towers, the cold-start network, pick the threshold; return the embeddings and the evaluation.

    Give exactly one of ``split`` (from :func:`make_split`) or ``histories`` (split here with ``settings``).
    ``progress(stage, done, total)`` is called after every step of each stage. Raises ``ConfigError``
    (neither or both given, too few users, a setting out of range) and ``EmbeddingsError``.
    """
    if (split is None) == (histories is None):
        raise ConfigError("train_embeddings needs exactly one of split= or histories= (a listening-history table: "
                          "recommender.histories.read_histories, or simulator.histories.population_histories)")
    if split is None:
        split = make_split(catalog, settings, histories)
    with torch_threads(settings.threads):  # restored afterwards; see core.threads for why few threads
        return _train(catalog, settings, split, progress)


def _train(catalog: Catalog, settings: EmbeddingSettings, split: HistorySplit, progress) -> tuple[Embeddings, dict]:
    import torch

    from .embedding_eval import evaluate, pairs, pick_threshold

    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    n, d = catalog.n, settings.dim
    trainable = np.zeros(n, dtype=bool)
    trainable[split.train.tracks] = True
    gen = torch.Generator().manual_seed(settings.seed)
    src = torch.nn.Parameter(torch.randn(n, d, generator=gen) * 0.1)
    tgt = src if settings.tied else torch.nn.Parameter(torch.randn(n, d, generator=gen) * 0.1)
    proj = torch.nn.Parameter(torch.eye(d))
    params = [src, proj] + ([] if settings.tied else [tgt])
    opt = torch.optim.Adam(params, lr=settings.lr)
    position = np.full(n, -1, dtype=np.int64)
    genre_of = catalog.primary_genre.astype(np.int64)
    genre_rows = np.flatnonzero(trainable)[np.argsort(genre_of[trainable], kind="stable")]
    genre_count = np.bincount(genre_of[genre_rows], minlength=len(catalog.genre_names))
    genre_start = np.cumsum(genre_count) - genre_count
    batcher = _Batcher(split.train, settings.context_keep, rng)
    warm_rows = np.flatnonzero(trainable)
    curve = []
    for step in range(settings.steps):
        ctx_rows, ctx_tracks, weights, m_rows, m_tracks, targets = batcher(settings.batch)
        bag = torch.zeros(settings.batch, d).index_add_(
            0, torch.from_numpy(ctx_rows), src[torch.from_numpy(ctx_tracks)] * torch.from_numpy(weights)[:, None]
        )
        u = torch.nn.functional.normalize(bag @ proj.T, dim=1)
        # sampled softmax: the target against shared uniform negatives (no correction needed for a
        # uniform proposal); a negative that is in the row's own history is masked out
        negs = warm_rows[rng.choice(len(warm_rows), size=min(settings.negatives, len(warm_rows)), replace=False)]
        position[negs] = np.arange(len(negs))
        hit = position[m_tracks]
        position[negs] = -1
        cand = torch.nn.functional.normalize(tgt[torch.from_numpy(np.concatenate([targets, negs]))], dim=1)
        s_pos = (u * cand[: settings.batch]).sum(dim=1)
        s_neg = u @ cand[settings.batch :].T
        own = hit >= 0
        same = torch.from_numpy(negs[None, :] == targets[:, None])
        s_neg_masked = s_neg.masked_fill(same, float("-inf"))
        if own.any():
            s_neg_masked = s_neg_masked.index_put((torch.from_numpy(m_rows[own]), torch.from_numpy(hit[own])), torch.tensor(float("-inf")))
        logits = torch.cat([s_pos[:, None], s_neg_masked], dim=1) / settings.tau
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(settings.batch, dtype=torch.long))
        tcm_value = 0.0
        if settings.tcm and settings.tcm_weight > 0:
            hard_pos = torch.relu(settings.m_pos - s_pos)
            # hard negatives are mined within the target's coarse genre: the scorer ranks within the
            # genre the conversation settled, and that is where one threshold must hold for every genre
            g = genre_of[targets]
            neg_idx = genre_rows[genre_start[g][:, None] + (rng.random((settings.batch, 32)) * genre_count[g][:, None]).astype(np.int64)]
            neg_vec = torch.nn.functional.normalize(tgt[torch.from_numpy(neg_idx)], dim=2)
            s_hard = (u[:, None, :] * neg_vec).sum(dim=2)
            hard_neg = torch.relu(s_hard - settings.m_neg).masked_fill(torch.from_numpy(neg_idx == targets[:, None]), 0.0)
            tcm = hard_pos.sum() / (hard_pos > 0).sum().clamp(min=1) + hard_neg.sum() / (hard_neg > 0).sum().clamp(min=1)
            loss = loss + settings.tcm_weight * tcm
            tcm_value = tcm.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == settings.steps - 1:
            curve.append({"step": step, "loss": round(loss.item(), 4), "tcm": round(tcm_value, 4)})
        if progress is not None:
            progress("towers", step + 1, settings.steps)
    with torch.no_grad():
        source = _normalize(src.detach().numpy())
        target = _normalize(tgt.detach().numpy())
        user_proj = proj.detach().numpy().astype(np.float32)
    tower_seconds = time.perf_counter() - started

    # cold start: content (+ the artist's other warm tracks) -> both embeddings
    source, target, student_info = _cold_start(catalog, source, target, trainable, settings, progress)
    emb = Embeddings(source, target, user_proj, ~trainable, 0.0, {})
    eval_pairs = pairs(emb, split, catalog, np.random.default_rng([settings.seed, 7]))  # the threshold does not change them
    threshold = pick_threshold(eval_pairs)
    emb.threshold = threshold
    arrays = {"source": emb.source, "target": emb.target, "user_proj": emb.user_proj, "cold": emb.cold}
    emb.meta = {
        "format": FORMAT_VERSION,
        "version": "emb-" + _digest(arrays),
        "catalog": catalog.fingerprint,
        "catalog_tracks": catalog.n,
        "dim": d,
        "settings": asdict(settings),
        "histories": dict(split.histories),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "train_seconds": round(time.perf_counter() - started, 1),
        "tower_seconds": round(tower_seconds, 1),
        "curve": curve,
        "cold_start": student_info,
    }
    report = evaluate(emb, split, catalog, settings, eval_pairs)
    emb.meta["evaluation"] = report
    return emb, report


def _cold_start(catalog, source, target, trainable, settings, progress):
    """Fit the cold-start network (content features and artist means -> history-based embedding, by cosine) on the
    warm tracks and write its outputs for the cold ones. A tenth of the warm tracks is held out; with
    ``settings.cold_patience`` > 0 training stops once that many epochs pass without a better validation cosine and
    keeps the best epoch's weights (early stopping: Prechelt, "Early Stopping - But When?", 1998). The validation
    cosine reported is then the selected epoch's, so it is slightly optimistic; the evaluation's cold-start
    recall is measured on tracks no step saw."""
    import torch

    d = source.shape[1]
    teacher = target if settings.tied else np.concatenate([source, target], axis=1)
    x = np.concatenate([content_features(catalog), _artist_means(catalog, teacher, trainable)], axis=1)
    mu, sd = x[trainable].mean(axis=0), x[trainable].std(axis=0) + 1e-3
    xn = torch.from_numpy(((x - mu) / sd).astype(np.float32))
    gen = torch.Generator().manual_seed(settings.seed + 1)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, teacher.shape[1]))
    with torch.no_grad():
        for layer in (net[0], net[2]):
            torch.nn.init.xavier_uniform_(layer.weight, generator=gen)
            layer.bias.zero_()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-5)
    warm = np.flatnonzero(trainable)
    rng = np.random.default_rng([settings.seed, 2])
    val = rng.random(len(warm)) < 0.1  # a tenth of the warm tracks checks the fit
    fit_rows, val_rows = torch.from_numpy(warm[~val]), torch.from_numpy(warm[val])
    teacher_t = torch.from_numpy(teacher)
    epochs = settings.cold_epochs

    def cosine_loss(rows):
        out = net(xn[rows])
        parts = [out] if settings.tied else [out[:, :d], out[:, d:]]
        goal = [teacher_t[rows]] if settings.tied else [teacher_t[rows, :d], teacher_t[rows, d:]]
        return sum(1 - torch.nn.functional.cosine_similarity(p, g, dim=1).mean() for p, g in zip(parts, goal)) / len(parts)

    patience = settings.cold_patience if len(val_rows) else 0  # no validation rows: nothing to stop on
    best = (-math.inf, 0, None)  # validation cosine, epoch, weights
    epoch = 0
    for epoch in range(1, epochs + 1):
        perm = fit_rows[torch.randperm(len(fit_rows), generator=gen)]
        for chunk in perm.split(4096):
            loss = cosine_loss(chunk)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if progress is not None:
            progress("cold start", epoch, epochs)
        if patience:
            with torch.no_grad():
                cos = 1 - float(cosine_loss(val_rows))
            if cos > best[0]:
                best = (cos, epoch, {k: v.clone() for k, v in net.state_dict().items()})
            elif epoch - best[1] >= patience:
                break
    if progress is not None and epoch < epochs:
        progress("cold start", epochs, epochs)  # stopped early: the stage is done
    if best[2] is not None and best[1] != epoch:
        net.load_state_dict(best[2])  # the epoch that generalized best
    with torch.no_grad():
        val_cos = 1 - float(cosine_loss(val_rows)) if len(val_rows) else math.nan
        out = net(xn).numpy()
    cold = ~trainable
    source, target = source.copy(), target.copy()
    if settings.tied:
        target[cold] = _normalize(out[cold])
        source[cold] = target[cold]
    else:
        source[cold] = _normalize(out[cold, :d])
        target[cold] = _normalize(out[cold, d:])
    return source, target, {"validation_cosine": round(val_cos, 4), "n_cold": int(cold.sum()), "n_features": int(x.shape[1]),
                            "epochs_run": epoch, "best_epoch": best[1] if best[2] is not None else epoch}
