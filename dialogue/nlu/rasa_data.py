"""Rasa YAML: the NLU training data (``nlu.yml``) and the domain (``domain.yml``), checked against Rasa's schemas.

The same generated examples train the embedded classifier and a Rasa
model. Entities are annotated with their canonical value
(``[80s]{"entity": "decade", "value": "1980s"}``); the domain lists the
intents, entities, slots (filled from entities) and one response per
prompt of the catalogue, with every phrasing variant.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from core.errors import ConfigError
from recommender.catalog import Catalog

from ..acts import Slot
from ..prompts import PROMPT_CATALOGUE_VERSION, PROMPTS
from .templates import INTENTS, Example, generate

__all__ = ["nlu_yaml", "domain_yaml", "validate", "write_rasa_project", "SCHEMAS"]

SCHEMAS = Path(__file__).resolve().parent / "rasa_schemas"
RASA_CONFIG = """# DIET: Rasa's default NLU pipeline (as `rasa init` writes it), fixed seed
recipe: default.v1
language: en
assistant_id: segue
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    random_seed: 0
  - name: EntitySynonymMapper
policies: []
"""


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _annotate(e: Example) -> str:
    out, pos = "", 0
    for start, end, slot, value in sorted(e.entities):
        said = e.text[start:end]
        out += e.text[pos:start]
        if said.lower() == value.lower():
            out += f"[{said}]({slot})"
        else:
            out += f"[{said}]" + json.dumps({"entity": slot, "value": value})
        pos = end
    out += e.text[pos:]
    return out.replace("\n", " ")


def nlu_yaml(examples: list[Example]) -> str:
    buf = io.StringIO()
    buf.write('version: "3.1"\n\nnlu:\n')
    for intent in INTENTS:
        rows = list(dict.fromkeys(_annotate(e) for e in examples if e.intent == intent))
        if not rows:
            continue
        buf.write(f"- intent: {intent}\n  examples: |\n")
        for row in rows:
            buf.write(f"    - {row}\n")
    return buf.getvalue()


def domain_yaml(phrasings: dict[str, tuple[str, ...]]) -> str:
    buf = io.StringIO()
    buf.write(f'version: "3.1"\n\n# prompt catalogue version {PROMPT_CATALOGUE_VERSION}\nintents:\n')
    for intent in INTENTS:
        buf.write(f"  - {intent}\n")
    buf.write("\nentities:\n")
    for slot in Slot:
        buf.write(f"  - {slot.value}\n")
    buf.write("\nslots:\n")
    for slot in Slot:
        buf.write(f"  {slot.value}:\n    type: text\n    influence_conversation: false\n"
                  f"    mappings:\n      - type: from_entity\n        entity: {slot.value}\n")
    buf.write("\nresponses:\n")
    for spec in PROMPTS:
        buf.write(f"  utter_{spec.id.value}:\n")
        for text in phrasings.get(spec.id.value, ()):
            buf.write(f"    - text: {_quote(text)}\n")
    buf.write("\nsession_config:\n  session_expiration_time: 60\n  carry_over_slots_to_new_session: true\n")
    return buf.getvalue()


def validate(text: str, kind: str) -> None:
    """Validate ``nlu.yml`` or ``domain.yml`` text against Rasa 3.6's own schemas (pykwalify, as Rasa does)."""
    from pykwalify.core import Core
    from pykwalify.errors import SchemaError
    from ruamel.yaml import YAML

    if kind not in ("nlu", "domain"):
        raise ConfigError(f"kind must be nlu or domain, got {kind!r}")
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(text)
    schema = yaml.load((SCHEMAS / f"{kind}.yml").read_text())
    schema = dict(schema, **yaml.load((SCHEMAS / "responses.yml").read_text()))
    core = Core(source_data=data, schema_data=schema, extensions=[str(SCHEMAS / "pykwalify_extensions.py")])
    import logging

    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    try:
        core.validate(raise_exception=True)
    except SchemaError as exc:
        raise ConfigError(f"{kind}.yml breaks Rasa's schema: {exc}") from None


def write_rasa_project(folder: str | Path, catalog: Catalog, *, seed: int = 0) -> dict[str, Path]:
    """Write ``data/nlu.yml``, ``domain.yml`` and ``config.yml`` (validated) into ``folder``."""
    from ..phrasing import PHRASES

    folder = Path(folder)
    nlu = nlu_yaml(generate(catalog, part="train", seed=seed))
    domain = domain_yaml({k: tuple(v) for k, v in PHRASES.items()})
    validate(nlu, "nlu")
    validate(domain, "domain")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    paths = {"nlu": folder / "data" / "nlu.yml", "domain": folder / "domain.yml", "config": folder / "config.yml"}
    for key, text in (("nlu", nlu), ("domain", domain), ("config", RASA_CONFIG)):
        tmp = paths[key].with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(paths[key])
    return paths
