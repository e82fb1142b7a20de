"""The keyword side of the index: BM25 (bm25s) over stemmed content terms of every chunk.

Built from the registry on first use and rebuilt when the registry's generation changes,
so it can never disagree with what is stored (no separate file to go stale).
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import numpy as np

from ..ingest.registry import Registry
from ..text import terms
from ..types import Filters


class KeywordIndex:
    def __init__(self, registry: Registry):
        self.registry = registry
        self._generation = -1
        self._lock = threading.Lock()
        self._bm25 = None
        self.ids: list[str] = []
        self._meta: list[tuple[str, str, str]] = []  # (article_id, source, published_at)
        self.df: Counter[str] = Counter()
        self.n_docs = 0

    def _ensure(self) -> None:
        gen = self.registry.generation
        if gen == self._generation:
            return
        with self._lock:
            if gen == self._generation:
                return
            import bm25s

            meta = {a["id"]: (a["source"], a["published_at"]) for a in self.registry.article_stats()}
            chunks = self.registry.chunks()
            corpus = [terms(c.text) for c in chunks]
            bm25 = None
            if chunks:
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            self.df = Counter(t for doc in corpus for t in set(doc))
            self.n_docs = len(chunks)
            self.ids = [c.id for c in chunks]
            self._meta = [(c.article_id, *meta.get(c.article_id, ("", ""))) for c in chunks]
            self._bm25, self._generation = bm25, gen

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of a stemmed term over chunks."""
        if self._generation < 0:  # search() keeps it fresh; answering needs no re-check per term
            self._ensure()
        return math.log(1 + (self.n_docs + 1) / (self.df.get(term, 0) + 0.5))

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; only chunks sharing a term with the query."""
        self._ensure()
        if self._bm25 is None:
            return []
        vocab = self._bm25.vocab_dict
        q = [t for t in terms(query) if t in vocab]
        if not q:
            return []
        mask = None
        if filters is not None and not filters.empty:
            mask = np.array([filters.allows(s, p, a) for a, s, p in self._meta], dtype=np.float32)
        scores = self._bm25.get_scores(q, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
