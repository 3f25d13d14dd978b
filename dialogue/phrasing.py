"""How each prompt is said: several templates per prompt, tone from a goal-closeness score.

Goal closeness (seed 003: "adapts the response phrasing and tone-of-voice as
the conversation progresses") is in [0, 1]: the mean sentiment of the
person's last answers (mapped to [0, 1]), the NLU's confidence in the last
one, and how well the candidates match (the scorer's affinity of the best
candidate, or, without a history, how narrowed down the candidates are).
Low closeness gets an apologetic, encouraging opener after a rejection;
high closeness a confident one. A template is not repeated while another is
unused, so the system never sounds canned.
"""

from __future__ import annotations

import math

import numpy as np

from .acts import Act
from .prompts import PromptId, SystemPrompt

__all__ = ["PHRASES", "Phraser", "goal_closeness", "HIGH_TONE"]

PHRASES: dict[str, tuple[str, ...]] = {
    "open": ("Do you have anything in mind?", "What would you like to listen to?", "What are you in the mood for?",
             "Tell me what you feel like hearing.", "Any idea what you'd like to hear?"),
    "ask_energy": ("Something laid back? Or more upbeat?", "Should it be calm and slow, or lively?",
                   "Chilled or energetic?", "How lively should it be: laid back, in between, or upbeat?"),
    "ask_mood": ("What mood are you in: happy, melancholic, calm or intense?", "How are you feeling right now?",
                 "What kind of mood should the music have?", "Happy, sad, calm or intense?"),
    "ask_genre": ("What kind of music would you like?", "Any genre you fancy?", "Which genre shall we go for?",
                  "What style of music do you like?"),
    "suggest_genres": ("May I suggest some {0}? Or perhaps {1}?", "How about {0}, or maybe {1}?",
                       "Would {0} work for you? Or {1}?", "I could play some {0}, or some {1}. Any of those?"),
    "ask_decade": ("Any particular decade?", "Music from a certain era?", "Old or recent: any decade you like?",
                   "Is there a decade you'd like?"),
    "ask_activity": ("What are you up to right now?", "What's the music for: work, a workout, relaxing...?",
                     "Are you doing anything while you listen?", "Is this for something in particular, like a workout or focus?"),
    "ask_familiarity": ("Something you know, or something new?", "Familiar favourites or something new to you?",
                        "Shall I stick to artists you know, or surprise you?", "Old favourites or a discovery?"),
    "suggest_artist": ("How about some {artist}?", "Do you like {artist}?", "Maybe something by {artist}?",
                       "I'm thinking {artist}. What do you say?"),
    "play_sample": ("How about this? {track}. Did you like it?", "Have a listen: {track}. Is it any good?",
                    "Try this one: {track}. What do you think?", "Here's something: {track}. Does it work for you?"),
    "offer_station": ("Shall I start a {genre} station for you, beginning with {track}?",
                      "Want me to keep playing {genre}, starting with {track}?",
                      "I could play {genre} from here on, starting with {track}. Shall I?"),
}

#: closeness above which a prompt opens upbeat ("Great!", "Good choice.")
HIGH_TONE = 0.68

_OPENERS = {
    "low": ("Sorry that wasn't it.", "No worries, let's try another way.", "Hmm, let me think again.",
            "Fair enough.", "OK, something else then."),
    # a "no" to a question, where nothing was offered: no "that wasn't it"
    "low-asked": ("No worries, let's try another way.", "Hmm, let me think again.", "Fair enough.", "OK."),
    "mid": ("", "", "Alright.", "OK.", "Got it."),
    "high": ("Great!", "Nice, we're getting close.", "Lovely.", "Good choice.", "I think I've got it."),
}


def goal_closeness(sentiments: list[float], confidences: list[float], match: float) -> float:
    """In [0, 1]: recent sentiment (last three answers), last NLU confidence, and candidate match."""
    recent = sentiments[-3:]
    mood = (float(np.mean(recent)) + 1.0) / 2.0 if recent else 0.5
    conf = float(confidences[-1]) if confidences else 0.5
    return float(np.clip(0.45 * mood + 0.2 * conf + 0.35 * float(np.clip(match, 0.0, 1.0)), 0.0, 1.0))


class Phraser:
    """Turns a :class:`SystemPrompt` into words; keeps what it said to vary it."""

    def __init__(self, catalog, *, seed: int = 0) -> None:
        self.catalog = catalog
        self.rng = np.random.default_rng(seed)
        self._used: dict[str, list[int]] = {}

    def describe(self, track: int, genre: str | None = None) -> str:
        """'"Title" by Artist (genre, decade)'; the genre shown is ``genre`` (the one asked for) when the track carries
        it, as a secondary genre or a style, else its primary genre (jazz asked for, jazz shown, not "electronic")."""
        t = self.catalog.track(int(track))
        shown = genre if genre and self.catalog.has_genre(int(track), genre) else t.genre
        extra = ", ".join(x for x in (shown, t.decade) if x)
        return f'"{t.title}" by {t.artist} ({extra})'

    def _template(self, key: str, options: tuple[str, ...]) -> str:
        used = self._used.setdefault(key, [])
        fresh = [i for i in range(len(options)) if i not in used] or list(range(len(options)))
        i = int(fresh[int(self.rng.integers(len(fresh)))])
        used.append(i)
        if len(used) >= len(options):
            self._used[key] = [i]  # all said once: start a new round, but not with the one just said
        return options[i]

    def words(self, prompt: SystemPrompt, genre: str | None = None) -> str:
        """``prompt`` in words, with no opener ("Which genre shall we go for?"); its phrasing varies like ``say``'s."""
        text = self._template(prompt.prompt.value, PHRASES[prompt.prompt.value])
        genres = list(prompt.genres) + ["something else"] * 2
        return text.format(genres[0], genres[1], artist=prompt.artist or "someone new",
                           track=self.describe(prompt.track, genre) if prompt.track is not None else "",
                           genre=prompt.genres[0] if prompt.genres else "this")

    def say(self, prompt: SystemPrompt, *, closeness: float = 0.5, last_acts=(), offered: bool = True,
            genre: str | None = None) -> str:
        """``prompt`` in words, opened by a tone that follows ``closeness`` and the person's last acts; ``offered``:
        whether the previous prompt offered something (a sample, a station, genres, an artist) that a "no" turned
        down, else "that wasn't it" is not said; ``genre``: the genre asked for (a track is described by it when it
        carries it)."""
        pid = prompt.prompt
        text = self.words(prompt, genre)
        # a setback ("no"), not a turn down that says what instead ("I like it but jazzier", "no, rock please")
        rejected = any(a.act in (Act.REJECT, Act.DENY) for a in last_acts) and not any(a.act is Act.INFORM for a in last_acts)
        tone = "low" if closeness < 0.4 or rejected else "high" if closeness > HIGH_TONE else "mid"
        if not last_acts and (pid is PromptId.OPEN or tone == "low"):  # nothing understood ("hmm"): no setback said
            tone = "mid"
        if tone == "low" and not offered:
            tone = "low-asked"
        opener = self._template(f"open-{tone}", _OPENERS[tone])
        return f"{opener} {text}".strip()


def candidate_match(n_candidates: int, n_tracks: int, affinity: float | None) -> float:
    """How well the candidates match: the scorer's affinity of the best one, else how narrowed down they are."""
    if n_candidates == 0:
        return 0.0
    if affinity is not None:
        return float(affinity)
    return float(1.0 - math.log1p(n_candidates) / math.log1p(max(2, n_tracks)))
