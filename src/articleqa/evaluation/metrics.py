"""Evaluation metrics, one small function each. Definitions: docs/evaluation.md.

Functions that average return ``None`` when there is nothing to average (an empty
denominator), so "no data" is never confused with a score of 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from ..types import CITATION_MARKER
from .datasets import EvalItem

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


class Span(Protocol):
    """A passage: a citation or a retrieved chunk."""

    article_id: str
    start: int
    end: int
    text: str


# ---- answers -------------------------------------------------------------------------
def normalize(text: str) -> str:
    """SQuAD normalisation, plus curly quotes mapped to straight ones so they count as punctuation."""
    text = text.translate(_QUOTES).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers (they are not answer words)."""
    return CITATION_MARKER.sub(" ", text)


def exact_match(pred: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer."""
    p = normalize(pred)
    return float(any(p == normalize(g) for g in golds))


def _token_f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return float(p == g)
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def f1(pred: str, golds: Sequence[str]) -> float:
    """SQuAD token F1, the best over the gold answers (0.0 without golds)."""
    return max((_token_f1(pred, g) for g in golds), default=0.0)


def _has(haystack: str, needle: str) -> bool:
    # Whole normalised tokens only: gold "10" must not match inside "2010".
    return bool(needle) and f" {needle} " in f" {haystack} "


def mentions(text: str, golds: Sequence[str], must_mention: Sequence[str] = ()) -> bool:
    """All ``must_mention`` items (when given) or else any gold answer appear in ``text``."""
    t = normalize(text)
    if must_mention:
        return all(_has(t, normalize(m)) for m in must_mention)
    return any(_has(t, normalize(g)) for g in golds)


def holds_evidence(text: str, item: EvalItem) -> bool:
    """A passage holds any gold answer, or every must-mention item (list answers span one sentence)."""
    if not item.answerable:
        return False
    t = normalize(text)
    if any(_has(t, normalize(g)) for g in item.answers):
        return True
    return bool(item.must_mention) and all(_has(t, normalize(x)) for x in item.must_mention)


def contains(pred: str, golds: Sequence[str], must_mention: Sequence[str] = ()) -> bool:
    """The answer holds the gold answer (or every must-mention item); False when unanswerable."""
    return bool(golds) and bool(pred.strip()) and mentions(pred, golds, must_mention)


# ---- citations -----------------------------------------------------------------------
def markers(text: str) -> list[int]:
    """Citation numbers in order of appearance: [1], [1, 3] and [1][2] forms."""
    return [int(n) for m in CITATION_MARKER.finditer(text) for n in m.group(1).split(",")]


def citations_valid(answer_text: str, citations: Iterable[object]) -> bool:
    """Every marker in the answer refers to a listed citation (given as numbers or with ``.n``)."""
    listed = {c if isinstance(c, int) else c.n for c in citations}  # type: ignore[attr-defined]
    return all(n in listed for n in markers(answer_text))


def overlaps(span: Span, gold_spans: Iterable[tuple[str, int, int]]) -> bool:
    return any(span.article_id == a and span.start < e and s < span.end for a, s, e in gold_spans)


def citation_correct(citation: Span, item: EvalItem) -> bool:
    """The cited passage holds a gold answer (or all must-mention items) or overlaps gold evidence."""
    return item.answerable and (holds_evidence(citation.text, item) or overlaps(citation, item.gold_spans))


def citation_precision(correct: Iterable[Sequence[bool]]) -> float | None:
    """Share of all citations (pooled over items) that are correct."""
    flat = [c for per_item in correct for c in per_item]
    return mean(flat)


def citation_recall(correct: Iterable[Sequence[bool]]) -> float | None:
    """Share of items (pass only correctly answered ones) with at least one correct citation."""
    return mean([any(per_item) for per_item in correct])


# ---- retrieval -----------------------------------------------------------------------
def relevant(span: Span, item: EvalItem) -> bool:
    """A retrieved passage holds the answer and, where known, lies in the gold evidence."""
    if not holds_evidence(span.text, item):
        return False
    if item.gold_spans:
        return overlaps(span, item.gold_spans)
    return not item.articles or span.article_id in item.articles


def first_relevant(spans: Sequence[Span], item: EvalItem, k: int = 10) -> int | None:
    """1-based rank of the first relevant passage among the top ``k``, or None."""
    return next((r for r, s in enumerate(spans[:k], 1) if relevant(s, item)), None)


def hit_at_k(hits: Sequence[object], item: EvalItem, k: int) -> bool:
    """Some relevant passage among the top ``k`` hits (`Hit` objects or bare spans)."""
    return first_relevant([_span(h) for h in hits], item, k) is not None


def mrr_at_k(hits: Sequence[object], item: EvalItem, k: int = 10) -> float:
    """Reciprocal rank of the first relevant hit among the top ``k`` (0.0 when none)."""
    rank = first_relevant([_span(h) for h in hits], item, k)
    return 1.0 / rank if rank else 0.0


def _span(hit: object) -> Span:
    return getattr(hit, "chunk", hit)  # type: ignore[return-value]


# ---- abstention ----------------------------------------------------------------------
def abstain_precision(abstained: Sequence[bool], answerable: Sequence[bool]) -> float | None:
    """Of the items abstained on, the share that were unanswerable."""
    return mean([not a for ab, a in zip(abstained, answerable, strict=True) if ab])


def abstain_recall(abstained: Sequence[bool], answerable: Sequence[bool]) -> float | None:
    """Of the unanswerable items, the share abstained on."""
    return mean([ab for ab, a in zip(abstained, answerable, strict=True) if not a])


def false_abstain_rate(abstained: Sequence[bool], answerable: Sequence[bool]) -> float | None:
    """Of the answerable items, the share abstained on."""
    return mean([ab for ab, a in zip(abstained, answerable, strict=True) if a])


def auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """The chance that a random positive (answerable) item outscores a random negative one
    (ties count half): how well a confidence separates them whatever the threshold. None
    unless both kinds are present."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


# ---- aggregation ---------------------------------------------------------------------
def mean(values: Iterable[float | bool]) -> float | None:
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation), None for no values."""
    return float(np.percentile(values, q)) if len(values) else None


def latency(ms: Sequence[float]) -> dict[str, float | None]:
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95)}
