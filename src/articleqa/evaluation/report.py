"""report.md and its PNG plots, from the `Report` and the per-question rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from .types import METRICS, Report, SystemMetrics

BY_TYPE_COLS = [
    "n", "contains", "f1", "em", "abstained", "false_abstention", "abstention_recall", "auc", "hit@5", "mrr@10",
    "citation_precision",
]  # fmt: skip
# The side-by-side table of the evidence scorers (``Report.evidence``): TypeMetrics keys, then
# the p50 latency, which only the "all" rows have.
EVIDENCE_COLS = ["n", "contains", "false_abstention", "abstention_recall", "auc", "citation_precision"]
EVIDENCE_SHORT = ["n", "contains", "false abst", "abst R", "auc", "cit P", "p50 ms"]  # the terminal's
WORST = 10


def fmt(v: Any, places: int = 3) -> str:
    """A table cell: None as an em dash, floats to ``places`` decimals."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{places}f}"
    return str(v)


def cell(text: Any, width: int = 110) -> str:
    s = " ".join(str(text).split()).replace("|", "\\|")
    return s if len(s) <= width else s[: width - 1] + "…"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _places(section: str) -> int:
    return 1 if section == "latency_ms" else 3  # times read better to 0.1; scores need 3 places


def overall_table(report: Report) -> str:
    systems = (report.articleqa, report.baseline)
    rows = [[mt.label, *(fmt(mt.of(s), _places(mt.section)) for s in systems)] for mt in METRICS]
    rows.append(["indexing time (s)", *(fmt(s.ingest_s if s else None, 1) for s in systems)])
    return table(["metric", "articleqa", "baseline"], rows)


def by_type_table(report: Report) -> str:
    base = report.baseline.by_type if report.baseline else {}
    rows = []
    for t, v in report.by_type.items():
        b = base.get(t)
        theirs = (b.contains, b.hit_at_5) if b else (None, None)
        rows.append([t, *(v.to_dict()[c] for c in BY_TYPE_COLS), *theirs])
    return table(["type", *BY_TYPE_COLS, "baseline contains", "baseline hit@5"], rows)


def _overall_cells(s: SystemMetrics) -> list[Any]:
    """`EVIDENCE_COLS` over all of one system's questions."""
    return [s.n, s.answer.contains, s.abstention.false_rate, s.abstention.recall, s.abstention.auc,
            s.citations.precision]  # fmt: skip


def evidence_rows(report: Report) -> list[list[str]]:
    """The evidence table's rows, as cells: "all", then each question type, with one row per
    evidence scorer (the configured one first); empty when the run did not compare them."""
    ev = report.evidence or {}
    rows = [["all", name, *map(fmt, _overall_cells(s)), fmt(s.latency_ms.p50, 1)] for name, s in ev.items()]
    types = dict.fromkeys(t for s in ev.values() for t in s.by_type)
    for t in types:
        for name, s in ev.items():
            v = s.by_type[t].to_dict() if t in s.by_type else {}
            rows.append([t, name, *(fmt(v.get(c)) for c in EVIDENCE_COLS), fmt(None)])
    return rows


def evidence_table(report: Report) -> str:
    return table(["type", "evidence", *EVIDENCE_COLS, "latency p50 (ms)"], evidence_rows(report))


def evidence_summary(report: Report) -> str:
    """`evidence_table` for the terminal, in aligned columns; "" when not compared."""
    rows = evidence_rows(report)
    if not rows:
        return ""
    header = ["type", "evidence", *EVIDENCE_SHORT]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]  # fmt: skip
    return "\n".join(["evidence scorers side by side", *(line.rstrip() for line in lines)])


class Mistakes(NamedTuple):
    """The questions a system got wrong, by kind, each list worst first."""

    wrong: list[dict[str, Any]]  # answerable, answered without the gold: lowest F1, most confident first
    answered: list[dict[str, Any]]  # unanswerable but answered: most confident first
    refused: list[dict[str, Any]]  # answerable but abstained on: least confident first


def mistakes(rows: list[dict[str, Any]]) -> Mistakes:
    """Sort results.jsonl rows into `Mistakes`: what report.md and the UI show first."""
    wrong = [r for r in rows if r["answerable"] and not r["abstained"] and not r["metrics"]["contains"]]
    answered = [r for r in rows if not r["answerable"] and not r["abstained"]]
    refused = [r for r in rows if r["answerable"] and r["abstained"]]
    return Mistakes(
        sorted(wrong, key=lambda r: (r["metrics"]["f1"] or 0.0, -r["confidence"])),
        sorted(answered, key=lambda r: -r["confidence"]),
        sorted(refused, key=lambda r: r["confidence"]),
    )


