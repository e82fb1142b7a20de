"""The keyword side of the index: BM25 over stemmed content terms of every chunk.

Kept in step with the registry (the source of truth) through its generation counter, so
it can never disagree with what is stored. Scores are bm25s's "lucene" BM25 (k1=1.5,
b=0.75), computed the same way, but the index is maintained incrementally: per chunk it
keeps the term ids and counts, saved beside the registry (``keywords.npz``), so a new
process loads them instead of tokenising every chunk again, and a change tokenises only
the chunks that are new. Only the BM25 weights (which depend on corpus-wide statistics)
are recomputed, with numpy. Measured at 100k chunks (docs/performance.md): bm25s rebuilt
everything on every change in 13.4 s, peaking at 670 MB; this builds cold in 6.7 s
(498 MB), loads in 0.9 s (306 MB) and takes 1.1 s to follow a change.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...text import raw_words, term, terms
from ...types import Filters
from .registry import Registry

K1, B = 1.5, 0.75
FILE_NAME = "keywords.npz"
FORMAT = 1
# A process saves the index after tokenising at least this many chunks; smaller changes
# are cheaper to redo on load than to rewrite the file (tens of MB at 100k chunks).
SAVE_AFTER_NEW_CHUNKS = 2000


@dataclass
class _State:
    """One consistent snapshot; replaced whole, so readers never see a half-update."""

    generation: int = -1
    ids: list[str] = field(default_factory=list)
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # (start, end) per chunk
    art: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # chunk -> index into articles
    articles: list[tuple[str, str, str]] = field(default_factory=list)  # (article_id, source, published_at)
    terms: list[str] = field(default_factory=list)  # term id -> stemmed term
    # Per chunk (CSR): distinct term ids, their counts, and the chunk's length in terms.
    doc_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    doc_terms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    doc_tf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    doc_len: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # Per term (CSC): the chunks holding it and the BM25 weight there.
    vocab: dict[str, int] = field(default_factory=dict)
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    post_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    post_doc: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    post_w: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def n_docs(self) -> int:
        return len(self.ids)


class _DocFreq(Mapping):
    """term → number of chunks containing it (terms in no chunk are absent)."""

    def __init__(self, st: _State):
        self._st = st

    def __getitem__(self, term: str) -> int:
        i = self._st.vocab.get(term)
        if i is None or self._st.df[i] == 0:
            raise KeyError(term)
        return int(self._st.df[i])

    def __iter__(self) -> Iterator[str]:
        return (t for t, i in self._st.vocab.items() if self._st.df[i])

    def __len__(self) -> int:
        return int(np.count_nonzero(self._st.df))


class KeywordIndex:
    def __init__(self, registry: Registry, path: Path | None = None):
        self.registry = registry
        self.path = Path(path) if path else registry.path.with_name(FILE_NAME)
        self._lock = threading.Lock()
        self._state = _State()
        self._loaded = False

    @property
    def df(self) -> Mapping[str, int]:
        """term → number of chunks holding it (the evidence score looks for unseen names)."""
        if self._state.generation < 0:  # as `idf`: search() keeps it fresh
            self.refresh()
        return _DocFreq(self._state)

    def refresh(self) -> None:
        """Catch up with the registry (saving the file after a large change). Searches call
        it; ingestion too, so a new process's first question loads the saved index instead
        of tokenising every new chunk (9.6 s at 100k chunks)."""
        gen = self.registry.generation
        if gen == self._state.generation:
            return
        with self._lock:
            if gen == self._state.generation:
                return
            old = self._state
            if not self._loaded:
                self._loaded = True
                old = _load(self.path) or old
            self._state, n_new = _update(self.registry, old, gen)
            if n_new >= SAVE_AFTER_NEW_CHUNKS or (n_new and not self.path.exists()):
                _save(self._state, self.path)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of a stemmed term over chunks."""
        if self._state.generation < 0:  # search() keeps it fresh; answering needs no re-check per term
            self.refresh()
        st = self._state
        i = st.vocab.get(term)
        df = int(st.df[i]) if i is not None else 0
        return math.log(1 + (st.n_docs + 1) / (df + 0.5))

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; only chunks sharing a term with the query."""
        self.refresh()
        st = self._state
        if not st.n_docs:
            return []
        q = [st.vocab[t] for t in terms(query) if t in st.vocab]
        if not q:
            return []
        scores = np.zeros(st.n_docs, dtype=np.float32)
        for t in q:  # in query order, repeats included, as bm25s sums them
            s, e = st.post_ptr[t], st.post_ptr[t + 1]
            scores[st.post_doc[s:e]] += st.post_w[s:e]  # a chunk occurs once per term
        if filters is not None and not filters.empty:
            allowed = np.array([filters.allows(s, p, a) for a, s, p in st.articles], dtype=np.float32)
            scores *= allowed[st.art]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(st.ids[i], float(scores[i])) for i in top if scores[i] > 0]


# ---- building -----------------------------------------------------------------------------
def _live_chunks(registry: Registry) -> list[tuple[str, str, int, int]]:
    """(id, article_id, start, end) of every stored chunk, without loading their text."""
    return registry.chunk_spans()


class _Tokenizer:
    """``text.terms`` as term ids, with each distinct raw word lower-cased, stop-listed and
    stemmed once (most of the cost of ``terms`` over a corpus is redoing that per word)."""

    def __init__(self, vocab: dict[str, int], term_list: list[str]):
        self.vocab, self.term_list = vocab, term_list
        self._raw: dict[str, int] = {}

    def __call__(self, text: str) -> list[int]:
        """Term ids of ``text`` in order; -1 for stop words."""
        ws = raw_words(text)
        raw = self._raw
        try:
            return list(map(raw.__getitem__, ws))
        except KeyError:
            for w in ws:
                if w not in raw:
                    raw[w] = self._term_id(w)
            return list(map(raw.__getitem__, ws))

    def counts(self, blocks: Iterable[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per text: its distinct term ids and their counts (CSR: ptr, terms, tf) and its length.

        Takes the texts in blocks, so neither all texts nor all their Python lists of ids
        (~40 B per word) are ever held at once.
        """
        ptr, terms_, tf, lens = [np.zeros(1, np.int64)], [], [], []
        for texts in blocks:
            part = [self(t) for t in texts]
            n_words = np.fromiter(map(len, part), np.int64, len(part))
            flat = np.fromiter(itertools.chain.from_iterable(part), np.int64, int(n_words.sum()))
            doc = np.repeat(np.arange(len(part), dtype=np.int64), n_words)
            keep = flat >= 0
            flat, doc = flat[keep], doc[keep]
            key, c = np.unique(doc * max(len(self.term_list), 1) + flat, return_counts=True)
            u_doc = key // max(len(self.term_list), 1)
            terms_.append((key - u_doc * max(len(self.term_list), 1)).astype(np.int32))
            tf.append(c.astype(np.int32))
            ptr.append(ptr[-1][-1] + np.cumsum(np.bincount(u_doc, minlength=len(part))))
            lens.append(np.bincount(doc, minlength=len(part)).astype(np.int32))
        cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
        return cat(ptr, np.int64), cat(terms_, np.int32), cat(tf, np.int32), cat(lens, np.int32)

    def _term_id(self, w: str) -> int:
        t = term(w)
        if t is None:
            return -1
        tid = self.vocab.get(t)
        if tid is None:
            tid = self.vocab[t] = len(self.term_list)
            self.term_list.append(t)
        return tid


