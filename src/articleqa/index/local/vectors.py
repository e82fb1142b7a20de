"""The vector side of the index: a Chroma collection of chunk embeddings.

Embedded (``PersistentClient`` under the data dir) by default, or a ``chroma run`` server
when ``chroma_host`` is set. We always pass our own embeddings: Chroma's default
embedding function would download a model at run time.
"""

from __future__ import annotations

import numpy as np

from ...config import Config
from ...types import Chunk, Filters
from .. import contracts
from ..embeddings import runtime_mismatch


class StoreMismatch(contracts.StoreMismatch):
    """The collection was built by another embedding model; mixing would corrupt search."""


class VectorIndex:
    def __init__(self, cfg: Config, embed_model: str, dim: int, runtime: str = ""):
        self.cfg, self.embed_model, self.dim, self.runtime = cfg, embed_model, dim, runtime
        self._open()

    def _open(self) -> None:
        import chromadb

        cfg = self.cfg
        settings = chromadb.Settings(anonymized_telemetry=False)
        if cfg.chroma_host:
            self.client = chromadb.HttpClient(host=cfg.chroma_host, port=cfg.chroma_port, settings=settings)
        else:
            cfg.chroma_path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(cfg.chroma_path), settings=settings)
        col = self.client.get_or_create_collection(
            cfg.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            # Which runtime built it: recorded once, at creation (`runtimes_agree`).
            metadata={"embed_model": self.embed_model, "dim": self.dim}
            | ({"embed_runtime": self.runtime} if self.runtime else {}),
        )
        meta = col.metadata or {}
        built_by = meta.get("embed_model")
        if built_by and built_by != self.embed_model:
            raise StoreMismatch(
                f"collection '{cfg.collection}' was built with embeddings from '{built_by}', "
                f"not '{self.embed_model}': use another --data-dir/collection or the same model"
            )
        if built_by and (why := runtime_mismatch(str(meta.get("embed_runtime", "")), self.runtime)):
            raise StoreMismatch(f"collection '{cfg.collection}' {why}")
        self.col = col

    def reopen(self) -> None:
        """Read the collection afresh after another process wrote to it.

        An embedded Chroma keeps the collection's index in this process's memory and doesn't
        see another process's writes: queries then fail ("Error finding id") until the
        client is dropped. A Chroma server serves every process the same state.
        """
        if self.cfg.chroma_host:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        old = self.client
        ident = getattr(old, "_identifier", None)
        old.close()
        # Other clients of this process on the same path would keep the stale system alive.
        stale = SharedSystemClient._identifier_to_system.pop(ident, None) if ident else None
        if stale is not None:
            stale.stop()
        self._open()

    def count(self) -> int:
        return self.col.count()

    def add(self, chunks: list[Chunk], vectors: np.ndarray, metas: list[dict]) -> None:
        for s in range(0, len(chunks), 1000):
            self.col.upsert(
                ids=[c.id for c in chunks[s : s + 1000]],
                embeddings=vectors[s : s + 1000],
                metadatas=metas[s : s + 1000],
            )

    def delete_ids(self, ids: list[str]) -> None:
        for s in range(0, len(ids), 1000):
            self.col.delete(ids=ids[s : s + 1000])

    def ids(self) -> set[str]:
        return set(self.col.get(include=[])["ids"])

    def search(self, qvec: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first."""
        # No count() first: it is a scan that grows with the collection (~2.5 ms at 60k
        # vectors, more than the HNSW query itself), and Chroma already returns fewer than
        # k results when there are fewer vectors (none for an empty collection).
        res = self.col.query(
            query_embeddings=[qvec], n_results=k, where=to_where(filters), include=["distances"]
        )
        return [(i, 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        res = self.col.get(ids=ids, include=["embeddings"])
        return {
            i: np.asarray(e, dtype=np.float32) for i, e in zip(res["ids"], res["embeddings"], strict=True)
        }


def date_int(iso: str) -> int:
    """YYYY-MM-DD → YYYYMMDD as an int (Chroma range filters need numbers); 0 when unknown."""
    digits = iso.replace("-", "")[:8]
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def to_where(f: Filters | None) -> dict | None:
    if f is None or f.empty:
        return None
    conds: list[dict] = []
    if f.sources:
        conds.append({"source": {"$in": list(f.sources)}})
    if f.since:
        conds.append({"published": {"$gte": date_int(f.since)}})
    if f.until:
        conds.append({"published": {"$lte": date_int(f.until)}})
        if not f.since:  # undated articles are stored as 0: outside every range (Filters.allows)
            conds.append({"published": {"$gt": 0}})
    if f.article_ids:
        conds.append({"article_id": {"$in": list(f.article_ids)}})
    return conds[0] if len(conds) == 1 else {"$and": conds}
