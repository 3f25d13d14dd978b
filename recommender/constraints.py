"""What the conversation has gathered so far, as a filter over the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .catalog import Catalog
from .history import HistoryProfile

__all__ = ["Constraints", "FILTER_SLOTS"]

#: Slots that filter the catalog directly (familiarity needs a history).
FILTER_SLOTS: tuple[str, ...] = ("genre", "energy", "mood", "decade", "artist", "activity")


@dataclass(frozen=True)
class Constraints:
    """Hard constraints on the music to suggest; ``None`` means not constrained."""

    genre: str | None = None
    energy: str | None = None
    mood: str | None = None
    decade: str | None = None
    artist: str | None = None
    activity: str | None = None
    familiarity: str | None = None  # "familiar" | "new"
    excluded_tracks: frozenset[int] = field(default_factory=frozenset)  # catalog rows, and the same songs' other rows
    excluded_genres: frozenset[str] = field(default_factory=frozenset)
    excluded_artists: frozenset[str] = field(default_factory=frozenset)

    def without(self, slot: str) -> "Constraints":
        """The same constraints with ``slot`` unconstrained (fast path: called on every turn)."""
        if getattr(self, slot) is None:
            return self
        copy = object.__new__(Constraints)
        copy.__dict__.update(self.__dict__)
        copy.__dict__[slot] = None
        return copy

    def known_slots(self) -> tuple[str, ...]:
        return tuple(s for s in (*FILTER_SLOTS, "familiarity") if getattr(self, s) is not None)

    def mask(self, catalog: Catalog, profile: HistoryProfile | None = None) -> np.ndarray:
        """Boolean mask (shape (n_tracks,)) of the tracks that satisfy every constraint."""
        mask = None
        for slot in FILTER_SLOTS:
            value = getattr(self, slot)
            if value is not None:
                if mask is None:  # the first filter's (cached) mask, copied: no pass over an all-True array
                    mask = catalog.mask(slot, value).copy()
                else:
                    mask &= catalog.mask(slot, value)
        if mask is None:
            mask = np.ones(catalog.n, dtype=bool)
        for genre in self.excluded_genres:
            mask &= ~catalog.mask("genre", genre)
        for artist in self.excluded_artists:
            mask &= ~catalog.mask("artist", artist)
        if self.familiarity is not None and profile is not None and profile.artist_plays:
            mask &= profile.familiar_mask if self.familiarity == "familiar" else ~profile.familiar_mask
        if self.excluded_tracks:  # and the same song under another id
            mask[catalog.same_song(np.fromiter(self.excluded_tracks, dtype=np.int64))] = False
        return mask

    def satisfied_by(self, catalog: Catalog, index: int, profile: HistoryProfile | None = None) -> bool:
        """Whether one track satisfies every constraint (the slow, obviously-correct check)."""
        track = catalog.track(index)
        if self.genre is not None and not catalog.has_genre(index, self.genre):
            return False
        if self.energy is not None and track.energy != self.energy:
            return False
        if self.mood is not None and track.mood != self.mood:
            return False
        if self.decade is not None and track.decade != self.decade:
            return False
        if self.artist is not None and track.artist != self.artist:
            return False
        if self.activity is not None and not catalog.mask("activity", self.activity)[index]:
            return False
        if any(catalog.has_genre(index, g) for g in self.excluded_genres):
            return False
        if track.artist in self.excluded_artists:
            return False
        if self.excluded_tracks and index in catalog.same_song(np.fromiter(self.excluded_tracks, dtype=np.int64)):
            return False  # a track turned down, or the same song under another id
        if self.familiarity is not None and profile is not None and profile.artist_plays:
            familiar = int(catalog.artist[index]) in profile.artist_plays
            if familiar != (self.familiarity == "familiar"):
                return False
        return True
