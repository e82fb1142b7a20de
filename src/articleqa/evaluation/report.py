"""report.md and its PNG plots, from the report dict and the per-question rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (section, key, label) of every overall metric, in table order.
OVERALL = [
    ("answer", "contains", "answer contains gold"),
    ("answer", "f1", "answer F1"),
    ("answer", "em", "answer exact match"),
    ("abstention", "precision", "abstention precision"),
    ("abstention", "recall", "abstention recall"),
    ("abstention", "false_rate", "false abstention rate"),
    ("retrieval", "hit@1", "hit@1"),
    ("retrieval", "hit@5", "hit@5"),
    ("retrieval", "hit@10", "hit@10"),
    ("retrieval", "mrr@10", "MRR@10"),
    ("citations", "valid", "citations valid"),
    ("citations", "precision", "citation precision"),
    ("citations", "recall", "citation recall"),
    ("latency_ms", "p50", "latency p50 (ms)"),
    ("latency_ms", "p95", "latency p95 (ms)"),
]
BY_TYPE_COLS = ["n", "contains", "f1", "em", "abstained", "hit@5", "mrr@10", "citation_precision"]
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


def metric(section: dict[str, Any] | None, sec: str, key: str) -> float | None:
    return (section or {}).get(sec, {}).get(key)


def overall_table(report: dict[str, Any]) -> str:
    base = report.get("baseline")
    rows = [[label, metric(report, s, k), metric(base, s, k)] for s, k, label in OVERALL]
    rows.append(["indexing time (s)", report.get("ingest_s"), (base or {}).get("ingest_s")])
    # Times read better to 0.1; scores need 3 places.
    rows = [[r[0], *(fmt(v, 1 if r[0].endswith(")") else 3) for v in r[1:])] for r in rows]
    return table(["metric", "articleqa", "baseline"], rows)


def by_type_table(report: dict[str, Any]) -> str:
    base = (report.get("baseline") or {}).get("by_type", {})
    rows = [
        [t, *(v.get(c) for c in BY_TYPE_COLS), base.get(t, {}).get("contains"), base.get(t, {}).get("hit@5")]
        for t, v in report.get("by_type", {}).items()
    ]
    return table(["type", *BY_TYPE_COLS, "baseline contains", "baseline hit@5"], rows)


def wrong_answers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answered answerable questions without the gold answer, lowest F1 and most confident first."""
    bad = [r for r in rows if r["answerable"] and not r["abstained"] and not r["metrics"]["contains"]]
    return sorted(bad, key=lambda r: (r["metrics"]["f1"] or 0.0, -r["confidence"]))[:WORST]


def abstention_errors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unanswerable questions answered (most confident first), then answerable ones abstained on."""
    answered = sorted(
        (r for r in rows if not r["answerable"] and not r["abstained"]), key=lambda r: -r["confidence"]
    )
    refused = sorted((r for r in rows if r["answerable"] and r["abstained"]), key=lambda r: r["confidence"])
    half = WORST // 2
    picked = answered[: max(half, WORST - len(refused))]
    return picked + refused[: WORST - len(picked)]


def worst_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            cell(r["id"], 28), cell(r["type"], 20), cell(r["question"], 90), cell("; ".join(r["answers"]) or "(none)", 50),
            "abstained" if r["abstained"] else cell(r["answer"], 140), r["confidence"],
        ]
        for r in rows
    ]  # fmt: skip
    return table(["id", "type", "question", "gold", "answer", "confidence"], body) if body else "_None._"


def plots(report: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """by_type.png, latency.png and vs_baseline.png; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import numpy as np

    written: list[Path] = []

    def bars(path: Path, groups: list[str], series: dict[str, list[float | None]], title: str) -> None:
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
        written.append(path)

    types = report.get("by_type", {})
    if types:
        cols = ["contains", "f1", "abstained", "hit@5"]
        bars(
            out / "by_type.png",
            list(types),
            {c: [types[t].get(c) for t in types] for c in cols},
            "by question type",
        )

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ours = [r["latency_ms"] for r in rows]
    base = [r["baseline"]["latency_ms"] for r in rows if r.get("baseline")]
    hi = max(ours + base, default=1.0)
    bins = np.linspace(0, hi, 30)
    ax.hist(ours, bins=bins, alpha=0.7, label="articleqa")
    if base:
        ax.hist(base, bins=bins, alpha=0.7, label="baseline")
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    written.append(out / "latency.png")

    if report.get("baseline"):
        keys = [(s, k, label) for s, k, label in OVERALL if s != "latency_ms"]
        series = {
            "articleqa": [metric(report, s, k) for s, k, _ in keys],
            "baseline": [metric(report["baseline"], s, k) for s, k, _ in keys],
        }
        bars(
            out / "vs_baseline.png",
            [label for *_, label in keys],
            series,
            "articleqa vs llama-index baseline",
        )
    return written


def write_markdown(report: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> Path:
    """Write report.md (and its plots) into ``out``; returns its path."""
    images = plots(report, rows, out)
    ds = report.get("dataset", {})
    parts = [
        f"# Evaluation: {Path(str(ds.get('path', ''))).name}",
        f"{report['n']} questions ({ds.get('answerable')} answerable, {ds.get('unanswerable')} unanswerable), "
        f"{ds.get('articles')} articles indexed, seed {ds.get('seed')}, holdout {ds.get('holdout')}; "
        f"created {report.get('created')}, run took {report.get('duration_s')} s. "
        "Answer metrics average over answerable questions; definitions in docs/evaluation.md.",
        "## Overall: articleqa vs baseline",
        overall_table(report),
        "## By question type",
        by_type_table(report),
        "## Plots",
        "\n\n".join(f"![{p.stem}]({p.name})" for p in images),
        f"## Worst: wrong answers (up to {WORST})",
        worst_table(wrong_answers(rows)),
        f"## Worst: abstention errors (up to {WORST})",
        "Unanswerable questions that were answered, then answerable ones that were abstained on.",
        worst_table(abstention_errors(rows)),
        "## Configuration",
        table(["setting", "value"], [[k, fmt(v)] for k, v in report.get("config", {}).items()]),
    ]
    path = out / "report.md"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal: the headline metrics, ours vs baseline."""
    base = report.get("baseline")
    head = ["contains", "f1", "abstain P", "abstain R", "hit@5", "mrr@10", "cit P", "p50 ms"]
    keys = [
        ("answer", "contains"), ("answer", "f1"), ("abstention", "precision"), ("abstention", "recall"),
        ("retrieval", "hit@5"), ("retrieval", "mrr@10"), ("citations", "precision"), ("latency_ms", "p50"),
    ]  # fmt: skip
    lines = [f"{'':10}" + "".join(f"{h:>11}" for h in head)]
    for name, sec in (("articleqa", report), ("baseline", base)):
        if sec:
            cells = [fmt(metric(sec, s, k), 1 if s == "latency_ms" else 3) for s, k in keys]
            lines.append(f"{name:10}" + "".join(f"{c:>11}" for c in cells))
    return "\n".join(lines)
