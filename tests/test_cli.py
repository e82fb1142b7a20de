import io
import json
import os
import subprocess
import sys

import pytest

from articleqa.types import ArticleInfo

from .conftest import SAMPLES, VOV_ID


def run(*args, data_dir, stdin="", **env):
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "articleqa.cli", *args], capture_output=True, text=True, env=env, timeout=300,
        input=stdin,
    )  # fmt: skip


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory):
    """A data dir with the sample articles, ingested once by the CLI, for commands that only read."""
    d = tmp_path_factory.mktemp("cli-samples")
    r = run("ingest", str(SAMPLES), "--quiet", data_dir=d)
    assert r.returncode == 0, r.stderr
    return d


def test_cli_ingest_then_ask_json(tmp_path):
    r = run("ingest", str(SAMPLES), "--quiet", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run(
        "ask",
        "On what terms did Man want Japan's new-generation ODA to be provided?",
        "--json",
        data_dir=tmp_path,
    )
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
    assert head["n"] == 3 and set(head) == {
        "n",
        "answer",
        "abstention",
        "retrieval",
        "citations",
        "latency_ms",
    }
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["answer"] == head["answer"] and saved["baseline"] is None


def test_unknown_answerer_is_a_clear_configuration_error(tmp_path):
    run("ingest", str(SAMPLES), "--quiet", data_dir=tmp_path)
    r = run("ask", "Who met Ishiba?", "--answerer", "oracle", data_dir=tmp_path)
    assert r.returncode == 2 and "unknown answerer 'oracle'" in r.stderr


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_a_one_line_usage_error(samples_dir, question):
    r = run("ask", question, data_dir=samples_dir)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: the question is empty"  # one line, no traceback


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a valid date; use YYYY-MM-DD"),
        (["--since", "2025-13-45"], "--since '2025-13-45' is not a valid date"),
        (["--until", "2025-02-30"], "--until '2025-02-30' is not a valid date"),
        (["--until", "20250101"], "--until '20250101' is not a valid date"),  # fromisoformat takes it
        (["--since", "2025-02-01", "--until", "2025-01-31"], "--since 2025-02-01 is after --until"),
    ],
)
def test_since_and_until_must_be_iso_dates_in_order(samples_dir, args, message):
    r = run("ask", "Who met Ishiba?", *args, data_dir=samples_dir)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_valid_date_range_is_applied(samples_dir):
    r = run("ask", "Who met Ishiba?", "--since", "2024-01-01", "--until", "2024-12-31", "--json",
            data_dir=samples_dir)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["abstained"] is True  # the .txt samples have no date: none is in range


def test_help_shows_env_and_default(tmp_path):
    r = run("ask", "--help", data_dir=tmp_path, COLUMNS="200", TERMINAL_WIDTH="200")
    assert r.returncode == 0
    assert "env ARTICLEQA_DATA_DIR; default ./.articleqa" in r.stdout
    assert "env ARTICLEQA_ANSWERER; default extractive" in r.stdout


def test_ingest_without_a_terminal_prints_progress_lines_and_skipped_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text("Good title\nA sentence about harbours.")
    (src / "notes.pdf").write_bytes(b"%PDF-1.4")
    (src / ".DS_Store").write_bytes(b"\x00")
    r = run("ingest", str(src), data_dir=tmp_path / "d")  # stderr is a pipe, not a terminal
    assert r.returncode == 0, r.stderr
    assert "ingested 1/1 articles, 1 chunks" in r.stderr.splitlines()
    assert "━" not in r.stderr  # no bar
    assert f"warning: {src / 'notes.pdf'}: skipped, '.pdf' files can't be ingested" in r.stderr
    assert ".DS_Store" not in r.stderr
    assert "1 added" in r.stdout

    (src / "good.txt").write_text("Good title\nA sentence about harbours, updated.")
    r = run("ingest", str(src), "--quiet", data_dir=tmp_path / "d")
    assert r.returncode == 0 and r.stdout == ""
    assert [ln[:8] for ln in r.stderr.splitlines()] == ["warning:"]  # no progress, still the warning


def test_progress_lines_at_most_every_two_seconds():
    from rich.console import Console

    from articleqa.cli import _ProgressLines

    out = Console(file=io.StringIO(), width=200)
    now = [0.0]
    lines = _ProgressLines(out, every=2.0, clock=lambda: now[0])
    for done in range(1, 11):  # one article every 0.5 s
        now[0] += 0.5
        lines(done, 10, done * 4)
    lines(10, 10, 40)  # the pipeline reports the end twice
    lines.finish()
    assert out.file.getvalue().splitlines() == [
        "ingested 4/10 articles, 16 chunks",
        "ingested 8/10 articles, 32 chunks",
        "ingested 10/10 articles, 40 chunks",
    ]


