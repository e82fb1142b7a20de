"""The store: registry (SQLite) + vectors (Chroma) + keywords (BM25) behind one object.

Write order keeps a crash harmless: new vectors are upserted first (ids carry the content
hash, so they never overwrite live ones), then the registry commits the article in one
transaction, then the old vectors go. Anything a crash leaves in Chroma that the registry
doesn't list is an orphan that `reconcile` deletes; retrieval ignores orphans anyway.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..config import Config
from ..ingest import dedup
from ..ingest.registry import Registry
from ..types import Article, Chunk
from .embeddings import Embedder, make_embedder
from .keywords import KeywordIndex
from .vectors import VectorIndex, date_int


class Store:
    def __init__(self, cfg: Config, embedder: Embedder | None = None):
        self.cfg = cfg
        self.registry = Registry(cfg.registry_path)
        self.keywords = KeywordIndex(self.registry)
        self._embedder = embedder

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or make_embedder(self.cfg)

    @cached_property
    def vectors(self) -> VectorIndex:
        return VectorIndex(self.cfg, self.embedder.name, self.embedder.dim)

    def put(self, article: Article, chunks: list[Chunk], vecs: np.ndarray) -> None:
        """Store (or replace) one article with its embedded chunks."""
        old = self.registry.article_by_key(article.key) or self.registry.article(article.id)
        old_ids = self._chunk_ids_of(old.id) if old is not None else []
        meta = {
            "article_id": article.id,
            "source": article.source,
            "published": date_int(article.published_at),
        }
        self.vectors.add(chunks, vecs, [dict(meta, start=c.start, end=c.end) for c in chunks])
        avec = dedup.article_vector(vecs).astype(np.float32)
        self.registry.put(article, chunks, avec.tobytes())
        new_ids = {c.id for c in chunks}
        stale = [i for i in old_ids if i not in new_ids]
        if stale:
            self.vectors.delete_ids(stale)

    def _chunk_ids_of(self, article_id: str) -> list[str]:
        return self.registry.chunk_ids_of(article_id)

    def remove(self, article_id: str) -> bool:
        """Delete an article from the registry, the keyword index and the vectors."""
        ids = self._chunk_ids_of(article_id)
        if not self.registry.delete(article_id):
            return False
        self.vectors.delete_ids(ids)
        self.regroup()
        return True

    def reconcile(self) -> int:
        """Delete vectors whose chunk the registry doesn't hold; returns how many."""
        orphans = sorted(self.vectors.ids() - self.registry.chunk_ids())
        self.vectors.delete_ids(orphans)
        return len(orphans)

    def article_meta(self, article_ids: list[str]) -> dict[str, dict]:
        """Title/source/date/url of the given articles (no text), for building hits."""
        return self.registry.article_meta(article_ids)

    # ---- near-duplicate stories ------------------------------------------------------
    def find_duplicates(self, article_id: str, vecs: np.ndarray) -> list[tuple[str, float]]:
        """Stored articles that are copies of the same story as ``article_id``."""
        ids, blobs = self.registry.article_vectors()
        if len(ids) < 2:
            return []
        mat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        sims = mat @ dedup.article_vector(vecs)
        found = []
        for i in np.flatnonzero(sims >= dedup.ARTICLE_COS):
            other = ids[i]
            if other == article_id:
                continue
            theirs = self.vectors.vectors(self.registry.chunk_ids_of(other))
            if theirs and dedup.alignment(vecs, np.stack(list(theirs.values()))) >= dedup.ALIGNED_SHARE:
                found.append((other, float(sims[i])))
        return found

    def regroup(self) -> None:
        """Recompute story groups (connected duplicates) for every article."""
        self.registry.set_groups(dedup.components(self.registry.article_ids(), self.registry.duplicate_edges()))
