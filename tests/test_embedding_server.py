"""Embeddings from a real OpenAI-compatible server (``embed_backend="openai"``): llama-cpp-python's
server in embedding mode on the bundled SmolLM2-135M, in front of the local and postgres stores.

A 135M chat model's mean-pooled states are poor embeddings: these tests assert what must hold
whatever their quality — the server's dimension, unit vectors, valid exact citations, the lexical
(BM25) side of hybrid retrieval still finding the passage, and a collection tied to its model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from articleqa import Assistant, Config
from articleqa.index.embeddings import EmbeddingServerError, OpenAIEmbedder
from articleqa.index.local.vectors import StoreMismatch

from .conftest import SAMPLES, VOV_ID

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)
STORM_Q = "Which storm did Japan express sympathy about?"
SMOLLM2_DIM = 576  # SmolLM2-135M's hidden size
# llama.cpp gives a chat model (no pooling in its GGUF) one vector per token; this GGUF
# metadata override makes it mean-pool them into one vector per text.
MEAN_POOLING = ["--kv_overrides", "llama.pooling_type=int:1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddingServer:
    """``python -m articleqa.answer.models --embedding true`` (llama_cpp.server) on 127.0.0.1."""

    def __init__(self, extra: list[str]):
        from articleqa.answer.models import default_gguf

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [
            sys.executable, "-m", "articleqa.answer.models", "--model", str(default_gguf()),
            "--model_alias", "smollm2-embed", "--embedding", "true", "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
            "--verbose", "False", *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    # The name it serves under, as a client would learn it.
                    self.model = json.load(r)["data"][0]["id"]
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"llama_cpp.server did not start: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.3)

    def config(self, **kw) -> Config:
        return Config(
            embed_backend="openai", embed_model=self.model, llm_base_url=self.url, llm_api_key="unused", **kw
        )

    def stop(self) -> None:
        """Stopped by its PID (and nothing else)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddingServer]:
    srv = EmbeddingServer(MEAN_POOLING)
    yield srv
    srv.stop()


def _all_vectors(qa: Assistant) -> np.ndarray:
    ids = [c.id for info in qa.store.article_stats() for c in qa.store.article_chunks(info.id)]
    vecs = qa.store.passage_vectors(ids)
    assert sorted(vecs) == sorted(ids)
    return np.stack([vecs[i] for i in ids])


def _check_collection(qa: Assistant, source: Path) -> None:
    """Ingest ``source`` through the server, then what must hold of its vectors and answers."""
    report = qa.ingest([source])
    files = sorted(source.glob("*.txt")) if source.is_dir() else [source]
    assert report.ok and sorted(report.added) == [f.stem for f in files]
    assert qa.store.embedder.dim == SMOLLM2_DIM
    mat = _all_vectors(qa)
    assert mat.shape[1] == SMOLLM2_DIM and len(mat) == qa.store.count()[1]
    assert np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-5)
    assert len({v.tobytes() for v in mat}) == len(mat)  # per-text vectors, not one constant

    ans = qa.ask(STORM_Q)
    assert ans.hits
    # "sympathy" is in one sentence of one article: BM25 finds that passage whatever the vectors.
    assert any("Typhoon Yagi" in h.chunk.text for h in ans.hits)
    # Seen: it quotes the Yagi sentence; but how the answerer ranks sentences rests on these
    # poor vectors, so what is asserted is a valid answer: cited, or a plain abstention.
    assert ans.abstained == (not ans.citations)
    numbers = [c.n for c in ans.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)} == set(numbers)
    hit_ids = {h.chunk.id for h in ans.hits}
    for c in ans.citations:
        assert qa.article(c.article_id).text[c.start : c.end] == c.text  # an exact span
        assert c.chunk_id in hit_ids


def test_local_store_embeds_through_the_server(server, tmp_path):
    data = tmp_path / "data"
    qa = Assistant(server.config(data_dir=data))
    assert isinstance(qa.store.embedder, OpenAIEmbedder)
    _check_collection(qa, SAMPLES)
    # The same collection under the default in-process model: refused, naming both models.
    other = Assistant(Config(data_dir=data))
    with pytest.raises(StoreMismatch, match=rf"'{server.model}'.*'all-MiniLM-L6-v2-onnx-int8'"):
        other.ask(STORM_Q)


def test_postgres_store_embeds_through_the_server(server, request, tmp_path):
    pg = request.getfixturevalue("postgres")  # skips without the postgres extra
    import psycopg

    from articleqa.index.postgres.schema import SchemaMismatch

    url = pg.new_database()
    qa = Assistant(server.config(store="postgres", data_dir=tmp_path / "data", database_url=url))
    # Only the article that answers: the server embeds ~120 tokens/s on one thread.
    _check_collection(qa, SAMPLES / f"{VOV_ID}.txt")
    # The model and its dimension are recorded with the collection.
    with psycopg.connect(url) as c:
        meta = dict(c.execute(f'SELECT k, v FROM "{qa.store.schema}".meta').fetchall())
    assert (meta["embed_model"], meta["embed_dim"]) == (server.model, str(SMOLLM2_DIM))
    other = Assistant(Config(store="postgres", data_dir=tmp_path / "data", database_url=url))
    with pytest.raises(SchemaMismatch, match=rf"'{server.model}'.*'all-MiniLM-L6-v2-onnx-int8'"):
        other.ask(STORM_Q)


def test_a_server_without_pooling_is_refused_plainly(tmp_path):
    """Without pooling llama.cpp answers one vector per token: the embedder used to flatten them
    into a "dimension" that grew with the probe text's length. Now it says what to fix."""
    srv = EmbeddingServer([])
    try:
        emb = OpenAIEmbedder(srv.model, srv.url, "unused")
        with pytest.raises(EmbeddingServerError, match="one vector per token.*pooling"):
            emb.embed(["hello world", "a longer text of several words"])
        with pytest.raises(EmbeddingServerError, match="one vector per token"):
            _ = emb.dim
    finally:
        srv.stop()


def test_batches_and_empty_input(server):
    """Texts split over several requests come back in order, each as its own text's vector."""
    texts = ["Typhoon Yagi hit Vietnam.", "Japan pledged support.", "The harbour reopened.", "ODA loans."]
    emb = OpenAIEmbedder(server.model, server.url, "unused", batch_size=3)
    one_by_one = np.concatenate([emb.embed([t]) for t in texts])
    assert np.allclose(emb.embed(texts), one_by_one, atol=1e-4)
    assert emb.embed([]).shape == (0, SMOLLM2_DIM)
