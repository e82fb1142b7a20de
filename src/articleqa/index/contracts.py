"""The storage contracts: what ingestion writes, what retrieval reads, what answering counts.

Everything above ``index/`` (ingestion, retrieval, answering, the `Assistant`, the CLI, the
UI, the evaluation) talks to a store only through these protocols; a backend is one
subpackage of ``index/`` implementing `ArticleStore` plus one line in `index.STORES`
(``Config.store`` chooses it). ``index/local/`` (SQLite registry + Chroma + in-process BM25)
is the one there is; ``tests/test_store_contract.py`` is what another backend must pass.

The rules every backend keeps:

- **An article is one unit.** `ArticleWriter.put_many` stores (or replaces, by key) each
  article with its chunks and their vectors; readers never see half of a write, nor chunks
  of a replaced version, through `chunks`, `article`, `article_meta` or a search resolved
  through `chunks`. A crash mid-write leaves one whole version visible (the old one, or
  none, or the new one); what it left behind is swept by `reconcile`.
- **Filters are the backend's.** `dense_search` and `keyword_search` each honour `Filters`
  (sources, since/until on ``published_at``, article ids) themselves, before ranking.
- **Ids may outlive their chunk.** A search may name a chunk id an interrupted write left
  behind; callers resolve ids with `chunks`, which knows only committed chunks.
- **Corpus statistics are over chunks.** `document_frequencies` counts the stored chunks
  holding each stemmed term (`text.terms`); `idf` is ``ln(1 + (N + 1) / (df + 0.5))`` with
  ``N`` the number of chunks (the answerers' thresholds are calibrated on it). They are
  read per term, many times an answer, so they may hold still between `keyword_search`es
  (or `sync_indexes`), which bring them up to date.
- **Other writers are noticed.** `generation` moves with every committed write, by any
  process; `refresh` brings what this process holds in memory up to date, and `reading`
  runs a read against the current state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..types import Article, ArticleInfo, Chunk, FeedState, Filters

if TYPE_CHECKING:
    from ..config import Config
    from . import dedup
    from .embeddings import CachedEmbedder, Embedder

T = TypeVar("T")

# (article, its chunks, their vectors: one row per chunk, L2-normalised)
Embedded = tuple[Article, list[Chunk], np.ndarray]


class StoreMismatch(ValueError):
    """The store holds a collection this configuration can't use: built with another embedding
    model, written by a newer articleqa, or tables articleqa didn't make. Said in one line."""


class StoreUnavailable(RuntimeError):
    """The store could not be read even after reopening it (what went wrong inside the
    backend is logged, not shown)."""


@runtime_checkable
class Embedding(Protocol):
    """The embedding model a store is built for (its vectors are this model's)."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts``, one row each (float32)."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-pieces per text (chunking bounds a chunk by the model's input length)."""
        ...

    def embedding_model(self) -> Embedder:
        """The loaded model itself, to share it (the evaluation's baseline embeds with it)."""
        ...

    @property
    def sentence_embedder(self) -> CachedEmbedder:
        """The model behind an LRU, for sentences compared with a question at answer time."""
        ...


