"""The evaluation tab: run `articleqa.evaluation.run_eval` on a bundled set and show its report.

The report's shape is read defensively (``.get`` everywhere): the evaluation and the UI
evolve separately, and a missing metric should show as "—", not break the tab.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import resources
from ..assistant import Assistant
from .render import esc, notice

DATASETS = {  # shipped in the package (the repository's eval/datasets/ links to them)
    "Sample articles — 65 questions over the 2 sample articles": resources.dataset("sample_articles.jsonl"),
    "SQuAD v1.1 dev subset — 12 Wikipedia articles": resources.dataset("squad-v1.1-dev-subset.json"),
}
# (section, key, label, higher is better)
METRICS = [
    ("answer", "contains", "Answer contains the gold answer", True),
    ("answer", "f1", "Answer F1", True),
    ("answer", "em", "Answer exact match", True),
    ("abstention", "precision", "Abstention precision", True),
    ("abstention", "recall", "Abstention recall", True),
    ("abstention", "false_rate", "False abstention rate", False),
    ("retrieval", "hit@1", "Retrieval hit@1", True),
    ("retrieval", "hit@5", "Retrieval hit@5", True),
    ("retrieval", "mrr@10", "Retrieval MRR@10", True),
    ("citations", "valid", "Citations valid", True),
    ("citations", "precision", "Citation precision", True),
    ("citations", "recall", "Citation recall", True),
    ("latency_ms", "p50", "Latency p50 (ms)", False),
    ("latency_ms", "p95", "Latency p95 (ms)", False),
]
WORST = 10


def load_run_eval():
    """`run_eval`, or None when this installation doesn't have it (imported lazily: it is heavy)."""
    try:
        from ..evaluation import run_eval
    except ImportError:
        return None
    return run_eval


def run(assistant: Assistant, label: str, limit: int | None, baseline: bool) -> tuple[dict, Path]:
    """Run one evaluation in its own store (never the user's articles); returns (report, report dir)."""
    run_eval = load_run_eval()
    if run_eval is None:
        raise RuntimeError("the evaluation module (articleqa.evaluation.run_eval) is not available")
    dataset = DATASETS[label]
    base = Path(assistant.config.data_dir)
    out = base / "reports" / f"{dataset.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    store = base / "eval-store" / dataset.stem
    cfg = assistant.config.model_copy(update={"data_dir": store})
    fmt = "squad" if dataset.suffix == ".json" else "jsonl"
    report = run_eval(
        dataset, fmt=fmt, data_dir=store, report_dir=out, limit=limit, baseline=baseline, config=cfg,
        progress=False,
    )  # fmt: skip
    return report, out


def _fmt(v: Any, latency: bool = False) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return f"{v:,.0f}" if latency else f"{v:.3f}"
    return esc(v)


def _get(section: dict | None, sec: str, key: str) -> Any:
    val = (section or {}).get(sec)
    return val.get(key) if isinstance(val, dict) else None


def metrics_html(report: dict) -> str:
    base = report.get("baseline") if isinstance(report.get("baseline"), dict) else None
    head = (
        "<tr><th>Metric</th><th>articleqa</th>" + ("<th>llama-index baseline</th>" if base else "") + "</tr>"
    )
    rows = []
    for sec, key, label, _ in METRICS:
        lat = sec == "latency_ms"
        cells = f'<td class="num">{_fmt(_get(report, sec, key), lat)}</td>'
        if base:
            cells += f'<td class="num">{_fmt(_get(base, sec, key), lat)}</td>'
        rows.append(f"<tr><td>{esc(label)}</td>{cells}</tr>")
    ds = report.get("dataset") or {}
    summary = (
        f"{_fmt(report.get('n'), True)} questions ({_fmt(ds.get('answerable'), True)} answerable, "
        f"{_fmt(ds.get('unanswerable'), True)} unanswerable) over {_fmt(ds.get('articles'), True)} articles; "
        f"run took {_fmt(report.get('duration_s'), True)} s."
    )
    return f'<p class="muted">{summary}</p><table class="aq-table">{head}{"".join(rows)}</table>'


def read_rows(report_dir: Path) -> list[dict]:
    path = report_dir / "results.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def worst(rows: list[dict], n: int = WORST) -> list[tuple[str, dict]]:
    """The questions to look at first: wrong answers (lowest F1), then abstention mistakes."""

    def m(r: dict, k: str) -> Any:
        return (r.get("metrics") or {}).get(k)

    wrong = [r for r in rows if r.get("answerable") and not r.get("abstained") and not m(r, "contains")]
    wrong.sort(key=lambda r: (m(r, "f1") or 0.0, -(r.get("confidence") or 0.0)))
    answered = [r for r in rows if r.get("answerable") is False and not r.get("abstained")]
    refused = [r for r in rows if r.get("answerable") and r.get("abstained")]
    out = [("wrong answer", r) for r in wrong]
    out += [("answered, but the articles don't say", r) for r in answered]
    out += [("abstained, but answerable", r) for r in refused]
    return out[:n]


def worst_html(rows: list[dict]) -> str:
    picked = worst(rows)
    if not picked:
        return '<div class="empty">No mistakes in this run.</div>'
    body = []
    for kind, r in picked:
        gold = "; ".join(map(str, r.get("answers") or [])) or "(not answerable)"
        got = "(abstained)" if r.get("abstained") else r.get("answer", "")
        f1 = (r.get("metrics") or {}).get("f1")
        body.append(
            f"<tr><td>{esc(kind)}<div class='muted small mono'>{esc(r.get('id', ''))} · {esc(r.get('type', ''))}</div></td>"
            f"<td>{esc(r.get('question', ''))}</td><td>{esc(gold)}</td><td>{esc(got)}</td>"
            f'<td class="num">{_fmt(f1)}</td><td class="num">{_fmt(r.get("confidence"))}</td></tr>'
        )
    head = "<tr><th>Problem</th><th>Question</th><th>Expected</th><th>Answer</th><th>F1</th><th>Evidence</th></tr>"
    return f'<table class="aq-table">{head}{"".join(body)}</table>'


def plot_paths(report_dir: Path) -> list[str]:
    return [str(p) for p in sorted(report_dir.glob("*.png"))]


def run_tab(assistant: Assistant, label: str, n: float | None, baseline: bool) -> Iterator[tuple]:
    """The tab's outputs as the run goes: (status, metrics, plots, worst, report files)."""
    if load_run_eval() is None:
        msg = "Evaluation isn't available in this installation (articleqa.evaluation.run_eval is missing)."
        yield notice("error", [msg]), "", [], "", None
        return
    limit = int(n) if n else None
    yield notice("info", [f"Running on {limit or 'all'} questions… this takes a while."]), "", [], "", None
    try:
        report, out = run(assistant, label, limit, baseline)
    except Exception as e:  # shown in the tab; the server carries on
        yield notice("error", ["The evaluation failed.", str(e) or type(e).__name__]), "", [], "", None
        return
    tmp = Path(tempfile.mkdtemp(prefix="articleqa-report-"))  # Gradio serves files from the temp dir
    for p in [*out.glob("*.png"), *(out / f for f in ("report.md", "report.json", "results.jsonl"))]:
        if p.is_file():
            shutil.copy(p, tmp / p.name)
    plots = [(str(tmp / Path(p).name), Path(p).stem.replace("_", " ")) for p in plot_paths(out)]
    worst_ = "<h3>Worst-scored questions</h3>" + worst_html(read_rows(out))
    done = notice("ok", [f"Done. Full report: {out / 'report.md'}"])
    yield done, metrics_html(report), plots, worst_, sorted(str(p) for p in tmp.iterdir())
