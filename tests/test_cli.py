import json
import os
import subprocess
import sys

from .conftest import SAMPLES, VOV_ID


def run(*args, data_dir):
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "articleqa.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_ingest_then_ask_json(tmp_path):
    r = run("ingest", str(SAMPLES), "--quiet", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("ask", "On what terms did Man want Japan's new-generation ODA to be provided?", "--json", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"question", "answer", "abstained", "citations"}
    assert not out["abstained"] and "simplified procedures" in out["answer"]
    c = out["citations"][0]
    assert set(c) >= {"n", "article_id", "title", "source", "text", "start", "end"}
    assert c["article_id"] == VOV_ID and c["source"] == "VOV"

    r = run("ask", "What is the population of Hanoi?", "--json", data_dir=tmp_path)
    assert json.loads(r.stdout)["abstained"] is True

    r = run("list", "--json", data_dir=tmp_path)
    assert {a["id"] for a in json.loads(r.stdout)} == {VOV_ID, "vietnam-japan-leaders-talks"}


def test_cli_reports_bad_input_and_exit_code(tmp_path):
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "good.txt").write_text("Good title\nA sentence about harbours.")
    (bad / "empty.txt").write_text("")
    r = run("ingest", str(bad), "--quiet", data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert "empty.txt: file is empty" in r.stderr
    r = run("list", "--json", data_dir=tmp_path / "d")
    assert [a["id"] for a in json.loads(r.stdout)] == ["good"]


def test_ask_without_articles_says_what_to_do(tmp_path):
    r = run("ask", "anything?", data_dir=tmp_path)
    assert r.returncode == 2 and "articleqa ingest" in r.stderr


def test_cli_eval_prints_the_headline_metrics_and_writes_the_report(tmp_path):
    dataset = SAMPLES.parent.parent / "eval" / "datasets" / "sample_articles.jsonl"
    r = run("eval", str(dataset), "--limit", "3", "--no-baseline", "--report-dir", str(tmp_path / "report"),
            data_dir=tmp_path / "data")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = r.stdout[r.stdout.index("\n{") : r.stdout.rindex("}") + 1]  # after the progress bars
    head = json.loads(out)
    assert head["n"] == 3 and set(head) == {"n", "answer", "abstention", "retrieval", "citations", "latency_ms"}
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["answer"] == head["answer"] and saved["baseline"] is None


def test_unknown_answerer_is_a_clear_configuration_error(tmp_path):
    run("ingest", str(SAMPLES), "--quiet", data_dir=tmp_path)
    r = run("ask", "Who met Ishiba?", "--answerer", "oracle", data_dir=tmp_path)
    assert r.returncode == 2 and "unknown answerer 'oracle'" in r.stderr
