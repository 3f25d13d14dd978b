"""Options shared by several commands, declared once (Typer ``Annotated`` aliases).

Their defaults come from the settings records the commands fill (``ServeSettings``,
``OPESettings``, ...), so a default lives in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = [
    "Registry", "Json", "Workers", "Engine", "Address", "use_engine",
    "Nlu", "RasaUrl", "ServePolicy", "ServeScorer", "UserId", "LogDir", "NoLog", "NoAudio", "ServeSeed",
    "Estimators", "QModels", "Bootstrap", "Confidence", "FqeSteps", "OpeSeed", "TruthConversations", "Logs", "MinEss", "MinPropensity",
]

# ------------------------------------------------------------------ everywhere
Registry = Annotated[Path, typer.Option("--registry", help="Registry folder (policies by name, CURRENT, history).")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
Workers = Annotated[Optional[int], typer.Option("--workers", help="Processes (default: all cores).")]
Engine = Annotated[str, typer.Option("--engine", help="Where simulation and rollouts run: local (worker processes, the "
                                                     "default) or ray (Ray tasks; pip install 'segue\\[ray]').")]
Address = Annotated[Optional[str], typer.Option("--address", help="With --engine ray: the cluster ('auto', or host:port "
                                                                  "of a `ray start --head`); default: a Ray started on "
                                                                  "this machine for the run.")]
Logs = Annotated[list[Path], typer.Option("--logs", help="Log folder (part-NNNNN.parquet and manifest.json); repeat it to "
                                                         "read several together, e.g. simulated logs and runs/chats.")]

# ------------------------------------------------------------------ chat and voice
Nlu = Annotated[str, typer.Option("--nlu", help="embedded (default) or rasa.")]
RasaUrl = Annotated[Optional[str], typer.Option("--rasa-url", help="Rasa server (default http://localhost:5005).")]
ServePolicy = Annotated[Optional[str], typer.Option("--policy", help="Policy to serve (default: the registry's current one).")]
ServeScorer = Annotated[str, typer.Option("--scorer", help="auto (embeddings in runs/embeddings when they fit), baseline, "
                                                           "or an embeddings folder.")]
UserId = Annotated[Optional[int], typer.Option("--user-id", help="Borrow simulated user N's listening history as yours.")]
LogDir = Annotated[Path, typer.Option("--log-dir", help="Where the conversation is logged (Parquet).")]
NoLog = Annotated[bool, typer.Option("--no-log", help="Do not log the conversation.")]
NoAudio = Annotated[bool, typer.Option("--no-audio", help="Never use the sound card for output.")]
ServeSeed = Annotated[int, typer.Option("--seed", help="Seed of the policy's sampling and the phrasing (voice: and the "
                                                       "recognizer's dither).")]

# ------------------------------------------------------------------ evaluate, report, promote
Estimators = Annotated[Optional[list[str]], typer.Option(
    "--estimator", help="Estimator(s) to run (repeat): is, wis, pdis, wpdis, dm, dr, wdr, switch-dr, dros (default: all).")]
QModels = Annotated[Optional[list[str]], typer.Option(
    "--q-model", help="Q model(s) for dm/dr/wdr (repeat): fqe (d3rlpy DiscreteFQE, default), regressor (gradient-boosted trees).")]
Bootstrap = Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples of conversations (0: no intervals).")]
Confidence = Annotated[float, typer.Option("--confidence", help="Interval level.")]
FqeSteps = Annotated[int, typer.Option("--fqe-steps", help="FQE gradient steps per metric.")]
Exploration = Annotated[float, typer.Option("--exploration", help="Randomized share: each prompt is drawn from the policy "
                                            "mixed with this uniform share over valid prompts (logged with its "
                                            "probability), in [0, 1]; default 0: the policy as it is.")]
OpeSeed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap and the Q-model fits.")]
MinEss = Annotated[float, typer.Option("--min-ess", help="Below this effective sample size (conversations) a policy is "
                                                          "not estimable: reported without an estimate.")]
MinPropensity = Annotated[float, typer.Option("--min-propensity", help="A prompt logged with a smaller probability counts "
                                                                       "as never tried (the support check).")]
TruthConversations = Annotated[int, typer.Option("--truth-conversations", help="Simulated conversations per policy for the "
                                                                               "simulator's truth.")]


def use_engine(engine: str, address: str | None, workers: int | None = None) -> None:
    """Make ``--engine``/``--address`` the engine of this command's parallel work (``core.engine``); with Ray, connect
    now (or start Ray on this machine with ``workers`` CPUs), so that a mistake is one clear line before any folder
    is made. Raises ``ConfigError`` for an unknown engine, an address without Ray, Ray not installed, or a cluster
    that cannot be reached."""
    from core.engine import EngineSettings, connect, set_default_engine

    settings = EngineSettings(engine, address)
    if not settings.is_local:
        connect(settings, workers)
    set_default_engine(settings)
