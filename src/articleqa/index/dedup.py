"""Near-duplicate stories: syndicated, lightly edited or rewritten copies of one story.

Measured on the sample articles (a rewrite of one story) and on made pairs (docs/ingestion.md):
word-shingle MinHash finds light edits (Jaccard 0.86-0.91) but misses rewrites (0.00), so we
use embeddings. Two articles are copies of one story when their mean chunk vectors are
close (cosine >= 0.8; rewrite 0.91, same topic but different text up to 0.86) AND most of
the shorter article's chunks have a counterpart in the other (cosine >= 0.7 for >= 60%
of them; rewrite 1.00, light edits >= 0.96, same-topic different text <= 0.22).

Only a new article's NEAREST_CHECKED closest stored articles (by article vector) get the
chunk check, so the work per article stays bounded when a story has hundreds of copies.
On the synthetic 100k-chunk benchmark corpus (~65 copies per story) checking every
candidate took 690-763 s of ingestion; checking the nearest 10/20/40 took ~120/128/143 s and
grouped 97.3/98.5/99.3% as many articles (docs/performance.md). A copy joins its story when
it links to more than half of the members it could have checked (`stories`), so a story
with many copies forms one group while a chain of different stories doesn't.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ..text import sentence_spans, words

ARTICLE_COS = 0.8
CHUNK_COS = 0.7
ALIGNED_SHARE = 0.6
NEAREST_CHECKED = 20
# Two articles are one story only if this share of the names and numbers of the one with
# fewer (over sentences that aren't boilerplate: found word for word in COMMON_MIN or more
# of the articles compared) is in the other too; checked when both have MIN_NAMES or more.
# Measured: the rewritten sample pair 0.59; 40 different stories (SQuAD paragraphs) sharing
# four filler paragraphs at most 0.53 (two paragraphs of one Wikipedia page), 0.33 across
# pages; a templated earnings story told of 10 companies at most 0.20. On the corpus of
# tests/test_collections.py (12 pages and 10 templated stories sharing eight filler
# paragraphs, beside the sample pair) 21 of the 22 formed one group before; none do now.
NAME_SHARE = 0.55
MIN_NAMES = 4
COMMON_MIN = 3
# An article or group joins a group when it links to more than half of its members, counted
# up to this many: each article checks its NEAREST_CHECKED nearest, so with 42 copies in two
# runs (tests/test_collections.py) a copy links to ~10-20 of the others; counting up to 20
# split that story in two, 10 keeps it whole.
JOIN_COUNTED = 10
# Mean article vectors this close are the same text, lightly edited at most (light edits
# 0.96+, the rewritten sample pair 0.91, different stories sharing filler below that).
SAME_TEXT_COS = 0.95


def article_vector(chunk_vecs: np.ndarray) -> np.ndarray:
    v = chunk_vecs.mean(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the better-covered article's chunks that have a close chunk in the other."""
    sims = a @ b.T
    return float(max((sims.max(1) >= CHUNK_COS).mean(), (sims.max(0) >= CHUNK_COS).mean()))


