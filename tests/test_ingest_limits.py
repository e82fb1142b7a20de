"""Issue 21 (3d): one article over ``max_article_chars`` is refused before chunking and embedding,
whatever it was read from, with a message naming it; the rest of the batch goes in and nothing
already stored is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from articleqa import Article, Config

from .conftest import ROOT

SENTENCE = "The harbour authority met on Tuesday to discuss the new ferry timetable. "


def _jsonl(path, *records: dict) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_the_limit_is_a_setting_with_a_default_no_news_article_reaches(monkeypatch):
    assert Config().max_article_chars == 200_000
    monkeypatch.setenv("ARTICLEQA_MAX_ARTICLE_CHARS", "5000")
    assert Config().max_article_chars == 5000


def test_a_huge_jsonl_line_is_refused_and_the_rest_goes_in(fresh_qa, tmp_path):
    qa = fresh_qa
    qa.config.max_article_chars = 5_000  # validate_assignment: the store shares this Config
    assert qa.store.cfg.max_article_chars == 5_000
    feed = tmp_path / "news.jsonl"
    _jsonl(feed, {"id": "kept", "title": "Harbour", "text": "Harbour news\n" + SENTENCE * 3})
    first = qa.ingest([feed])
    assert first.ok and first.added == ["kept"]
    before = qa.article("kept")
    chunks_before = qa.stats().passages

    huge = "A data dump\n" + SENTENCE * 100  # 7,312 characters
    _jsonl(
        feed,
        {"id": "big", "title": "A data dump", "text": huge},
        {"id": "small", "title": "Ferries", "text": "Ferries return\n" + SENTENCE * 2},
        {"id": "kept", "title": "Harbour", "text": huge},  # an edit that made it huge
    )
    report = qa.ingest([feed], sync=True)

    assert report.added == ["small"] and not report.updated and not report.removed
    assert report.errors == [
        f"jsonl:big (in {feed}): 'A data dump' article is 7,312 characters, over the 5,000 limit "
        "(max_article_chars, ARTICLEQA_MAX_ARTICLE_CHARS); not ingested",
        f"jsonl:kept (in {feed}): 'Harbour' article is 7,312 characters, over the 5,000 limit "
        "(max_article_chars, ARTICLEQA_MAX_ARTICLE_CHARS); not ingested; the stored version is kept",
    ]
    assert not report.ok
    assert {a.id for a in qa.articles()} == {"kept", "small"}
    after = qa.article("kept")  # untouched: same text, same version, its chunks still there
    assert after.text == before.text and after.content_hash == before.content_hash
    assert [a.version for a in qa.articles() if a.id == "kept"] == [1]
    assert qa.stats().passages == chunks_before + sum(a.chunks for a in qa.articles() if a.id == "small")


def test_the_limit_holds_for_articles_handed_in_and_files(fresh_qa, tmp_path):
    qa = fresh_qa
    qa.config.max_article_chars = 1_000
    (tmp_path / "long.txt").write_text("Long one\n" + SENTENCE * 20)
    report = qa.ingest(
        [tmp_path / "long.txt"], articles=[Article("api", "Handed in\n" + SENTENCE * 20, title="Handed in")]
    )
    assert report.added == [] and len(report.errors) == 2
    assert report.errors[0].startswith(
        "id:api: 'Handed in' article is 1,470 characters, over the 1,000 limit"
    )
    assert report.errors[1].startswith(
        f"{(tmp_path / 'long.txt').resolve()}: 'Long one' article is 1,469 characters"
    )


def test_the_default_limit_refuses_a_megabyte_line_at_once(fresh_qa, tmp_path):
    feed = tmp_path / "dump.jsonl"
    _jsonl(feed, {"id": "dump", "text": SENTENCE * 14_000}, {"id": "ok", "text": "Ferries\n" + SENTENCE})
    report = fresh_qa.ingest([feed])
    assert report.added == ["ok"] and report.chunks == 1
    (error,) = report.errors
    assert (
        error.startswith("jsonl:dump (in ")
        and "article is 1,022,000 characters, over the 200,000 limit" in error
    )


def test_cli_ingest_max_article_chars(tmp_path):
    feed = tmp_path / "news.jsonl"
    _jsonl(feed, {"id": "big", "title": "Dump", "text": SENTENCE * 100}, {"id": "small", "text": SENTENCE})
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(tmp_path / "d"))
    r = subprocess.run(
        [sys.executable, "-m", "articleqa.cli", "ingest", str(feed), "--max-article-chars", "5000"],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert (
        "error: jsonl:big (in " in r.stderr
        and "article is 7,300 characters, over the 5,000 limit" in r.stderr
    )
    assert "1 added" in r.stdout and "1 failed" in r.stdout
