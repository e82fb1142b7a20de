"""The local backend's store: registry (SQLite) + vectors (Chroma) + keywords (BM25) behind
one object implementing `contracts.ArticleStore`.

Write order keeps a crash harmless: new vectors are upserted first (ids carry the content
hash, so they never overwrite live ones), then the registry commits the article in one
transaction, then the old vectors go. Anything a crash leaves in Chroma that the registry
doesn't list is an orphan that `reconcile` deletes; retrieval ignores orphans anyway.

Several processes may share one data dir (``articleqa serve`` while the CLI ingests):
writers take the data dir's lock file in turn (`writing`), and every process notices the
others' writes through the registry's generation (`refresh`) and reopens what it holds in
memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TypeVar

import numpy as np
from filelock import FileLock

from ...config import Config
from ...types import Article, ArticleInfo, Chunk, FeedState, Filters
from .. import dedup
from ..contracts import StoreUnavailable
from ..embeddings import CachedEmbedder, Embedder, make_embedder
from .keywords import KeywordIndex
from .registry import Registry
from .vectors import VectorIndex, date_int

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["Store", "StoreUnavailable"]


class Store:
    """`contracts.ArticleStore` over SQLite + Chroma + BM25 (``Config.store = "local"``)."""

    def __init__(self, cfg: Config, embedder: Embedder | None = None):
        self.cfg = cfg
        self.registry = Registry(cfg.registry_path)
        self.keywords = KeywordIndex(self.registry)
        self._embedder = embedder
        # Reentrant, and per thread: a server's writer threads take turns like processes do.
        self._write_lock = FileLock(str(cfg.data_dir / "write.lock"))
        self._refresh_lock = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the data dir's write lock (waiting for another writer, in this process or
        another, to finish), with what this process holds brought up to date first."""
        with self._write_lock:
            self.refresh()
            yield

    def reading(self, what: Callable[[], T]) -> T:
        """``what()`` against the current store: reopened first if another process wrote, and
        once more if Chroma still fails (a write that landed mid-read)."""
        self.refresh()
        try:
            return what()
        except Exception as first:
            from chromadb.errors import ChromaError

            if not isinstance(first, ChromaError):
                raise
            log.warning("vector store read failed (%s); reopening it", first)
            with self._refresh_lock:
                self.vectors.reopen()
                self.registry.mark_synced()
            try:
                return what()
            except ChromaError as e:
                log.error("vector store read failed again: %s", e)
                raise StoreUnavailable(
                    f"the article store in {self.cfg.data_dir} could not be read; try again in a moment"
                ) from None

    def refresh(self) -> bool:
        """Bring the in-memory parts up to date when another process has written (a cheap
        check of the registry's generation); True when something was reopened. The keyword
        index follows the generation by itself."""
        if not self.registry.changed_elsewhere():
            return False
        with self._refresh_lock:
            if not self.registry.changed_elsewhere():
                return False
            if "vectors" in self.__dict__:
                self.vectors.reopen()
            self.registry.mark_synced()
            return True

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or make_embedder(self.cfg)

    @cached_property
    def sentence_embedder(self) -> CachedEmbedder:
        """The embedder behind an LRU, for sentences compared with a question at answer time."""
        return CachedEmbedder(self.embedder)

    @cached_property
    def vectors(self) -> VectorIndex:
        return VectorIndex(
            self.cfg, self.embedder.name, self.embedder.dim, getattr(self.embedder, "runtime", "")
        )

    # ---- the embedding model (contracts.Embedding) -----------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.embedder.count_tokens(texts)

    def embedding_model(self) -> Embedder:
        return self.embedder

    def warm_up(self) -> None:
        """Load the model, catch the keyword index up and open Chroma with one search."""
        vec = self.embedder.embed(["warm-up"])[0]
        self.keywords.refresh()
        self.vectors.search(vec, 1)

    # ---- reads (contracts.PassageSearch, contracts.CorpusStats) -----------------------
    def dense_search(
        self, qvec: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        return self.vectors.search(qvec, k, filters)

    def keyword_search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        return self.keywords.search(query, k, filters)

    def chunks(self, ids: list[str]) -> list[Chunk]:
        return self.registry.chunks(ids)

    def article_chunks(self, article_id: str) -> list[Chunk]:
        return self.registry.chunks(self.registry.chunk_ids_of(article_id))

    def passage_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        return self.vectors.vectors(chunk_ids)

    def idf(self, term: str) -> float:
        return self.keywords.idf(term)

    def document_frequencies(self) -> Mapping[str, int]:
        return self.keywords.df

    @property
    def generation(self) -> int:
        return self.registry.generation

    def article(self, article_id: str) -> Article | None:
        return self.registry.article(article_id)

    def article_stats(self) -> list[ArticleInfo]:
        return [ArticleInfo(**r) for r in self.registry.article_stats()]

    def count(self) -> tuple[int, int]:
        return self.registry.count()

    # ---- what ingestion reads and writes besides articles (contracts.ArticleWriter) --------
    def article_by_key(self, key: str) -> Article | None:
        return self.registry.article_by_key(key)

    def unique_id(self, wanted: str, key: str, taken: set[str] = frozenset()) -> str:
        return self.registry.unique_id(wanted, key, taken)

    def origins(self) -> list[tuple[str, str, str]]:
        return self.registry.origins()

    def set_origins(self, origins: dict[str, str]) -> None:
        self.registry.set_origins(origins)

    def feed_states(self) -> list[FeedState]:
        return self.registry.feed_states()

    def feed_fingerprints(self, feed_url: str) -> dict[str, str]:
        return self.registry.feed_fingerprints(feed_url)

    def record_feed(self, state: FeedState, fingerprints: dict[str, str] | None = None) -> None:
        self.registry.record_feed(state, fingerprints)

    def set_duplicates(self, edges: dict[str, list[tuple[str, float]]]) -> None:
        self.registry.set_duplicates(edges)

    def sync_indexes(self) -> None:
        """Catch the keyword index up (saving it after a large change), so a new process's
        first question loads it instead of tokenising every new chunk."""
        self.keywords.refresh()

    def put_many(self, batch: list[tuple[Article, list[Chunk], np.ndarray]]) -> None:
        """Store (or replace) several embedded articles with one vector write and one
        registry transaction (Chroma pays ~8 fsyncs per call whatever its size)."""
        with self.writing():
            self._put_many(batch)

    def _put_many(self, batch: list[tuple[Article, list[Chunk], np.ndarray]]) -> None:
        old_ids: list[str] = []
        for article, _, _ in batch:
            old = self.registry.article_by_key(article.key) or self.registry.article(article.id)
            if old is not None:
                old_ids += self.registry.chunk_ids_of(old.id)
        all_chunks = [c for _, cs, _ in batch for c in cs]
        metas = [
            {
                "article_id": a.id,
                "source": a.source,
                "published": date_int(a.published_at),
                "start": c.start,
                "end": c.end,
            }
            for a, cs, _ in batch
            for c in cs
        ]
        self.vectors.add(all_chunks, np.concatenate([v for _, _, v in batch]), metas)
        self.registry.put_many(
            [(a, cs, dedup.article_vector(v).astype(np.float32).tobytes()) for a, cs, v in batch]
        )
        new_ids = {c.id for c in all_chunks}
        stale = [i for i in old_ids if i not in new_ids]
        if stale:
            self.vectors.delete_ids(stale)

    def remove(self, article_id: str) -> bool:
        """Delete an article from the registry, the keyword index and the vectors."""
        with self.writing():
            ids = self.registry.chunk_ids_of(article_id)
            if not self.registry.delete(article_id):
                return False
            self.vectors.delete_ids(ids)
            self.regroup()
            return True

    def reconcile(self) -> int:
        """Delete vectors whose chunk the registry doesn't hold; returns how many."""
        with self.writing():
            orphans = sorted(self.vectors.ids() - self.registry.chunk_ids())
            self.vectors.delete_ids(orphans)
            return len(orphans)

    def outlets(self) -> list[str]:
        """The collection's distinct outlets, read again only when the registry's generation
        has moved (any write, here or in another process)."""
        gen = self.registry.generation
        cached = self.__dict__.get("_outlets")
        if cached is None or cached[0] != gen:
            cached = self._outlets = (gen, self.registry.sources())
        return cached[1]

    def newest_date(self) -> str:
        """The newest publication date in the collection ("" if none), cached like `outlets`."""
        gen = self.registry.generation
        cached = self.__dict__.get("_newest")
        if cached is None or cached[0] != gen:
            cached = self._newest = (gen, self.registry.newest_date())
        return cached[1]

    def article_meta(self, article_ids: list[str]) -> dict[str, dict]:
        """Title/source/date/url of the given articles (no text), for building hits."""
        return self.registry.article_meta(article_ids)

    # ---- near-duplicate stories ------------------------------------------------------
    def article_vectors(self) -> dedup.ArticleVectors:
        """Every stored article's vector, in memory (pass it to ``find_duplicates`` across batches)."""
        ids, blobs = self.registry.article_vectors()
        mat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), self.embedder.dim)
        return dedup.ArticleVectors(ids, mat)

    def chunk_vectors(self, article_ids: list[str]) -> dict[str, np.ndarray]:
        """Each article's chunk vectors (in chunk order), read back from the vector index."""
        chunk_ids = self.registry.chunk_ids_of_many(article_ids)
        vecs = self.vectors.vectors([c for a in article_ids for c in chunk_ids.get(a, [])])
        out = {}
        for a in article_ids:
            got = [vecs[c] for c in chunk_ids.get(a, []) if c in vecs]
            if got:
                out[a] = np.stack(got)
        return out

    def story_texts(self) -> dedup.StoryTexts:
        """Articles' sentences and names for the duplicate check (pass it across batches)."""
        return dedup.StoryTexts(lambda aid: a.text if (a := self.registry.article(aid)) else "")

    def find_duplicates(
        self,
        batch: list[tuple[str, np.ndarray]],
        known: dedup.ArticleVectors,
        texts: dedup.StoryTexts | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """For each just-stored (article id, chunk vectors) of ``batch``: the stored articles
        that are copies of the same story. ``known`` holds the stored article vectors
        (``article_vectors()``, kept across an ingest run); the batch's own are added to it."""
        return dedup.find_duplicates(batch, known, texts or self.story_texts(), self.chunk_vectors)

    def regroup(self) -> None:
        """Recompute story groups (`dedup.stories`) for every article."""
        with self.writing():
            edges = self.registry.duplicate_edges()
            groups = dedup.stories(
                self.registry.article_ids(), edges, self.article_vectors() if edges else None
            )
            self.registry.set_groups(groups)
