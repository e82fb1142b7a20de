"""Smoke runs of `run_eval` on 10 questions of each dataset (real model, real Chroma)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from articleqa.evaluation import run_eval
from articleqa.evaluation.report import EVIDENCE_COLS

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
    assert report["evidence"] is None and "other_evidence" not in row  # not compared
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


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One run that asks 8 style questions with both evidence scorers (no baseline)."""
    tmp = tmp_path_factory.mktemp("compare-evidence")
    report = run_eval(
        DATASETS / "styles_sample.jsonl",
        corpus=[SAMPLES],
        data_dir=tmp / "data",
        report_dir=tmp / "report",
        limit=8,
        baseline=False,
        progress=False,
        compare_evidence=True,
    )
    return report, tmp


@pytest.mark.slow
def test_compare_evidence_reports_both_scorers_by_type(compared):
    report, tmp = compared
    saved = json.loads((tmp / "report" / "report.json").read_text())
    assert list(saved["evidence"]) == ["overlap", "reader"]
    assert saved["config"]["evidence"] == "overlap"  # the default is configured; the reader is the other
    assert saved["baseline"] is None and saved["by_type"]
    ours, model = saved["evidence"]["overlap"], saved["evidence"]["reader"]
    assert ours["answer"] == saved["answer"] and ours["abstention"] == saved["abstention"]
    for ev in (ours, model):
        assert ev["n"] == 8 and set(ev["by_type"]) == set(saved["by_type"])
        for t in ev["by_type"].values():
            assert set(EVIDENCE_COLS) <= set(t)
    rows = [json.loads(line) for line in (tmp / "report" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["other_evidence"]["evidence"] == "reader" for r in rows)
    # The reader really ran: its confidence is not the overlap score's.
    assert any(r["other_evidence"]["confidence"] != r["confidence"] for r in rows)


@pytest.mark.slow
def test_compare_evidence_table_in_report_md_and_summary(compared):
    from articleqa.evaluation.report import summary

    report, tmp = compared
    md = (tmp / "report" / "report.md").read_text()
    section = md[md.index("## Evidence scorers side by side") :].split("\n## ")[0]
    table_rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    expected = [[f"| {t}", e] for t in ["all", *report.by_type] for e in ("overlap", "reader")]
    assert [r.split(" | ")[:2] for r in table_rows] == expected
    text = summary(report)
    assert "evidence scorers side by side" in text
    assert sum(line.startswith("all ") for line in text.splitlines()) == 2


@pytest.mark.slow
def test_cli_compare_evidence_flag(compared, tmp_path):
    from typer.testing import CliRunner

    from articleqa.cli import app

    _, tmp = compared  # its store: the articles are already indexed
    args = ["eval", str(DATASETS / "styles_sample.jsonl"), "--corpus", str(SAMPLES), "--limit", "2",
            "--no-baseline", "--compare-evidence", "--data-dir", str(tmp / "data"), "--report-dir", str(tmp_path)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "evidence scorers side by side" in res.output
    saved = json.loads((tmp_path / "report.json").read_text())
    assert set(saved["evidence"]) == {"overlap", "reader"} and saved["evidence"]["reader"]["n"] == 2
