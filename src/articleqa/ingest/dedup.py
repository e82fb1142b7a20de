"""Near-duplicate stories: syndicated, lightly edited or rewritten copies of one story.

Measured on the sample articles (a rewrite of one story) and on made pairs (docs/ingestion.md):
word-shingle MinHash finds light edits (Jaccard 0.86-0.91) but misses rewrites (0.00), so we
use embeddings. Two articles are copies of one story when their mean chunk vectors are
close (cosine >= 0.8; rewrite 0.91, same topic but different text up to 0.86) AND most of
the shorter article's chunks have a counterpart in the other (cosine >= 0.7 for >= 60%
of them; rewrite 1.00, light edits >= 0.96, same-topic different text <= 0.22).
"""

from __future__ import annotations

import numpy as np

ARTICLE_COS = 0.8
CHUNK_COS = 0.7
ALIGNED_SHARE = 0.6


def article_vector(chunk_vecs: np.ndarray) -> np.ndarray:
    v = chunk_vecs.mean(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the better-covered article's chunks that have a close chunk in the other."""
    sims = a @ b.T
    return float(max((sims.max(1) >= CHUNK_COS).mean(), (sims.max(0) >= CHUNK_COS).mean()))


def is_duplicate(a_chunks: np.ndarray, b_chunks: np.ndarray) -> tuple[bool, float]:
    cos = float(article_vector(a_chunks) @ article_vector(b_chunks))
    if cos < ARTICLE_COS:
        return False, cos
    return alignment(a_chunks, b_chunks) >= ALIGNED_SHARE, cos


def components(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, str | None]:
    """Group id for every article: the smallest id of its duplicate component, None if alone."""
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
    sizes: dict[str, int] = {}
    for i in ids:
        sizes[find(i)] = sizes.get(find(i), 0) + 1
    return {i: (find(i) if sizes[find(i)] > 1 else None) for i in ids}
