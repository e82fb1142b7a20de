"""`run_eval`: index a corpus, ask every question through the public API, score, report.

Writes ``report.json`` (stable keys, see docs/evaluation.md), ``results.jsonl`` (one line
per question) and ``report.md`` with plots into the report directory.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .. import Assistant, Config
from ..ingest.readers import slugify
from ..resources import sample_articles
from ..types import Answer, Article, Hit
from . import metrics as m
from .datasets import EvalItem, load_jsonl, load_squad, sample
from .types import (
    AbstentionMetrics,
    AnswerMetrics,
    CitationMetrics,
    DatasetInfo,
    IngestInfo,
    LatencyMetrics,
    Report,
    RetrievalMetrics,
    SystemMetrics,
    TypeMetrics,
)

Format = Literal["jsonl", "squad"]
RETRIEVE_K = 10
SAMPLE_CORPUS = Path("examples/articles")
BASELINE_PIPELINE = "llama-index VectorStoreIndex + Chroma, SentenceSplitter() defaults, top 10 by vector"
# Config.evidence: the reader, the hand-tuned score, the sentence answer model.
EVIDENCES = ("reader", "overlap", "model")


def run_eval(
    dataset: str | Path,
    fmt: Format | None = None,
    corpus: Sequence[str | Path] | None = None,
    data_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    holdout: int = 0,
    config: Config | None = None,
    baseline: bool = True,
    progress: bool = True,
    compare_evidence: bool = False,
) -> Report:
    """Evaluate articleqa (and the llama-index baseline) on ``dataset``; returns the report.

    - ``fmt``: "jsonl" (questions over ``corpus``, default examples/articles) or "squad"
      (the SQuAD pages are the corpus); guessed from the suffix when None.
    - ``data_dir``: the articleqa store, reused across runs (unchanged articles are skipped);
      default ``.articleqa/eval/<dataset name>``. Use a dedicated one: SQuAD pages held out
      by this run are removed from it.
    - ``report_dir``: default ``reports/<dataset name>``.
    - ``limit``/``seed``: a seeded sample of the questions; ``holdout``: SQuAD pages left out
      of the index, whose questions become unanswerable.
    - ``compare_evidence``: ask every question again with the other evidence scorer
      (``Config.evidence``: "overlap", or "reader" when overlap is configured) over the same store; both are reported
      side by side in ``Report.evidence``.
    """
    t_start = time.perf_counter()
    dataset = Path(dataset)
    fmt = fmt or ("squad" if dataset.suffix == ".json" else "jsonl")
    name = slugify(dataset.stem)
    report_dir = Path(report_dir or Path("reports") / name)
    report_dir.mkdir(parents=True, exist_ok=True)
    qa = Assistant(config, data_dir=Path(data_dir or Path(".articleqa") / "eval" / name))

    articles, items, corpus_paths = _load(dataset, fmt, corpus, limit, seed, holdout)
    with _progress(progress) as bar:
        ingest_s, ingest_info = _index(qa, articles, corpus_paths, bar)
        items = _remap_ids(items, articles, qa)
        qa.warm_up()  # load the model and indexes untimed
        ours = [_run_ours(qa, it) for it in _track(bar, items, "articleqa")]
        alt = _other_evidence(qa) if compare_evidence else None
        alt_rows = _run_evidence(alt, items, bar) if alt else []
        base_rows, base_ingest_s = _run_baseline(qa, items, bar) if baseline else (None, 0.0)

    mine = aggregate(items, ours, ingest_s)
    evidence = None
    if alt:  # one index serves both, so both show its ingest time
        evidence = {qa.config.evidence: mine, alt.config.evidence: aggregate(items, alt_rows, ingest_s)}
    report = Report(
        articleqa=mine,
        baseline=None if base_rows is None else aggregate(items, base_rows, base_ingest_s, BASELINE_PIPELINE),
        dataset=DatasetInfo(
            path=str(dataset),
            format=fmt,
            corpus=[str(p) for p in corpus_paths],
            articles=len(qa.articles()),
            limit=limit,
            seed=seed,
            holdout=holdout,
            answerable=sum(it.answerable for it in items),
            unanswerable=sum(not it.answerable for it in items),
        ),  # fmt: skip
        ingest=ingest_info,
        config=_config_summary(qa.config),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        report_dir=str(report_dir),
        duration_s=round(time.perf_counter() - t_start, 1),
        evidence=evidence,
    )
    rows = [_row(it, o, b) for it, o, b in zip(items, ours, base_rows or [None] * len(items), strict=True)]
    if alt:
        for row, a in zip(rows, alt_rows, strict=True):
            row["other_evidence"] = {"evidence": alt.config.evidence, **{k: a[k] for k in OTHER_KEYS}}
    _write(report_dir, report, rows)
    return report


# ---- loading and indexing ------------------------------------------------------------
def _load(
    dataset: Path,
    fmt: Format,
    corpus: Sequence[str | Path] | None,
    limit: int | None,
    seed: int,
    holdout: int,
) -> tuple[list[Article], list[EvalItem], list[Path]]:
    if fmt == "squad":
        articles, items = load_squad(dataset, seed=seed, limit=limit, holdout=holdout)
        return articles, items, [Path(p) for p in corpus or []]
    if fmt != "jsonl":
        raise ValueError(f"unknown dataset format '{fmt}': use 'jsonl' or 'squad'")
    if holdout:
        raise ValueError("holdout applies to SQuAD datasets only")
    paths = [Path(p) for p in corpus] if corpus else [_sample_corpus()]
    return [], sample(load_jsonl(dataset), limit, seed), paths


def _sample_corpus() -> Path:
    # Relative to the working directory, else the copy shipped in the package.
    return SAMPLE_CORPUS if SAMPLE_CORPUS.exists() else sample_articles()


def _index(qa: Assistant, articles: list[Article], paths: list[Path], bar: Any) -> tuple[float, IngestInfo]:
    """Ingest the corpus (unchanged articles are skipped) and drop held-out SQuAD pages."""
    wanted = {a.key for a in articles}
    task = bar.add_task("indexing", total=None) if bar else None

    def tick(done: int, total: int, chunks: int) -> None:
        if bar:
            bar.update(task, completed=done, total=total)

    t0 = time.perf_counter()
    rep = qa.ingest(paths, articles=articles, progress=tick)
    # A page held out now may have been indexed by an earlier run with another split.
    stale = [a.id for a in qa.articles() if (a.key or "").startswith("squad:") and a.key not in wanted]
    for aid in stale:
        qa.remove(aid)
    ingest_s = time.perf_counter() - t0
    if rep.errors:
        raise RuntimeError("ingestion failed: " + "; ".join(rep.errors))
    info = IngestInfo(
        added=len(rep.added), updated=len(rep.updated), unchanged=len(rep.unchanged),
        removed=len(stale), chunks_embedded=rep.chunks,
    )  # fmt: skip
    return ingest_s, info


def _remap_ids(items: list[EvalItem], articles: list[Article], qa: Assistant) -> list[EvalItem]:
    """Follow the store if it gave a SQuAD page another id (an id clash in the data dir)."""
    by_key = {a.key: a.id for a in qa.articles()}
    ids = {a.id: by_key.get(a.key, a.id) for a in articles}
    if all(k == v for k, v in ids.items()):
        return items
    for it in items:
        it.articles = [ids.get(a, a) for a in it.articles]
        it.gold_spans = [(ids.get(a, a), s, e) for a, s, e in it.gold_spans]
    return items


# ---- asking --------------------------------------------------------------------------
OTHER_KEYS = ("answer", "abstained", "confidence")  # results.jsonl's "other_evidence"


def _other_evidence(qa: Assistant) -> Assistant:
    """An assistant over ``qa``'s store (its loaded model and indexes) and chat model, with the
    other evidence."""
    other = "reader" if qa.config.evidence == "overlap" else "overlap"
    cfg = qa.config.model_copy(update={"evidence": other})
    return Assistant(cfg, store=qa.store, chat_model=qa.chat_model)


def _run_evidence(qa: Assistant, items: list[EvalItem], bar: Any) -> list[dict[str, Any]]:
    qa.warm_up()  # its answer model too, untimed
    return [_run_ours(qa, it) for it in _track(bar, items, qa.config.evidence)]


def _run_ours(qa: Assistant, item: EvalItem) -> dict[str, Any]:
    t0 = time.perf_counter()
    ans = qa.ask(item.question)
    ms = (time.perf_counter() - t0) * 1000
    # Answer.hits holds only top_k (5) passages; hit@10 and MRR@10 need ten (not timed).
    hits = qa.retrieve(item.question, top_k=RETRIEVE_K)
    return score(item, ans, hits, ms)


def _run_baseline(qa: Assistant, items: list[EvalItem], bar: Any) -> tuple[list[dict[str, Any]], float]:
    from .baseline import Baseline

    articles = [a for a in (qa.article(s.id) for s in qa.articles()) if a is not None]
    with tempfile.TemporaryDirectory(prefix="articleqa-baseline-", ignore_cleanup_errors=True) as tmp:
        t0 = time.perf_counter()
        base = Baseline(articles, tmp, embedder=qa.store.embedding_model())  # the same loaded model
        build_s = time.perf_counter() - t0
        rows = []
        for it in _track(bar, items, "baseline"):
            t1 = time.perf_counter()
            ans = base.ask(it.question)
            rows.append(score(it, ans, ans.hits, (time.perf_counter() - t1) * 1000))
    return rows, build_s


def score(item: EvalItem, ans: Answer, hits: list[Hit], latency_ms: float) -> dict[str, Any]:
    """One system's answer to one item, with its per-item metrics."""
    pred = "" if ans.abstained else m.strip_markers(ans.text)
    correct = [m.citation_correct(c, item) for c in ans.citations]
    ok = item.answerable
    short = ans.short_answer.text if ans.short_answer and not ans.abstained else None
    return {
        "answer": ans.text,
        "abstained": ans.abstained,
        "confidence": round(ans.confidence, 4),
        "short_answer": short,
        "citations": [{**c.to_dict(), "correct": k} for c, k in zip(ans.citations, correct, strict=True)],
        "retrieved": [h.chunk.id for h in hits[:RETRIEVE_K]],
        "metrics": {
            "em": m.exact_match(pred, item.answers) if ok else None,
            "f1": round(m.f1(pred, item.answers), 4) if ok else None,
            "contains": m.contains(pred, item.answers, item.must_mention) if ok else None,
            "short_exact": m.exact_match(short, item.answers) if ok and short else None,
            "hit_rank": m.first_relevant([h.chunk for h in hits], item, RETRIEVE_K) if ok else None,
            "citations_valid": m.citations_valid(ans.text, ans.citations),
            "citations_correct": correct,
        },
        "latency_ms": round(latency_ms, 1),
    }


