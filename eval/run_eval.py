"""Run the evaluation without the CLI: the same options as ``articleqa eval``.

python eval/run_eval.py eval/datasets/squad-v1.1-dev-subset.json --format squad --limit 300
python eval/run_eval.py eval/datasets/sample_articles.jsonl --corpus examples/articles
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Evaluate articleqa against a llama-index baseline.")
    p.add_argument("dataset", help="a .jsonl question set or a SQuAD v1.1 .json file")
    p.add_argument("--format", dest="fmt", choices=["jsonl", "squad"], help="default: from the file suffix")
    p.add_argument("--corpus", action="append", help="file or folder to index (repeatable; jsonl only)")
    p.add_argument("--data-dir", help="articleqa store to (re)use; default .articleqa/eval/<dataset>")
    p.add_argument("--report-dir", help="where report.json/.md go; default reports/<dataset>")
    p.add_argument("--limit", type=int, help="evaluate a seeded sample of this many questions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=int, default=0, help="SQuAD pages left unindexed (unanswerable)")
    p.add_argument("--no-baseline", action="store_true", help="skip the llama-index baseline")
    p.add_argument("--compare-evidence", action="store_true", help="also the other evidence scorer")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from articleqa.evaluation import run_eval
    from articleqa.evaluation.report import summary

    report = run_eval(
        a.dataset, fmt=a.fmt, corpus=a.corpus, data_dir=a.data_dir, report_dir=a.report_dir,
        limit=a.limit, seed=a.seed, holdout=a.holdout, baseline=not a.no_baseline, progress=not a.no_progress,
        compare_evidence=a.compare_evidence,
    )  # fmt: skip
    print(summary(report))
    print(f"report: {report.report_dir}/report.md  ({report.duration_s} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
