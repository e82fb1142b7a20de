"""Issue 16: periods named in questions, and retrieval kept to them (real ingestion)."""

from __future__ import annotations

import pytest

from articleqa import Assistant, Config
from articleqa.index.local import Store
from articleqa.periods import period

from .conftest import ROOT

DATED = ROOT / "eval" / "datasets" / "news_dated_corpus.jsonl"


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("What did the ministry announce in March?", ("2026-03-01", "2026-03-31")),
        ("What happened last week?", ("2026-05-23", "2026-05-29")),
        ("What has happened since April 14?", ("2026-04-14", "")),
        ("What has happened since 14th April?", ("2026-04-14", "")),
        ("What did the Wire report before 10 May?", ("", "2026-05-09")),
        ("What changed after March?", ("2026-04-01", "")),
        (
            "What was agreed in June?",
            ("2025-06-01", "2025-06-30"),
        ),  # the latest June not after the newest article
        ("What was decided in May 2025?", ("2025-05-01", "2025-05-31")),
        ("Who won the cup in 2025?", ("2025-01-01", "2025-12-31")),
        ("How many homes lost power?", None),
        ("What may happen to the bid?", None),
    ],
)
def test_periods_in_questions(question, span):
    assert period(question, "2026-05-29") == span


def test_without_dated_articles_only_years_resolve():
    assert period("What happened in March?", "") is None
    assert period("What happened in 2025?", "") == ("2025-01-01", "2025-12-31")


def test_retrieval_keeps_to_the_period_asked_about(tmp_path, embedder):
    cfg = Config(data_dir=tmp_path / "data")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([DATED])
    ans = qa.ask("What did the Orrin Metro Authority announce in March?")
    assert ans.hits and all(h.published_at.startswith("2026-03") for h in ans.hits)
    assert not ans.abstained and ans.text.endswith(
        "(“in March” read as March 2026, counted back from the newest article, of 29 May 2026.)"
    )
    assert not any(
        h.published_at.startswith("2026-03")
        for h in qa.ask("What did the Orrin Metro Authority announce in May?").hits
    )
    # A period nothing was published in restricts nothing.
    assert qa.ask("What did the Orrin Metro Authority announce in 2019?").hits


def test_the_answer_is_judged_without_the_period():
    from articleqa.periods import without_period

    assert (
        without_period("What did the Labour Court decide in the past week?")
        == "What did the Labour Court decide?"
    )
    assert (
        without_period("What went wrong with the Line 4 project in April?")
        == "What went wrong with the Line 4 project?"
    )
    assert without_period("How many homes lost power?") == "How many homes lost power?"


def test_a_relative_period_is_said_as_read():
    from articleqa.periods import period_note

    q = "What happened to the strike last week?"
    assert period_note(q, period(q, "2026-05-29"), "2026-05-29") == (
        "“last week” read as 23 May 2026 to 29 May 2026, counted back from the newest article, of 29 May 2026"
    )
    q = "What went wrong in April?"
    assert period_note(q, period(q, "2026-05-29"), "2026-05-29").startswith("“in April” read as April 2026")
    q = "What happened in May 2026?"
    assert period_note(q, period(q, "2026-05-29"), "2026-05-29") == ""  # dated in full: nothing to say
