"""Smoke test of benchmarks/run.py at a tiny size: it runs end to end and reports every field.

No timing assertions: CI machines are shared and slow; the numbers live in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

INGEST_FIELDS = {
    "seconds", "articles", "chunks", "tokens", "chunks_per_s", "articles_per_s", "tokens_per_s",
    "embed_seconds", "other_seconds", "disk_bytes", "disk_bytes_per_1k_chunks", "peak_rss_mb",
}  # fmt: skip
LATENCY_FIELDS = {"p50", "p95", "mean", "max", "n"}


@pytest.mark.slow
def test_benchmark_runs_and_reports_every_field(tmp_path):
    out = tmp_path / "results"
    env = {
        **os.environ,
        "ANONYMIZED_TELEMETRY": "False",
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    # Two tiny sizes, the second above --cache-above: both the live and the cached-embedding paths run.
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--sizes", "150,300", "--out", str(out),
           "--work-dir", str(tmp_path / "work"), "--questions", "4", "--model-sample", "40",
           "--cache-above", "300", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]

    res = json.loads((out / "results.json").read_text())
    assert {"command", "machine", "versions", "sizes", "goals"} <= res.keys()
    assert {"nproc", "cpu", "ram_gb"} <= res["machine"].keys()
    live, cached = res["sizes"]
    for s in (live, cached):
        assert s["corpus"]["chunks"] >= s["target_chunks"] and s["corpus"]["articles"] > 0
        assert {"sample_chunks", "tokens", "chunks_per_s", "tokens_per_s", "batch_size"} <= s["model"].keys()
        # int8 embeds one text per call (index/embeddings.py MiniLMEmbedder)
        assert s["model"]["batch_size"] == (1 if res["config"]["embed_runtime"] == "int8" else 8)
        ours, base = s["articleqa_ingest"], s["baseline"]
        assert ours.keys() >= INGEST_FIELDS and base.keys() >= INGEST_FIELDS
        assert ours["chunks"] == s["corpus"]["chunks"]  # the corpus counts chunks as ingestion makes them
        assert ours["articles"] == base["articles"] == s["corpus"]["articles"]
        assert base["retrieve_ms"].keys() >= LATENCY_FIELDS
        serve = s["articleqa_serve"]
        assert serve["retrieve_ms"].keys() >= LATENCY_FIELDS and serve["ask_ms"].keys() >= LATENCY_FIELDS
        assert serve["ask_ms"]["n"] == 4 and serve["peak_rss_mb"] > 0
        assert serve["ask_repeat_ms"].keys() >= LATENCY_FIELDS and 0 <= serve["sentence_cache_hit_share"] <= 1
        assert 0 <= ours["truncated_share"] <= 1 and 0 <= base["truncated_share"] <= 1
        assert {"articles_per_s", "tokens_per_s"} <= s["articleqa_vs_baseline"].keys()
    assert not live["embeddings_reused"] and live["articleqa_ingest"]["share_of_model"] > 0
    fit = live["baseline_fit"]  # llama-index with chunks fitted to the model: live sizes only
    assert (
        fit.keys() >= INGEST_FIELDS
        and fit["chunk_size"] == 200
        and fit["chunks"] >= live["baseline"]["chunks"]
    )
    assert "articles_per_s" in live["articleqa_vs_baseline_fit"] and "baseline_fit" not in cached
    assert cached["embeddings_reused"] and "reuse_note" in cached
    assert cached["articleqa_ingest"]["cache_misses"] == 0 and cached["baseline"]["cache_misses"] == 0
    assert cached["articleqa_ingest"]["projected_live"]["seconds"] > 0

    md = (out / "results.md").read_text()
    assert "## Ingestion" in md and "## Query latency" in md and "## Memory and disk" in md
    assert (out / "results.png").stat().st_size > 10_000


def test_the_runtime_table_runs_and_reports_every_field(tmp_path):
    """benchmarks/runtimes.py with articleqa's two runtimes only (no --reference), tiny."""
    out = tmp_path / "rt"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "runtimes.py"), "--out", str(out), "--chunks", "12",
           "--sentences", "40", "--rounds", "1", "--grid", "1x1"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "runtimes.json").read_text())
    names = [r["spec"]["name"] for r in res["rows"]]
    assert names == [
        "articleqa fp32 (before)", "articleqa int8 (shipped)", "onnxruntime, the fp32 file", "onnxruntime, the int8 file"
    ]  # fmt: skip
    for row in res["rows"]:
        med = row["median"]
        assert {"load_s", "first_batch_ms", "question_ms", "tokens_per_s", "peak_rss_mb"} <= med.keys(), med
        assert med["tokens_per_s"] > 0 and row["file_mb"] > 1
    int8 = res["rows"][1]
    # Against fp32 (the reference without --reference): the shipped runtime agrees.
    assert int8["cosine_vs_before"]["mean"] > 0.98, int8
    assert len(res["grid"]) == 2 and {g["batch"] for g in res["grid"]} == {1}
    assert int8["median"]["batch"] == 1 and int8["median"]["streams"] >= 1
    assert "| articleqa int8 (shipped) |" in (out / "runtimes.md").read_text()
