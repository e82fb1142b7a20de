"""The JSON boundary: every object articleqa writes as JSON, and the JSON Schema of each.

Each type has one JSON form, ``obj.to_dict()`` (``Type.from_dict`` reads it back), written by
``articleqa ask --json`` and ``list --json``, the UI's chat and ``/chat`` endpoint, the
evaluation's results.jsonl, and an HTTP API. ``json_schema()`` describes them (JSON Schema
2020-12, from pydantic); ``articleqa schema DIR`` writes one ``NAME.schema.json`` per type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .ingest.pipeline import IngestReport
from .types import Answer, ArticleInfo, Citation, FeedState, Hit, JSONForm, Stats

BOUNDARY: dict[str, type[JSONForm]] = {
    "Answer": Answer,
    "Citation": Citation,
    "Hit": Hit,
    "ArticleInfo": ArticleInfo,
    "IngestReport": IngestReport,
    "Stats": Stats,
    "FeedState": FeedState,
}


def json_schema() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each boundary type's JSON form, by type name."""
    return {name: t.json_schema() for name, t in BOUNDARY.items()}


def write_schemas(out: Path) -> list[Path]:
    """Write ``NAME.schema.json`` for each boundary type into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in json_schema().items():
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