def abstention_errors(mk: Mistakes, n: int = WORST) -> list[dict[str, Any]]:
    """Up to ``n``: answered unanswerables, then refused answerables; each kind gets half if it can."""
    picked = mk.answered[: max(n // 2, n - len(mk.refused))]
    return picked + mk.refused[: n - len(picked)]


def worst_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            cell(r["id"], 28), cell(r["type"], 20), cell(r["question"], 90), cell("; ".join(r["answers"]) or "(none)", 50),
            "abstained" if r["abstained"] else cell(r["answer"], 140), r["confidence"],
        ]
        for r in rows
    ]  # fmt: skip
    return table(["id", "type", "question", "gold", "answer", "confidence"], body) if body else "_None._"


def plots(report: Report, rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """by_type.png, latency.png and vs_baseline.png; returns the files written."""
    written = []
    if report.by_type:
        written.append(_by_type_plot(report, out / "by_type.png"))
    written.append(_latency_plot(rows, out / "latency.png"))
    if report.baseline:
        written.append(_vs_baseline_plot(report, out / "vs_baseline.png"))
    return written


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _bars(path: Path, groups: list[str], series: dict[str, list[float | None]], title: str) -> Path:
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) * len(series) / 2 + 3), 4))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, [v or 0.0 for v in vals], width, label=name)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _by_type_plot(report: Report, path: Path) -> Path:
    types = {t: v.to_dict() for t, v in report.by_type.items()}
    cols = ["contains", "f1", "abstained", "hit@5"]
    return _bars(path, list(types), {c: [types[t][c] for t in types] for c in cols}, "by question type")


def _latency_plot(rows: list[dict[str, Any]], path: Path) -> Path:
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ours = [r["latency_ms"] for r in rows]
    base = [r["baseline"]["latency_ms"] for r in rows if r["baseline"]]
    bins = np.linspace(0, max(ours + base, default=1.0), 30)
    ax.hist(ours, bins=bins, alpha=0.7, label="articleqa")
    if base:
        ax.hist(base, bins=bins, alpha=0.7, label="baseline")
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _vs_baseline_plot(report: Report, path: Path) -> Path:
    scores = [mt for mt in METRICS if mt.section != "latency_ms"]  # 0..1, unlike times
    systems = {"articleqa": report.articleqa, "baseline": report.baseline}
    series = {name: [mt.of(s) for mt in scores] for name, s in systems.items()}
    return _bars(path, [mt.label for mt in scores], series, "articleqa vs llama-index baseline")


def write_markdown(report: Report, rows: list[dict[str, Any]], out: Path) -> Path:
    """Write report.md (and its plots) into ``out``; returns its path."""
    images = plots(report, rows, out)
    ds = report.dataset
    mk = mistakes(rows)
    parts = [
        f"# Evaluation: {Path(ds.path).name}",
        f"{report.n} questions ({ds.answerable} answerable, {ds.unanswerable} unanswerable), "
        f"{ds.articles} articles indexed, seed {ds.seed}, holdout {ds.holdout}; "
        f"created {report.created}, run took {report.duration_s} s. "
        "Answer metrics average over answerable questions; definitions in docs/evaluation.md.",
        "## Overall: articleqa vs baseline",
        overall_table(report),
        "## By question type",
        by_type_table(report),
        *_evidence_section(report),
        "## Plots",
        "\n\n".join(f"![{p.stem}]({p.name})" for p in images),
        f"## Worst: wrong answers (up to {WORST})",
        worst_table(mk.wrong[:WORST]),
        f"## Worst: abstention errors (up to {WORST})",
        "Unanswerable questions that were answered, then answerable ones that were abstained on.",
        worst_table(abstention_errors(mk)),
        "## Configuration",
        table(["setting", "value"], [[k, fmt(v)] for k, v in report.config.items()]),
    ]
    path = out / "report.md"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def _evidence_section(report: Report) -> list[str]:
    if not report.evidence:
        return []
    configured, *others = report.evidence
    note = (
        f"The same questions over the same index, answered with each evidence scorer (`Config.evidence`); "
        f"the rest of this report is `{configured}`, the configured one"
        + (f", and {', '.join(f'`{o}`' for o in others)} is the other." if others else ".")
        + ' Latency is shown for the "all" rows only.'
    )
    return ["## Evidence scorers side by side", note, evidence_table(report)]


def summary(report: Report) -> str:
    """A few lines for the terminal: the headline metrics, ours vs baseline (and the evidence
    scorers side by side, when compared)."""
    shown = [mt for mt in METRICS if mt.short]
    lines = [f"{'':10}" + "".join(f"{mt.short:>11}" for mt in shown)]
    for name, system in (("articleqa", report.articleqa), ("baseline", report.baseline)):
        if system:
            cells = [fmt(mt.of(system), _places(mt.section)) for mt in shown]
            lines.append(f"{name:10}" + "".join(f"{c:>11}" for c in cells))
    if report.evidence:
        lines += ["", evidence_summary(report)]
    return "\n".join(lines)
