"""The per-style table: every held-out question set, asked with the reader and with the
hand-tuned score (``--compare-evidence``) in one run each, grouped into the question styles of
issue 25, with the middle band measured on the way.

    python eval/styles.py [--out reports/styles] [--squad-limit 600] [--band 0.2]

For each style and each scorer: the questions (answerable / not), false abstention,
abstention on unanswerable, AUC of answerable vs not by the answer's confidence, and answer
accuracy (contains) of the answerable. The middle band (`Config.uncertain_band`): of the
abstentions whose confidence falls within ``--band`` under the threshold, how many of the
answerable ones would show a passage holding the answer, and how many unanswerable ones would
show a passage at all. Writes ``styles.md`` and ``styles.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from articleqa import Config
from articleqa.evaluation import metrics as m
from articleqa.evaluation import run_eval

HERE = Path(__file__).resolve().parent / "datasets"
ROOT = HERE.parents[1] if (HERE.parents[1] / "examples").exists() else Path.cwd()

# name: (dataset, corpus or None for SQuAD, extra run_eval arguments)
RUNS = {
    "squad": (HERE / "squad-v1.1-dev-subset.json", None, {"holdout": 4, "seed": 0}),
    "qed_dev": (HERE / "qed_dev.jsonl", HERE / "qed_dev_corpus.jsonl", {}),
    "styles_sample": (HERE / "styles_sample.jsonl", ROOT / "examples" / "articles", {}),
    "styles_echo": (HERE / "styles_echo.jsonl", HERE / "echo_corpus.jsonl", {}),
    "news_dated": (HERE / "news_dated.jsonl", HERE / "news_dated_corpus.jsonl", {}),
    "news_reader": (HERE / "news_reader.jsonl", HERE / "news_reader_corpus.jsonl", {}),
    "news_paraphrase": (HERE / "news_paraphrase.jsonl", HERE / "news_paraphrase_corpus.jsonl", {}),
}
DATED = {
    "latest",
    "earliest",
    "before_after",
    "in_period",
    "timeline",
    "outlet",
    "unanswerable",
    "figure_change",
}
# style: which (run, question type) pairs it holds ("*": every type of the run)
STYLES = {
    "SQuAD-like": [("squad", "*"), ("news_reader", "squad_like")],
    "paraphrased": [("qed_dev", "*"), ("styles_sample", "paraphrased"), ("news_reader", "paraphrased"),
                    ("news_dated", "paraphrased"), ("news_paraphrase", "*")],
    "long multi-clause": [("styles_sample", "long_multiclause"), ("news_reader", "long_multiclause"),
                          ("news_dated", "long_multiclause")],
    "irrelevant-only": [("styles_echo", "irrelevant"), ("news_reader", "irrelevant")],
    "echo": [("styles_echo", "echo"), ("news_reader", "echo")],
    "near miss": [("styles_echo", "near_miss"), ("news_reader", "near_miss"), ("news_dated", "near_miss")],
    "multi-article news": [("news_dated", "multi_article"), ("news_reader", "multi_article")],
    "dated": [("news_dated", t) for t in sorted(DATED)] + [("news_reader", t) for t in ("earliest", "figure_change")],
}  # fmt: skip


def rows_of(report_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (report_dir / "results.jsonl").read_text().splitlines() if x.strip()]


def style_metrics(rows: list[dict], key: str | None) -> dict:
    """Per-style numbers for the configured scorer (``key`` None) or the other one."""

    def get(r: dict, k: str):
        return r[k] if key is None else r["other_evidence"][k]

    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    contains = [
        m.contains(
            "" if get(r, "abstained") else m.strip_markers(get(r, "answer")), r["answers"], r["must_mention"]
        )
        for r in ans
    ]
    return {
        "n": len(rows),
        "answerable": len(ans),
        "false_abstention": m.mean(get(r, "abstained") for r in ans),
        "recall": m.mean(get(r, "abstained") for r in una),
        "auc": m.auc([get(r, "confidence") for r in rows], [r["answerable"] for r in rows]),
        "contains": m.mean(contains),
    }


def band(rows: list[dict]) -> dict:
    """The middle band's effect: answers of form "uncertain" (the configured scorer's)."""
    shown = [r for r in rows if r["abstained"] and r["citations"]]
    ans = [r for r in shown if r["answerable"]]
    return {
        "shown": len(shown),
        "answerable_shown": len(ans),
        "answerable_passage_holds_answer": sum(any(c["correct"] for c in r["citations"]) for r in ans),
        "unanswerable_shown": len(shown) - len(ans),
    }


def _f(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("reports/styles"))
    p.add_argument("--squad-limit", type=int, default=600)
    p.add_argument("--band", type=float, default=0.2, help="the middle band measured (Config.uncertain_band)")
    p.add_argument(
        "--reuse", action="store_true", help="read the runs' results from --out instead of running"
    )
    args = p.parse_args()
    cfg = Config(uncertain_band=args.band)
    by_run: dict[str, list[dict]] = {}
    for name, (dataset, corpus, extra) in RUNS.items():
        report_dir = args.out / name
        if not args.reuse:
            run_eval(dataset, corpus=[corpus] if corpus else None, data_dir=args.out / "data" / name,
                     report_dir=report_dir, baseline=False, progress=False, compare_evidence=True, config=cfg,
                     limit=args.squad_limit if name == "squad" else None, **extra)  # fmt: skip
        by_run[name] = rows_of(report_dir)
    other = next(r["other_evidence"]["evidence"] for rows in by_run.values() for r in rows)
    table, lines = {}, []
    head = (
        "| style | n (answerable) | scorer | false abstention | abstention on unanswerable | AUC | contains |"
    )
    lines += [head, "|---|---:|---|---:|---:|---:|---:|"]
    for style, parts in STYLES.items():
        rows = [r for run, t in parts for r in by_run[run] if t == "*" or r["type"] == t]
        new, old = style_metrics(rows, None), style_metrics(rows, "other")
        table[style] = {cfg.evidence: new, other: old, "band": band(rows)}
        for label, v in ((cfg.evidence, new), (other, old)):
            lines.append(f"| {style} | {v['n']} ({v['answerable']}) | {label} | {_f(v['false_abstention'])} | "
                         f"{_f(v['recall'])} | {_f(v['auc'])} | {_f(v['contains'])} |")  # fmt: skip
    all_rows = [r for rows in by_run.values() for r in rows]
    b = band(all_rows)
    lines += ["", f"Middle band ({args.band} under the threshold, {cfg.evidence}): {b['shown']} abstentions would "
              f"show their closest passage; {b['answerable_shown']} of them answerable, "
              f"{b['answerable_passage_holds_answer']} with the answer in the passage shown; "
              f"{b['unanswerable_shown']} unanswerable."]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "styles.md").write_text("\n".join(lines) + "\n")
    (args.out / "styles.json").write_text(
        json.dumps({"styles": table, "band": b, "band_width": args.band}, indent=2)
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