def test_remove_says_what_it_removed(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text("Good title\nA sentence about harbours.")
    assert run("ingest", str(src), "--quiet", data_dir=tmp_path / "d").returncode == 0
    r = run("remove", "good", data_dir=tmp_path / "d")
    assert r.returncode == 0 and r.stdout == "removed good\n", r.stderr
    r = run("remove", "good", data_dir=tmp_path / "d")
    assert r.returncode == 1 and "no article with id 'good'" in r.stderr and r.stdout == ""


def test_chat_suggests_the_sample_question_only_with_the_sample_articles(samples_dir, tmp_path):
    r = run("chat", "--no-sample", data_dir=samples_dir)  # stdin at EOF: quits at the first prompt
    assert r.returncode == 0, r.stderr
    assert "new-generation ODA" in r.stdout

    src = tmp_path / "in"
    src.mkdir()
    (src / "harbour.txt").write_text("Harbour reopens\nThe harbour reopened on Thursday.")
    assert run("ingest", str(src), "--quiet", data_dir=tmp_path / "d").returncode == 0
    r = run("chat", "--no-sample", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert "— 1 article, 1 passage." in r.stdout and "new-generation ODA" not in r.stdout


def _listing(monkeypatch, rows: list[ArticleInfo], terminal: bool):
    """`articleqa list` through typer's CliRunner over ``rows``; a console that is a terminal or not."""
    from rich.console import Console
    from typer.testing import CliRunner

    import articleqa.cli as cli

    class _Rows:
        def __init__(self, cfg):
            pass

        def articles(self):
            return rows

    monkeypatch.setattr(cli, "Assistant", _Rows)
    if terminal:
        monkeypatch.setattr(cli, "console", Console(file=io.StringIO(), force_terminal=True, width=60))
    res = CliRunner().invoke(cli.app, ["list"])
    assert res.exit_code == 0, res.output
    return res, cli.console


def _row(i: int, **kw) -> ArticleInfo:
    return ArticleInfo(**{"id": f"vietnam-japan-parliamentary-agreement-vov-{i}", "title": "Vietnam and Japan ink a "
            "parliamentary cooperation agreement in Tokyo after talks", "source": "VOV", "published_at": "",
            "chunks": 12, "version": 2, "group_id": "", "url": "", "key": "", "chars": 0, "origin": "", **kw})  # fmt: skip


def test_piped_list_prints_one_unwrapped_line_per_article_and_counts_in_the_singular(monkeypatch):
    """Issue 21: piped, `list` wrapped ids mid-word at 80 columns and said "1 articles"."""
    res, _ = _listing(monkeypatch, [_row(1, title="Harbour\nreopens")], terminal=False)
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "source", "published", "chunks", "version", "group"]
    assert len(lines) == 2 and lines[1].split("  ")[0] == "vietnam-japan-parliamentary-agreement-vov-1"
    assert "Harbour reopens" in lines[1] and " 12 " in lines[1] and " 2 " in lines[1]
    assert res.stderr.strip() == "1 article"

    res, _ = _listing(monkeypatch, [_row(1), _row(2, source="", group_id="g1")], terminal=False)
    lines = res.stdout.splitlines()
    assert len(lines) == 3 and res.stderr.strip() == "2 articles"
    assert lines[1].index("VOV") == lines[2].index("—")  # columns line up
    assert lines[2].startswith("vietnam-japan-parliamentary-agreement-vov-2 ") and lines[2].endswith("g1")


def test_list_on_a_terminal_is_a_table_titled_in_the_singular_for_one(monkeypatch):
    _, console = _listing(monkeypatch, [_row(1)], terminal=True)
    out = console.file.getvalue()
    assert "1 article" in out and "1 articles" not in out and "VOV" in out


def test_ask_leads_with_the_short_answer_in_bold_and_json_gives_its_offsets(samples_dir):
    q = "Which typhoon recently caused damage in Vietnam?"
    r = run("ask", q, data_dir=samples_dir, COLUMNS="200")
    assert r.returncode == 0, r.stderr
    assert "Yagi — “" in r.stdout and "**" not in r.stdout
    d = json.loads(run("ask", q, "--json", data_dir=samples_dir).stdout)
    sa = d["short_answer"]
    assert sa["text"] == "Yagi" and sa["article_id"] == VOV_ID
    c = d["citations"][sa["citation"] - 1]
    assert c["start"] <= sa["start"] < sa["end"] <= c["end"] and "sympathy" in c["text"]
    assert c["text"][sa["start"] - c["start"] : sa["end"] - c["start"]] == "Yagi"
