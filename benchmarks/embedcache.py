"""Embedder wrappers for the benchmark: one that times the model, one that replays cached vectors.

Both follow articleqa's ``Embedder`` protocol (``name``, ``dim``, ``embed``, ``count_tokens``)
so they can be handed to ``Store(cfg, embedder=...)`` and to the baseline's embedding adapter.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class TimedEmbedder:
    """Delegates to ``inner`` and adds up the seconds spent in ``embed`` (the model's share)."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - t
        self.texts += len(out)
        return out


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorCache:
    """Vectors keyed by a hash of the exact text, in ``dir``: ``keys.npy`` + ``vectors.f32``.

    Rows are read with ``pread`` rather than a memory map, so replaying 100k vectors adds
    almost nothing to the resident memory measured in the process that uses the cache.
    """

    def __init__(self, dir: Path, dim: int = 384):
        self.dir = Path(dir)
        self.dim = dim
        self.dir.mkdir(parents=True, exist_ok=True)
        self._keys_path = self.dir / "keys.npy"
        self._vec_path = self.dir / "vectors.f32"
        keys = np.load(self._keys_path) if self._keys_path.exists() else np.zeros(0, dtype="S16")
        n_rows = self._vec_path.stat().st_size // (4 * dim) if self._vec_path.exists() else 0
        keys = keys[:n_rows]  # a write interrupted between the two files
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        self._n = len(keys)
        self._keys = keys

    def __len__(self) -> int:
        return self._n

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        """Row of each text in the cache, -1 where it isn't cached."""
        ks = np.array([text_key(t) for t in texts], dtype="S16")
        if not self._n or not len(ks):
            return np.full(len(ks), -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self._sorted, ks), 0, self._n - 1)
        return np.where(self._sorted[pos] == ks, self._order[pos], -1).astype(np.int64)

    def read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        width = 4 * self.dim
        fd = os.open(self._vec_path, os.O_RDONLY)
        try:
            for i, r in enumerate(rows):
                out[i] = np.frombuffer(os.pread(fd, width, int(r) * width), dtype=np.float32)
        finally:
            os.close(fd)
        return out

    def add(self, texts: Sequence[str], vecs: np.ndarray) -> None:
        if not len(texts):
            return
        with self._vec_path.open("ab") as f:
            f.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
        keys = np.concatenate([self._keys, np.array([text_key(t) for t in texts], dtype="S16")])
        np.save(self._keys_path, keys)
        self.__init__(self.dir, self.dim)  # re-sort for lookups


class CachingEmbedder:
    """Replays cached vectors; texts not in the cache go to ``inner`` (counted as misses)."""

    def __init__(self, inner, cache: VectorCache):
        self.inner = inner
        self.cache = cache
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        rows = self.cache.rows(texts)
        out = np.zeros((len(texts), self.inner.dim), dtype=np.float32)
        hit = rows >= 0
        if hit.any():
            out[hit] = self.cache.read(rows[hit])
        miss = np.flatnonzero(~hit)
        if len(miss):
            out[miss] = self.inner.embed([texts[i] for i in miss])
        self.hits += int(hit.sum())
        self.misses += len(miss)
        return out


class HashingEmbedder:
    """A stand-in for the model where it would take too long here (``run.py
    --synthetic-vectors``): each word is hashed to one of ``dim`` signed dimensions, counts are
    summed and the vector normalised. Texts sharing words get similar vectors, so the stores do
    the same work they would with the model's (HNSW, duplicate detection, filters), but the
    vectors mean nothing: speed and memory only, never quality. Kept in its own cache dir."""

    name = "hashing-synthetic"

    def __init__(self, dim: int = 384):
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import re

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if h >> 63 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)
