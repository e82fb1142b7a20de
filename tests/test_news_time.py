"""Issue 16: "latest" questions over a dated collection, answered from the newest report that
answers, with its date, and what an earlier report said (real ingestion and retrieval)."""

from __future__ import annotations

import pytest

from articleqa import Assistant, Config
from articleqa.answer.extractive import asks_latest, day
from articleqa.index.store import Store

from .conftest import ROOT

DATED = ROOT / "eval" / "datasets" / "news_dated_corpus.jsonl"


@pytest.fixture(scope="module")
def qa(tmp_path_factory, embedder):
    cfg = Config(data_dir=tmp_path_factory.mktemp("dated") / "data")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([DATED])
    return qa


def test_latest_questions_are_recognised():
    assert asks_latest("What's the latest on the Saltby port strike?")
    assert asks_latest("How many people has Storm Ysolde killed so far?")
    assert asks_latest("What is Kessel's current offer price?")
    assert not asks_latest("How many people did Storm Ysolde kill in Lusk on April 6?")
    from articleqa.answer.extractive import time_form

    assert time_form("Which outlet first reported the opening date?") == "earliest"
    assert time_form("What was the original opening date of Line 4?") == "earliest"
    assert time_form("What happened with the Orrin metro Line 4?") == "timeline"
    assert day("2026-05-23") == "23 May 2026" and day("2026-05") == "2026-05"


def test_the_latest_answer_is_the_newest_report_with_its_date_and_the_earlier_one(qa):
    ans = qa.ask("How many people has Storm Ysolde killed so far?")
    assert not ans.abstained and ans.text.startswith("As of ")
    newest, *earlier = ans.citations
    assert "11" in newest.text  # the final toll, not the first day's four
    assert newest.published_at == max(c.published_at for c in ans.citations)
    assert earlier and earlier[0].published_at < newest.published_at and "Earlier (" in ans.text
    assert day(newest.published_at) in ans.text


def test_first_reports_and_timelines_follow_the_dates(qa):
    first = qa.ask("Which outlet first reported the opening date of Orrin's Line 4?")
    assert first.text.startswith("First reported on ") and len(first.citations) == 1
    dated = [a["published_at"] for a in qa.articles() if a["published_at"]]
    assert first.citations[0].published_at == min(dated)  # the story's first report
    line = qa.ask("What happened with the Orrin metro Line 4?")
    dates = [c.published_at for c in line.citations]
    assert len(dates) >= 3 and dates == sorted(dates) and line.text.count("\n- ") == len(dates) - 1


def test_undated_pages_answer_as_before(tmp_path, embedder):
    """A "first" or "now" question over undated articles is no question about time."""
    from .conftest import SAMPLES

    cfg = Config(data_dir=tmp_path / "data")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([SAMPLES])
    ans = qa.ask("Which storm did Japan express sympathy about now?")
    assert "Yagi" in ans.text and not ans.text.startswith(("As of", "First reported"))