class ArticleVectors:
    """Unit article vectors in memory, searched for each new article's nearest ones.

    Built once per ingest run and kept current as batches land, instead of re-reading every
    stored vector per batch. Rows grow by doubling, so adding stays amortised O(1)."""

    def __init__(self, ids: list[str], vecs: np.ndarray):
        """``vecs``: one row per id, shape (len(ids), dim) even when empty."""
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._mat = np.zeros((max(64, len(ids)), vecs.shape[1]), dtype=np.float32)
        self.upsert(ids, vecs)

    def __len__(self) -> int:
        return len(self._ids)

    def upsert(self, ids: list[str], vecs: np.ndarray) -> None:
        for a, v in zip(ids, vecs, strict=True):
            i = self._row.get(a)
            if i is None:
                i = self._row[a] = len(self._ids)
                self._ids.append(a)
                if i == len(self._mat):
                    self._mat = np.concatenate([self._mat, np.zeros_like(self._mat)])
            self._mat[i] = v

    def mean(self, ids: list[str]) -> np.ndarray:
        """The mean of the given articles' vectors (those known)."""
        rows = [self._row[i] for i in ids if i in self._row]
        return self._mat[rows].mean(0) if rows else np.zeros(self._mat.shape[1], np.float32)

    def nearest(self, ids: list[str], vecs: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each (id, unit vector): up to ``k`` other articles with cosine >= ARTICLE_COS, closest first."""
        sims = vecs @ self._mat[: len(self._ids)].T
        out = []
        for a, row in zip(ids, sims, strict=True):
            hits = [int(i) for i in np.flatnonzero(row >= ARTICLE_COS) if self._ids[i] != a]
            hits.sort(key=lambda i: -row[i])
            out.append([(self._ids[i], float(row[i])) for i in hits[:k]])
        return out


def same_story(
    a: str, a_vecs: np.ndarray, others: dict[str, np.ndarray], texts: StoryTexts
) -> dict[str, bool]:
    """Which of ``others`` (article id → chunk vectors: the candidates article ``a``'s vector
    found) tell the same story as ``a``: ``alignment`` ≥ ALIGNED_SHARE, and the names and
    numbers of their own sentences overlap (`shared_names`), which templated copy and
    stories that share boilerplate lack."""
    pool = [texts.get(o) for o in (a, *others)]
    mine = texts.get(a)
    out = {}
    for o, v in others.items():
        share = shared_names(mine, texts.get(o), pool)
        out[o] = alignment(a_vecs, v) >= ALIGNED_SHARE and (share is None or share >= NAME_SHARE)
    return out


Sentences = list[tuple[str, frozenset[str]]]  # (normalised sentence, its names and numbers)


class StoryTexts:
    """Each article's sentences with their names and numbers, read from the registry once."""

    def __init__(self, text_of):
        self._text_of = text_of  # article id → text ("" when gone)
        self._cache: dict[str, Sentences] = {}

    def get(self, article_id: str) -> Sentences:
        got = self._cache.get(article_id)
        if got is None:
            text = self._text_of(article_id)
            got = self._cache[article_id] = [
                (" ".join(words(text[x:y])), frozenset(_names(text[x:y]))) for x, y in sentence_spans(text)
            ]
        return got


def find_duplicates(
    batch: list[tuple[str, np.ndarray]],
    known: ArticleVectors,
    texts: StoryTexts,
    chunk_vectors: Callable[[list[str]], dict[str, np.ndarray]],
) -> dict[str, list[tuple[str, float]]]:
    """For each just-stored (article id, chunk vectors) of ``batch``: the stored articles that
    are copies of the same story (every backend's ``find_duplicates``). ``known`` holds the
    stored article vectors (kept across an ingest run); the batch's own are added to it.
    ``chunk_vectors`` reads stored articles' chunk vectors, once for every candidate."""
    ids = [a for a, _ in batch]
    unit = np.stack([article_vector(v) for _, v in batch]).astype(np.float32)
    known.upsert(ids, unit)
    candidates = known.nearest(ids, unit, NEAREST_CHECKED)
    chunks = dict(batch)
    chunks.update(chunk_vectors(sorted({o for cs in candidates for o, _ in cs} - chunks.keys())))
    out: dict[str, list[tuple[str, float]]] = {a: [] for a in ids}
    for a, cands in zip(ids, candidates, strict=True):
        others = {o: chunks[o] for o, _ in cands if o in chunks}
        same = same_story(a, chunks[a], others, texts)
        out[a] = [(o, cos) for o, cos in cands if same.get(o)]
    return out


def _names(sentence: str) -> set[str]:
    """Capitalised words after the first, and numbers: what two tellings of a story share."""
    toks = re.findall(r"[\w’'.,-]+", sentence)
    out = set()
    for i, t in enumerate(toks):
        t = re.sub(r"(?:[’']s)?[.,]*$", "", t)
        if t[:1].isdigit():
            out.add(t.replace(",", ""))
        elif i > 0 and t[:1].isupper():
            out.add(t.lower())
    return out


def shared_names(a: Sentences, b: Sentences, pool: list[Sentences]) -> float | None:
    """The share of the names and numbers of the article with fewer that the other has too,
    over their own sentences: a sentence found word for word in COMMON_MIN or more articles
    of ``pool`` is boilerplate (a footer, a disclaimer) and doesn't count, unless it is all
    an article has. None when neither has MIN_NAMES; 0 when only one has."""
    seen: dict[str, int] = {}
    for sents in pool:
        for s in {s for s, _ in sents}:
            seen[s] = seen.get(s, 0) + 1

    def own(sents: Sentences) -> set[str]:
        mine = [n for s, n in sents if seen.get(s, 0) < COMMON_MIN] or [n for _, n in sents]
        return set().union(*mine) if mine else set()

    na, nb = own(a), own(b)
    if max(len(na), len(nb)) < MIN_NAMES:
        return None  # too few to tell either way
    if min(len(na), len(nb)) < MIN_NAMES:
        return 0.0  # one names people and places, the other hardly any: not one story
    return len(na & nb) / min(len(na), len(nb))


def stories(
    ids: list[str], edges: list[tuple[str, str]], vectors: ArticleVectors | None = None
) -> dict[str, str | None]:
    """Group id for every article (the smallest id of its group), None if alone.

    Groups don't grow by chaining: an article (or a group, when two meet) joins a group only
    when it links, on average per member, to more than half of that group's members (counted
    up to JOIN_COUNTED), so A≈B and B≈C don't make A, B and C one story unless A≈C too. Two
    linked groups whose mean article vectors are nearly the same text (≥ SAME_TEXT_COS) join
    too: each article checks only its nearest, so copies ingested in two runs link sparsely.
    """
    links: dict[str, set[str]] = {i: set() for i in ids}
    for a, b in edges:
        if a in links and b in links and a != b:
            links[a].add(b)
            links[b].add(a)
    group = {i: i for i in ids}  # article → group key
    members = {i: [i] for i in ids}

    def joins(g: str, h: str, n: int, ends: set[str]) -> bool:
        small, large = sorted((len(members[g]), len(members[h])))
        if n / small > min(large, JOIN_COUNTED) / 2:
            return True
        # Sparse links but the same text: copies, if the links don't all hang on one or two
        # articles of either group (a hub between different stories).
        spread = all(len(ends & set(members[x])) >= min(3, len(members[x])) for x in (g, h))
        return (
            spread and vectors is not None and _centroid_cos(vectors, members[g], members[h]) >= SAME_TEXT_COS
        )

    while True:
        cross: dict[tuple[str, str], int] = {}
        ends: dict[tuple[str, str], set[str]] = {}
        for a in ids:
            for b in links[a]:
                if group[a] < group[b]:
                    key = (group[a], group[b])
                    cross[key] = cross.get(key, 0) + 1
                    ends.setdefault(key, set()).update((a, b))
        joinable = sorted((-n, g, h) for (g, h), n in cross.items() if joins(g, h, n, ends[g, h]))
        if not joinable:
            break
        joined: set[str] = set()
        for _, g, h in joinable:
            if g in joined or h in joined:
                continue  # sizes changed: judged again in the next round
            joined |= {g, h}
            keep, gone = (g, h) if len(members[g]) >= len(members[h]) else (h, g)
            for i in members.pop(gone):
                group[i] = keep
                members[keep].append(i)
    out: dict[str, str | None] = {}
    for ms in members.values():
        gid = min(ms) if len(ms) > 1 else None
        for i in ms:
            out[i] = gid
    return out


def _centroid_cos(vectors: ArticleVectors, a: list[str], b: list[str]) -> float:
    ca, cb = vectors.mean(a), vectors.mean(b)
    return float(ca @ cb / max(float(np.linalg.norm(ca) * np.linalg.norm(cb)), 1e-12))
