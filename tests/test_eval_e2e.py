"""Smoke runs of `run_eval` on 10 questions of each dataset (real model, real Chroma)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from articleqa.evaluation import run_eval

from .conftest import ROOT, SAMPLES

DATASETS = ROOT / "eval" / "datasets"
SECTIONS = {
    "answer": {"em", "f1", "contains"},
    "abstention": {"precision", "recall", "false_rate"},
    "retrieval": {"hit@1", "hit@5", "hit@10", "mrr@10"},
    "citations": {"valid", "precision", "recall"},
    "latency_ms": {"p50", "p95"},
}


def check_outputs(report_dir: Path, n: int) -> dict:
    report = json.loads((report_dir / "report.json").read_text())
    for part in (report, report["baseline"]):
        assert part["n"] == n and isinstance(part["ingest_s"], float)
        for section, keys in SECTIONS.items():
            assert set(part[section]) >= keys, section
    assert report["by_type"] and report["dataset"] and report["config"] and report["created"]
    lines = (report_dir / "results.jsonl").read_text().splitlines()
    assert len(lines) == n
    row = json.loads(lines[0])
    assert {"id", "question", "answer", "abstained", "citations", "retrieved", "metrics", "baseline"} <= set(
        row
    )
    assert (report_dir / "report.md").exists()
    assert list(report_dir.glob("*.png"))
    return report


@pytest.mark.slow
def test_eval_squad_smoke(tmp_path):
    report = run_eval(
        DATASETS / "squad-v1.1-dev-subset.json",
        fmt="squad",
        data_dir=tmp_path / "data",
        report_dir=tmp_path / "report",
        limit=10,
        holdout=4,  # 8 pages to index keeps it quick, and exercises abstention
        progress=False,
    ).to_dict()
    check_outputs(tmp_path / "report", 10)
    assert report["dataset"]["unanswerable"] > 0 and report["dataset"]["articles"] == 8


@pytest.mark.slow
def test_eval_jsonl_smoke(tmp_path):
    dataset = DATASETS / "sample_articles.jsonl"
    if not dataset.exists():
        pytest.skip("eval/datasets/sample_articles.jsonl has not been written yet")
    run_eval(
        dataset,
        fmt="jsonl",
        corpus=[SAMPLES],
        data_dir=tmp_path / "data",
        report_dir=tmp_path / "report",
        limit=10,
        progress=False,
    )
    n = min(10, sum(1 for line in dataset.read_text().splitlines() if line.strip()))
    check_outputs(tmp_path / "report", n)
