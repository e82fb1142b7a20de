"""The evaluation report as types: what `run_eval` returns and ``report.json`` holds.

``to_dict()`` gives report.json's keys and nesting, which are stable (docs/evaluation.md).
Fields whose JSON key is not an identifier (``hit@5``) name it in their metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

Score = float | None  # None where the metric's denominator is empty
SECTIONS = ("answer", "abstention", "retrieval", "citations", "latency_ms")  # of SystemMetrics


def _key(name: str) -> dict[str, str]:
    return {"key": name}


def _flat(obj: Any) -> dict[str, Any]:
    return {f.metadata.get("key", f.name): getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class AnswerMetrics:
    em: Score
    f1: Score
    contains: Score
    # Of the answered answerable items, the share led by a short answer (the reader's span),
    # and how often that short answer is exactly right (normalised EM).
    short_shown: Score = None
    short_exact: Score = None


@dataclass(frozen=True)
class AbstentionMetrics:
    precision: Score
    recall: Score
    false_rate: Score
    auc: Score = None  # answerable vs unanswerable by the answer's confidence


@dataclass(frozen=True)
class RetrievalMetrics:
    hit_at_1: Score = field(metadata=_key("hit@1"))
    hit_at_5: Score = field(metadata=_key("hit@5"))
    hit_at_10: Score = field(metadata=_key("hit@10"))
    mrr_at_10: Score = field(metadata=_key("mrr@10"))


@dataclass(frozen=True)
class CitationMetrics:
    valid: Score
    precision: Score
    recall: Score


@dataclass(frozen=True)
class LatencyMetrics:
    p50: Score
    p95: Score


@dataclass(frozen=True)
class TypeMetrics:
    """The flat summary of one question type."""

    n: int
    em: Score
    f1: Score
    contains: Score
    abstained: Score
    hit_at_5: Score = field(metadata=_key("hit@5"))
    mrr_at_10: Score = field(metadata=_key("mrr@10"))
    citation_precision: Score
    # The abstention section per type (question styles mix answerable and unanswerable items).
    false_abstention: Score = None
    abstention_recall: Score = None
    auc: Score = None

    def to_dict(self) -> dict[str, Any]:
        return _flat(self)


@dataclass(frozen=True)
class SystemMetrics:
    """One system's (articleqa's or the baseline's) metrics over the evaluated questions."""

    n: int
    n_answerable: int
    answer: AnswerMetrics
    abstention: AbstentionMetrics
    retrieval: RetrievalMetrics
    citations: CitationMetrics
    latency_ms: LatencyMetrics
    ingest_s: float = 0.0
    by_type: dict[str, TypeMetrics] = field(default_factory=dict)
    pipeline: str | None = None  # the baseline's description; None (and not written) for articleqa

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in SECTIONS:
            out[name] = _flat(out[name])
        out["by_type"] = {t: v.to_dict() for t, v in self.by_type.items()}
        if self.pipeline is None:
            del out["pipeline"]
        return out


@dataclass(frozen=True)
class DatasetInfo:
    path: str
    format: str
    corpus: list[str]
    articles: int  # indexed in the store when the run ended
    limit: int | None
    seed: int
    holdout: int
    answerable: int
    unanswerable: int


@dataclass(frozen=True)
class IngestInfo:
    added: int
    updated: int
    unchanged: int
    removed: int  # held-out SQuAD pages dropped from the store
    chunks_embedded: int


@dataclass(frozen=True)
class Report:
    """One evaluation run; ``to_dict()`` is report.json."""

    articleqa: SystemMetrics
    baseline: SystemMetrics | None
    dataset: DatasetInfo
    ingest: IngestInfo
    config: dict[str, Any]  # the settings that shape the results, as plain JSON values
    created: str  # ISO 8601, UTC
    report_dir: str
    duration_s: float
    # With ``compare_evidence``: articleqa's metrics under each evidence scorer ("overlap",
    # "model"), the configured one first; None when the run did not compare them.
    evidence: dict[str, SystemMetrics] | None = None

    @property
    def n(self) -> int:
        return self.articleqa.n

    @property
    def by_type(self) -> dict[str, TypeMetrics]:
        return self.articleqa.by_type

    def to_dict(self) -> dict[str, Any]:
        # report.json puts articleqa's metrics at the top level, with baseline before by_type.
        ours = self.articleqa.to_dict()
        by_type = ours.pop("by_type")
        return {
            **ours,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "by_type": by_type,
            "evidence": {k: v.to_dict() for k, v in self.evidence.items()} if self.evidence else None,
            "dataset": _flat(self.dataset),
            "ingest": _flat(self.ingest),
            "config": self.config,
            "created": self.created,
            "report_dir": self.report_dir,
            "duration_s": self.duration_s,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


class Metric(NamedTuple):
    """One overall metric: where it is in `SystemMetrics`, and how to show it."""

    section: str  # one of SECTIONS
    key: str  # the field in that section
    label: str
    higher_is_better: bool
    short: str | None = None  # its column in the terminal summary; None: not shown there

    def of(self, system: SystemMetrics | None) -> Score:
        return None if system is None else getattr(getattr(system, self.section), self.key)


# Every overall metric, in table order: report.md, its plots, the terminal summary and the UI.
METRICS = [
    Metric("answer", "contains", "answer contains gold", True, "contains"),
    Metric("answer", "f1", "answer F1", True, "f1"),
    Metric("answer", "em", "answer exact match", True),
    Metric("abstention", "precision", "abstention precision", True, "abstain P"),
    Metric("abstention", "recall", "abstention recall", True, "abstain R"),
    Metric("abstention", "false_rate", "false abstention rate", False),
    Metric("abstention", "auc", "AUC answerable vs not", True),
    Metric("retrieval", "hit_at_1", "hit@1", True),
    Metric("retrieval", "hit_at_5", "hit@5", True, "hit@5"),
    Metric("retrieval", "hit_at_10", "hit@10", True),
    Metric("retrieval", "mrr_at_10", "MRR@10", True, "mrr@10"),
    Metric("citations", "valid", "citations valid", True),
    Metric("citations", "precision", "citation precision", True, "cit P"),
    Metric("citations", "recall", "citation recall", True),
    Metric("latency_ms", "p50", "latency p50 (ms)", False, "p50 ms"),
    Metric("latency_ms", "p95", "latency p95 (ms)", False),
]