def _update(registry: Registry, old: _State, gen: int) -> tuple[_State, int]:
    """The index for the registry as it is now, reusing ``old``'s rows whose chunk is unchanged."""
    live = _live_chunks(registry)
    old_row = {cid: i for i, cid in enumerate(old.ids)}
    reuse = np.full(len(live), -1, dtype=np.int64)
    for i, (cid, _, a, b) in enumerate(live):
        j = old_row.get(cid)
        if j is not None and old.spans[j, 0] == a and old.spans[j, 1] == b:
            reuse[i] = j  # same id and span of an unchanged article: same text
    new_rows = np.flatnonzero(reuse < 0)
    if not len(new_rows) and np.array_equal(reuse, np.arange(len(old.ids))):
        # Nothing changed (a reload, or a generation bump that didn't touch chunks).
        return dataclasses.replace(old, generation=gen), 0

    vocab, term_list = dict(old.vocab), list(old.terms)
    new = _tokenize(registry, [live[i][0] for i in new_rows], _Tokenizer(vocab, term_list))
    doc_ptr, doc_terms, doc_tf, doc_len = _merge_rows(old, reuse, new_rows, new)
    terms_kept, doc_terms = _compact_terms(term_list, doc_terms)
    if terms_kept is not term_list:
        term_list, vocab = terms_kept, {t: i for i, t in enumerate(terms_kept)}
    articles, art = _article_rows(registry, old, live, new_rows)
    st = _State(
        generation=gen,
        ids=[c[0] for c in live],
        spans=np.array([(c[2], c[3]) for c in live], dtype=np.int64).reshape(-1, 2),
        art=art, articles=articles, terms=term_list, vocab=vocab,
        doc_ptr=doc_ptr, doc_terms=doc_terms, doc_tf=doc_tf, doc_len=doc_len,
    )  # fmt: skip
    _postings(st)
    return st, len(new_rows)


Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # CSR ptr, term ids, counts, lengths


