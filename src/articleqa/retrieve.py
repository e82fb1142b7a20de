"""Hybrid retrieval: BM25 and vector search fused by reciprocal rank (RRF)."""

from __future__ import annotations

import numpy as np

from .index.store import Store
from .types import Filters, Hit


def retrieve(
    store: Store,
    question: str,
    top_k: int | None = None,
    filters: Filters | None = None,
    qvec: np.ndarray | None = None,
) -> list[Hit]:
    """The ``top_k`` best chunks for ``question``, each with vector, keyword and fused scores.

    RRF (Cormack et al., 2009) needs no score calibration between the two retrievers:
    each contributes 1 / (rrf_k + rank). Every returned hit gets its cosine similarity
    even when only BM25 found it, because the answerer and abstention use it.
    """
    cfg = store.cfg
    k = top_k or cfg.top_k
    if qvec is None:
        qvec = store.embedder.embed([question])[0]
    vec_hits = store.vectors.search(qvec, cfg.candidate_k, filters)
    kw_hits = store.keywords.search(question, cfg.candidate_k, filters)

    fused: dict[str, float] = {}
    for hits in (vec_hits, kw_hits):
        for rank, (cid, _) in enumerate(hits):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (cfg.rrf_k + rank + 1)
    vsim = dict(vec_hits)
    kws = dict(kw_hits)
    ranked = sorted(fused, key=lambda c: -fused[c])
    # The registry is the source of truth: a vector without a registered chunk is an orphan.
    chunks = {c.id: c for c in store.registry.chunks(ranked[: k * 2])}
    ranked = [c for c in ranked if c in chunks][:k]
    missing = [c for c in ranked if c not in vsim]
    if missing:
        for cid, v in store.vectors.vectors(missing).items():
            vsim[cid] = float(v @ qvec)
    meta = store.article_meta([chunks[c].article_id for c in ranked])
    out = []
    for rank, cid in enumerate(ranked):
        ch = chunks[cid]
        m = meta.get(ch.article_id, {})
        out.append(
            Hit(
                chunk=ch,
                title=m.get("title", ""),
                source=m.get("source", ""),
                published_at=m.get("published_at", ""),
                url=m.get("url", ""),
                score=fused[cid],
                vector_score=vsim.get(cid),
                keyword_score=kws.get(cid),
                rank=rank,
            )
        )
    return out