def _row(item: EvalItem, ours: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    head = {
        "id": item.id, "type": item.type, "question": item.question, "answers": item.answers,
        "must_mention": item.must_mention, "articles": item.articles, "answerable": item.answerable,
    }  # fmt: skip
    return {**head, **ours, "baseline": base}


# ---- aggregation ---------------------------------------------------------------------
def aggregate(
    items: Sequence[EvalItem],
    rows: Sequence[dict[str, Any]],
    ingest_s: float = 0.0,
    pipeline: str | None = None,
) -> SystemMetrics:
    """One system's metrics: the report sections over all items, and by question type."""
    overall = _sections(items, rows)
    return replace(overall, ingest_s=round(ingest_s, 3), by_type=by_type(items, rows), pipeline=pipeline)


def _sections(items: Sequence[EvalItem], rows: Sequence[dict[str, Any]]) -> SystemMetrics:
    """The five report sections; ingest_s and by_type are left at their defaults."""
    ans = [r["metrics"] for it, r in zip(items, rows, strict=True) if it.answerable]
    answered = [(it, r) for it, r in zip(items, rows, strict=True) if it.answerable and not r["abstained"]]
    abstained = [r["abstained"] for r in rows]
    answerable = [it.answerable for it in items]
    ranks = [x["hit_rank"] for x in ans]
    latency = m.latency([r["latency_ms"] for r in rows])
    return SystemMetrics(
        n=len(items),
        n_answerable=len(ans),
        answer=AnswerMetrics(
            *(_r(m.mean(x[k] for x in ans)) for k in ("em", "f1", "contains")),
            short_shown=_r(m.mean(r.get("short_answer") is not None for it, r in answered)),
            short_exact=_r(
                m.mean(r["metrics"]["short_exact"] for it, r in answered if r.get("short_answer"))
            ),
        ),
        abstention=AbstentionMetrics(
            precision=_r(m.abstain_precision(abstained, answerable)),
            recall=_r(m.abstain_recall(abstained, answerable)),
            false_rate=_r(m.false_abstain_rate(abstained, answerable)),
            auc=_r(m.auc([r["confidence"] for r in rows], answerable)),
        ),
        retrieval=RetrievalMetrics(
            *(_r(m.mean(r is not None and r <= k for r in ranks)) for k in (1, 5, 10)),
            mrr_at_10=_r(m.mean(1 / r if r else 0.0 for r in ranks)),
        ),
        citations=CitationMetrics(
            valid=_r(m.mean(r["metrics"]["citations_valid"] for r in rows)),
            # An abstention's closest passages ("may not answer this directly") are no answer's.
            precision=_r(m.citation_precision(r["metrics"]["citations_correct"] for _, r in answered)),
            recall=_r(m.citation_recall(x["citations_correct"] for x in ans if x["contains"])),
        ),
        latency_ms=LatencyMetrics(**{k: _r(v, 1) for k, v in latency.items()}),
    )


def by_type(items: Sequence[EvalItem], rows: Sequence[dict[str, Any]]) -> dict[str, TypeMetrics]:
    """A flat summary per question type."""
    out: dict[str, TypeMetrics] = {}
    for t in sorted({it.type for it in items}):
        sel = [(it, r) for it, r in zip(items, rows, strict=True) if it.type == t]
        s = _sections([it for it, _ in sel], [r for _, r in sel])
        out[t] = TypeMetrics(
            n=len(sel),
            em=s.answer.em,
            f1=s.answer.f1,
            contains=s.answer.contains,
            abstained=_r(m.mean(r["abstained"] for _, r in sel)),
            hit_at_5=s.retrieval.hit_at_5,
            mrr_at_10=s.retrieval.mrr_at_10,
            citation_precision=s.citations.precision,
            false_abstention=s.abstention.false_rate,
            abstention_recall=s.abstention.recall,
            auc=s.abstention.auc,
        )
    return out


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def _config_summary(cfg: Config) -> dict[str, Any]:
    keys = (
        "answerer", "embed_backend", "embed_model", "chunk_size", "chunk_overlap", "top_k",
        "candidate_k", "rrf_k", "max_answer_sentences", "abstain_threshold", "evidence",
        "model_abstain_threshold", "data_dir",
    )  # fmt: skip
    return {k: str(v) if isinstance(v, Path) else v for k in keys for v in [getattr(cfg, k, None)]}


# ---- output --------------------------------------------------------------------------
def _write(report_dir: Path, report: Report, rows: list[dict[str, Any]]) -> None:
    from .report import write_markdown

    with (report_dir / "results.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (report_dir / "report.json").write_text(report.to_json() + "\n")
    write_markdown(report, rows, report_dir)


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    cols = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, transient=False) as bar:
        yield bar


def _track(bar: Any, items: list[EvalItem], label: str) -> Iterator[EvalItem]:
    if bar is None:
        yield from items
        return
    task = bar.add_task(label, total=len(items))
    for it in items:
        yield it
        bar.advance(task)