def _tokenize(registry: Registry, new_ids: list[str], tok: _Tokenizer) -> Rows:
    """Term counts of the chunks ``new_ids``, reading their text from the registry in blocks."""

    def blocks() -> Iterator[list[str]]:
        for s in range(0, len(new_ids), 2000):
            texts = {c.id: c.text for c in registry.chunks(new_ids[s : s + 2000])}
            yield [texts.get(i, "") for i in new_ids[s : s + 2000]]

    return tok.counts(blocks())


def _merge_rows(old: _State, reuse: np.ndarray, new_rows: np.ndarray, new: Rows) -> Rows:
    """Per-chunk arrays in registry order: ``old``'s rows gathered (``reuse[i]`` is chunk i's
    old row, or -1), the ``new`` ones filled in at ``new_rows``."""
    new_ptr, new_terms, new_tf, new_len = new
    n = len(reuse)
    counts = np.zeros(n, dtype=np.int64)
    kept = np.flatnonzero(reuse >= 0)
    old_counts = np.diff(old.doc_ptr)
    counts[kept] = old_counts[reuse[kept]]
    counts[new_rows] = np.diff(new_ptr)
    doc_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_ptr[1:])
    doc_terms = np.empty(doc_ptr[-1], dtype=np.int32)
    doc_tf = np.empty(doc_ptr[-1], dtype=np.int32)
    if len(kept):
        src = _ranges(old.doc_ptr[reuse[kept]], old_counts[reuse[kept]])
        dst = _ranges(doc_ptr[kept], counts[kept])
        doc_terms[dst] = old.doc_terms[src]
        doc_tf[dst] = old.doc_tf[src]
    if len(new_rows):
        dst = _ranges(doc_ptr[new_rows], counts[new_rows])
        doc_terms[dst] = new_terms
        doc_tf[dst] = new_tf
    doc_len = np.zeros(n, dtype=np.int32)
    doc_len[kept] = old.doc_len[reuse[kept]]
    doc_len[new_rows] = new_len
    return doc_ptr, doc_terms, doc_tf, doc_len


def _article_rows(
    registry: Registry, old: _State, live: list[tuple[str, str, int, int]], new_rows: np.ndarray
) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """(article_id, source, published_at) of every article with live chunks (the known ones
    kept, those of new chunks looked up), and each chunk's index into that list."""
    art_index = {a[0]: i for i, a in enumerate(old.articles)}
    articles = list(old.articles)
    missing = sorted({live[i][1] for i in new_rows} - art_index.keys())
    for s in range(0, len(missing), 500):
        meta = registry.article_meta(missing[s : s + 500])
        for aid in missing[s : s + 500]:
            m = meta.get(aid, {})
            art_index[aid] = len(articles)
            articles.append((aid, m.get("source", ""), m.get("published_at", "")))
    used = sorted({c[1] for c in live}, key=art_index.__getitem__)  # drop gone articles
    remap = {aid: j for j, aid in enumerate(used)}
    return [articles[art_index[a]] for a in used], np.array([remap[c[1]] for c in live], dtype=np.int32)


