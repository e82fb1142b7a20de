"""The evaluation tab: run `articleqa.evaluation.run_eval` on a bundled set and show its report."""

from __future__ import annotations

import atexit
import base64
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import resources
from ..assistant import Assistant
from ..evaluation import run_eval
from ..evaluation.report import WORST, mistakes
from ..evaluation.types import METRICS, Report
from .render import esc, notice

DATASETS = {  # shipped in the package (the repository's eval/datasets/ links to them)
    "Sample articles — 65 questions over the 2 sample articles": resources.dataset("sample_articles.jsonl"),
    "SQuAD v1.1 dev subset — 12 Wikipedia articles": resources.dataset("squad-v1.1-dev-subset.json"),
}


def run(assistant: Assistant, label: str, limit: int | None, baseline: bool) -> tuple[Report, Path]:
    """Run one evaluation in its own store (never the user's articles); returns (report, report dir)."""
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


def metrics_html(report: Report) -> str:
    base = report.baseline
    head = (
        "<tr><th>Metric</th><th>articleqa</th>" + ("<th>llama-index baseline</th>" if base else "") + "</tr>"
    )
    rows = []
    for mt in METRICS:
        lat = mt.section == "latency_ms"
        cells = "".join(f'<td class="num">{_fmt(mt.of(s), lat)}</td>' for s in (report.articleqa, base) if s)
        rows.append(f"<tr><td>{esc(mt.label[:1].upper() + mt.label[1:])}</td>{cells}</tr>")
    ds = report.dataset
    summary = (
        f"{_fmt(report.n, True)} questions ({_fmt(ds.answerable, True)} answerable, "
        f"{_fmt(ds.unanswerable, True)} unanswerable) over {_fmt(ds.articles, True)} articles; "
        f"run took {_fmt(report.duration_s, True)} s."
    )
    return f'<p class="muted">{summary}</p><table class="aq-table">{head}{"".join(rows)}</table>'


def read_rows(report_dir: Path) -> list[dict]:
    path = report_dir / "results.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def worst(rows: list[dict], n: int = WORST) -> list[tuple[str, dict]]:
    """The questions to look at first: wrong answers, then answered unanswerables, then refusals."""
    mk = mistakes(rows)
    picked = [("wrong answer", r) for r in mk.wrong]
    picked += [("answered, but the articles don't say", r) for r in mk.answered]
    picked += [("abstained, but answerable", r) for r in mk.refused]
    return picked[:n]


def worst_html(rows: list[dict]) -> str:
    picked = worst(rows)
    if not picked:
        return '<div class="empty">No mistakes in this run.</div>'
    body = []
    for kind, r in picked:
        gold = "; ".join(map(str, r["answers"])) or "(not answerable)"
        got = "(abstained)" if r["abstained"] else r["answer"]
        f1 = r["metrics"]["f1"]
        body.append(
            f"<tr><td>{esc(kind)}<div class='muted small mono'>{esc(r['id'])} · {esc(r['type'])}</div></td>"
            f"<td>{esc(r['question'])}</td><td>{esc(gold)}</td><td>{esc(got)}</td>"
            f'<td class="num">{_fmt(f1)}</td><td class="num">{_fmt(r["confidence"])}</td></tr>'
        )
    head = "<tr><th>Problem</th><th>Question</th><th>Expected</th><th>Answer</th><th>F1</th><th>Evidence</th></tr>"
    return f'<table class="aq-table">{head}{"".join(body)}</table>'


def plot_paths(report_dir: Path) -> list[str]:
    return [str(p) for p in sorted(report_dir.glob("*.png"))]


def plots_html(paths: list[str]) -> str:
    """The plots at their own size (narrower only when the page is), one under another.

    Inlined as data: URLs (each PNG is a few dozen KB): nothing more lands in Gradio's file
    cache, and a thumbnail grid doesn't shrink their axis labels out of legibility.
    """
    figs = []
    for p in map(Path, paths):
        name = esc(p.stem.replace("_", " "))
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        figs.append(
            f'<figure class="aq-plot"><img src="data:image/png;base64,{data}" alt="{name}">'
            f"<figcaption>{name}</figcaption></figure>"
        )
    return f'<div class="aq-plots">{"".join(figs)}</div>' if figs else ""


def run_tab(assistant: Assistant, label: str, n: float | None, baseline: bool) -> Iterator[tuple]:
    """The tab's outputs as the run goes: (status, metrics, plots, worst, report files)."""
    limit = int(n) if n else None
    yield notice("info", [f"Running on {limit or 'all'} questions… this takes a while."]), "", "", "", None
    try:
        report, out = run(assistant, label, limit, baseline)
    except Exception as e:  # shown in the tab; the server carries on
        yield notice("error", ["The evaluation failed.", str(e) or type(e).__name__]), "", "", "", None
        return
    plots = plots_html(plot_paths(out))
    worst_ = "<h3>Worst-scored questions</h3>" + worst_html(read_rows(out))
    done = notice("ok", [f"Done. Full report: {out / 'report.md'}"])
    yield done, metrics_html(report), plots, worst_, report_copies(out)


_COPIES: list[Path] = []  # folders of report copies made by this process


def report_copies(out: Path) -> list[str]:
    """Copies of a run's report files for download, in a folder of the system's temp dir (where
    Gradio may serve files from; it caches a copy of its own). Removed when the process ends:
    `remove_report_copies`, at exit (`service.Server.block` turns SIGTERM into a normal end)."""
    tmp = Path(tempfile.mkdtemp(prefix="articleqa-report-"))
    _COPIES.append(tmp)
    for p in [*out.glob("*.png"), *(out / f for f in ("report.md", "report.json", "results.jsonl"))]:
        if p.is_file():
            shutil.copy(p, tmp / p.name)
    return sorted(str(p) for p in tmp.iterdir())


@atexit.register
def remove_report_copies() -> None:
    while _COPIES:
        shutil.rmtree(_COPIES.pop(), ignore_errors=True)