@runtime_checkable
class ArticleWriter(Protocol):
    """What ingestion writes, and the reads it needs to decide what to write."""

    def writing(self) -> AbstractContextManager[None]:
        """Hold the store's write lock (one writer at a time, across processes), with this
        process's view brought up to date first. Reentrant."""
        ...

    def put_many(self, batch: list[Embedded]) -> None:
        """Store or replace (by ``Article.key``) each article with its chunks and vectors, as
        one unit: nothing of a version is visible before all of it is, and nothing of the
        replaced version after. An id held by another key raises ValueError."""
        ...

    def remove(self, article_id: str) -> bool:
        """Delete an article, its chunks and vectors (and regroup stories); False if unknown."""
        ...

    def reconcile(self) -> int:
        """Sweep what an interrupted write left behind; how many leftovers were removed."""
        ...

    def article_by_key(self, key: str) -> Article | None: ...

    def unique_id(self, wanted: str, key: str, taken: set[str] = frozenset()) -> str:
        """``wanted`` unless another article (or ``taken``) holds it; then ``wanted-2``..."""
        ...

    def origins(self) -> list[tuple[str, str, str]]:
        """(id, key, origin) of every article ("" origin: handed in, or stored before origins)."""
        ...

    def set_origins(self, origins: dict[str, str]) -> None:
        """Record where unchanged articles were read from (article id → origin)."""
        ...

    # ---- feeds ----
    def feed_states(self) -> list[FeedState]:
        """Every feed polled so far, by URL."""
        ...

    def feed_fingerprints(self, feed_url: str) -> dict[str, str]:
        """Entry key → fingerprint as last read, for entries whose article is still stored."""
        ...

    def record_feed(self, state: FeedState, fingerprints: dict[str, str] | None = None) -> None:
        """Save a feed's poll state and (when it was read) its stored entries' fingerprints."""
        ...

    # ---- story groups (index/dedup.py) ----
    def article_vectors(self) -> dedup.ArticleVectors:
        """Every stored article's vector, in memory."""
        ...

    def story_texts(self) -> dedup.StoryTexts:
        """Articles' sentences and names for the duplicate check."""
        ...

    def chunk_vectors(self, article_ids: list[str]) -> dict[str, np.ndarray]:
        """Each article's chunk vectors, in chunk order."""
        ...

    def find_duplicates(
        self,
        batch: list[tuple[str, np.ndarray]],
        known: dedup.ArticleVectors,
        texts: dedup.StoryTexts | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """For each (article id, chunk vectors): the stored copies of the same story."""
        ...

    def set_duplicates(self, edges: dict[str, list[tuple[str, float]]]) -> None:
        """Replace the duplicate edges of each article in ``edges``."""
        ...

    def regroup(self) -> None:
        """Recompute story groups (``group_id``) for every article from the duplicate edges."""
        ...

    def sync_indexes(self) -> None:
        """Bring derived indexes up to date with what is stored (and saved, where a backend
        keeps them in a file), so the next reader needn't rebuild them."""
        ...


@runtime_checkable
class PassageSearch(Protocol):
    """What retrieval reads: top-k by meaning and by keywords, each honouring `Filters`."""

    def dense_search(
        self, qvec: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks allowed by ``filters``, best first."""
        ...

    def keyword_search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the ``k`` best chunks allowed by ``filters`` sharing a
        term with ``query``, best first."""
        ...

    def chunks(self, ids: list[str]) -> list[Chunk]:
        """The stored chunks among ``ids``, in the order given (unknown ids left out)."""
        ...

    def article_chunks(self, article_id: str) -> list[Chunk]:
        """An article's stored chunks, in order ([] for an unknown article)."""
        ...

    def passage_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """Chunk id → its vector, for the ids that have one."""
        ...


@runtime_checkable
class CorpusStats(Protocol):
    """What answering counts over the collection, and how it notices other writers."""

    def idf(self, term: str) -> float:
        """``ln(1 + (N + 1) / (df + 0.5))`` of a stemmed term over the ``N`` stored chunks."""
        ...

    def document_frequencies(self) -> Mapping[str, int]:
        """Stemmed term → number of chunks holding it (terms in no chunk are absent)."""
        ...

    def outlets(self) -> list[str]:
        """The distinct non-empty ``Article.source`` values, sorted."""
        ...

    def newest_date(self) -> str:
        """The newest ``published_at`` ("" when no article has one)."""
        ...

    def article(self, article_id: str) -> Article | None: ...

    def article_meta(self, article_ids: list[str]) -> dict[str, dict]:
        """id → {id, title, source, published_at, url, group_id} (no text)."""
        ...

    def article_stats(self) -> list[ArticleInfo]:
        """One row per article, by id: id, title, source, published_at, url, key, group_id,
        chunks, chars, origin, version."""
        ...

    def count(self) -> tuple[int, int]:
        """(articles, chunks)."""
        ...

    @property
    def generation(self) -> int:
        """Moves with every committed write, by any process."""
        ...

    def refresh(self) -> bool:
        """Follow other processes' writes; True when something held in memory was reopened."""
        ...

    def reading(self, what: Callable[[], T]) -> T:
        """``what()`` against the current store, retried once after reopening if the backend
        fails mid-read; a second failure raises `StoreUnavailable` (never the backend's own
        error type)."""
        ...

    def warm_up(self) -> None:
        """Load the model and open the indexes now (a first question then waits for nothing)."""
        ...


@runtime_checkable
class ArticleStore(Embedding, ArticleWriter, PassageSearch, CorpusStats, Protocol):
    """A whole backend: `open_store` returns one."""

    cfg: Config


StoreFactory = Callable[["Config", "Embedder | None"], ArticleStore]

__all__ = [
    "ArticleStore",
    "ArticleWriter",
    "CorpusStats",
    "Embedded",
    "Embedding",
    "PassageSearch",
    "StoreFactory",
    "StoreMismatch",
    "StoreUnavailable",
]