def _compact_terms(term_list: list[str], doc_terms: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Drop terms no chunk holds any more once they are most of the vocabulary (after removals)."""
    df = np.bincount(doc_terms, minlength=len(term_list))
    unused = int((df == 0).sum())
    if unused < max(1000, len(term_list) // 2):
        return term_list, doc_terms
    keep = df > 0
    remap = (np.cumsum(keep) - 1).astype(np.int32)
    return [t for t, k in zip(term_list, keep, strict=True) if k], remap[doc_terms]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + l)`` for every (s, l), vectorised."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offs = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + offs


def _postings(st: _State) -> None:
    """Term-major BM25 weights from the per-chunk counts, as bm25s computes them (lucene)."""
    n, n_terms = st.n_docs, len(st.terms)
    st.df = np.bincount(st.doc_terms, minlength=n_terms).astype(np.int64)
    st.post_ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(st.df, out=st.post_ptr[1:])
    if not n:
        return
    # bm25s: idf per term in float64, stored as float32; the length part in float64.
    idf = np.log(1 + (n - st.df + 0.5) / (st.df + 0.5)).astype(np.float32)
    avg_len = st.doc_len.mean()
    doc_of = np.repeat(np.arange(n, dtype=np.int32), np.diff(st.doc_ptr))
    w = np.empty(len(st.doc_terms), dtype=np.float32)
    for s in range(0, len(w), _BLOCK):  # in blocks: float64 temporaries stay small
        d, t = doc_of[s : s + _BLOCK], st.doc_terms[s : s + _BLOCK]
        tf = st.doc_tf[s : s + _BLOCK].astype(np.float32)
        norm = K1 * ((1 - B) + B * st.doc_len[d] / avg_len)
        w[s : s + _BLOCK] = idf[t] * (tf / (norm + tf))
    order = np.argsort(st.doc_terms, kind="stable")  # by term, chunks ascending within a term
    st.post_doc = doc_of[order]
    del doc_of
    st.post_w = w[order]


_BLOCK = 1 << 20


# ---- persistence ----------------------------------------------------------------------------
_SEP = "\x1f"  # unit separator: in no chunk id, article id, source, date or term


def _save(st: _State, path: Path) -> None:
    """Write atomically (temp file + rename); a read-only data dir just means no cache."""
    arrays = {
        "format": np.array(FORMAT), "generation": np.array(st.generation),
        "ids": np.array(_SEP.join(st.ids)), "spans": st.spans, "art": st.art,
        "articles": np.array(_SEP.join(_SEP.join(a) for a in st.articles)),
        "terms": np.array(_SEP.join(st.terms)),
        "doc_ptr": st.doc_ptr, "doc_terms": st.doc_terms, "doc_tf": st.doc_tf, "doc_len": st.doc_len,
    }  # fmt: skip
    try:
        fd, tmp = tempfile.mkstemp(prefix=".keywords-", suffix=".npz", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def _split(a: np.ndarray) -> list[str]:
    s = str(a)
    return s.split(_SEP) if s else []


def _load(path: Path) -> _State | None:
    """A saved index, or None when there is none or it can't be read (it is only a cache)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                return None
            flat = _split(z["articles"])
            terms_ = _split(z["terms"])
            st = _State(
                generation=int(z["generation"]), ids=_split(z["ids"]), spans=z["spans"], art=z["art"],
                articles=[tuple(flat[i : i + 3]) for i in range(0, len(flat), 3)],
                terms=terms_, vocab={t: i for i, t in enumerate(terms_)},
                doc_ptr=z["doc_ptr"], doc_terms=z["doc_terms"], doc_tf=z["doc_tf"], doc_len=z["doc_len"],
            )  # fmt: skip
    except (OSError, ValueError, KeyError):
        return None
    if len(st.doc_ptr) != st.n_docs + 1 or len(st.spans) != st.n_docs:
        return None
    # The saved generation may be stale: _update re-checks every chunk against the registry.
    st.generation = -1
    _postings(st)
    return st
