"""The Rasa backend: a Rasa Open Source server, trained on the same ``nlu.yml``, over HTTP.

``POST /model/parse`` gives an intent with a confidence and entities (with
their canonical values through Rasa's synonym mapper); they become the same
acts as the embedded NLU's. Sentiment is estimated the same way (Rasa has
none). ``start=True`` trains a model if needed and starts
``rasa run --enable-api`` from ``.venv-rasa`` (``make rasa``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from core.errors import ConfigError, SegueError
from recommender.catalog import Catalog

from ..acts import Act, DialogueAct, Slot
from ..prompts import PromptId
from . import NLUResult
from .embedded import MAX_CHARS, EmbeddedNLU

__all__ = ["RasaNLU", "RasaError", "DEFAULT_URL", "train_rasa_model", "start_rasa_server", "RASA_PROJECT"]

DEFAULT_URL = "http://localhost:5005"
RASA_VENV = Path(".venv-rasa")
RASA_PROJECT = Path("runs") / "rasa"


class RasaError(SegueError):
    """The Rasa server is not reachable or answered something unexpected."""


def _rasa_env() -> dict:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}


def train_rasa_model(project: Path, catalog: Catalog) -> Path:
    """Export the data and ``rasa train nlu`` it (skipped when a model for the same data exists)."""
    from .rasa_data import write_rasa_project

    rasa = RASA_VENV / "bin" / "rasa"
    if not rasa.exists():
        raise RasaError(f"no Rasa in {RASA_VENV}: run `make rasa` first (about 4 minutes, 2.7 GB)")
    paths = write_rasa_project(project, catalog)
    models = project / "models"
    stamp = project / "models" / "data.stamp"
    digest = hashlib.sha256((paths["nlu"].read_text() + paths["config"].read_text()).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and any(models.glob("*.tar.gz")):
        return models
    subprocess.run([str(rasa.resolve()), "train", "nlu", "--nlu", "data/nlu.yml", "--config", "config.yml", "--out", "models"],
                   cwd=project, env=_rasa_env(), check=True, capture_output=True)
    stamp.write_text(digest)
    return models


def start_rasa_server(project: Path, port: int = 5005) -> subprocess.Popen:
    rasa = RASA_VENV / "bin" / "rasa"
    proc = subprocess.Popen([str(rasa.resolve()), "run", "--enable-api", "--port", str(port), "--model", "models"],
                            cwd=project, env=_rasa_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc


class RasaNLU:
    name = "rasa"

    def __init__(self, *, catalog: Catalog | None = None, url: str | None = None, start: bool = False, timeout: float = 5.0) -> None:
        self.url = (url or DEFAULT_URL).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"--rasa-url must start with http:// or https://, got {self.url!r}")
        self.timeout = timeout
        self.catalog = catalog or Catalog.load()
        self._embedded = EmbeddedNLU.for_catalog(self.catalog)  # for the shared sentiment and artist names
        self.process = None
        if not self._alive():
            if not start:
                raise RasaError(f"no Rasa server answers at {self.url}: start one (`segue chat --nlu rasa --start-rasa`, "
                                f"or `rasa run --enable-api` in {RASA_PROJECT}) or pass --rasa-url")
            train_rasa_model(RASA_PROJECT, self.catalog)
            port = int(self.url.rsplit(":", 1)[-1]) if self.url.rsplit(":", 1)[-1].isdigit() else 5005
            self.process = start_rasa_server(RASA_PROJECT, port)
            deadline = time.time() + 180
            while not self._alive():
                if self.process.poll() is not None or time.time() > deadline:
                    raise RasaError(f"the Rasa server did not come up at {self.url}")
                time.sleep(1.0)

    def _alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/status", timeout=2.0) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def raw(self, text: str) -> dict:
        body = json.dumps({"text": text}).encode()
        req = urllib.request.Request(f"{self.url}/model/parse", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RasaError(f"Rasa at {self.url} did not answer /model/parse: {exc}") from None

    def parse(self, text: str, *, prompt: PromptId | None = None) -> NLUResult:
        clean = " ".join(str(text)[:MAX_CHARS].split())
        if not any(c.isalnum() for c in clean):
            return NLUResult((), 0.0, 0.0, None, (), clean)
        data = self.raw(clean)
        intent = (data.get("intent") or {}).get("name") or "inform"
        p = float((data.get("intent") or {}).get("confidence") or 0.0)
        acts: list[DialogueAct] = []
        entities = []
        valid = {s.value for s in Slot}
        for ent in data.get("entities", []):
            slot, value = ent.get("entity"), ent.get("value")
            if slot not in valid or not isinstance(value, str):
                continue
            if slot == "genre":
                value = value.lower()
            acts.append(DialogueAct(Act.INFORM, Slot(slot), value))
            entities.append({"slot": slot, "value": value, "text": ent.get("value"), "score": ent.get("confidence_entity")})
        tokens = clean.lower().split()
        head = self._embedded._intent_act(intent if intent in {a.value for a in Act} else "inform", tokens, prompt)
        if head is not None:
            acts.insert(0, head)
        confidence = p * (0.3 if intent == "inform" and not entities else 1.0)
        sentiment = self._embedded._sentiment(clean, intent)
        return NLUResult(tuple(dict.fromkeys(acts)), sentiment, round(confidence, 4), intent, tuple(entities), clean)
