"""Outlets named in a question: the matcher, and retrieval and answers over a real collection
(news_dated_corpus.jsonl ingested with the real embedder)."""

from __future__ import annotations

import pytest

from articleqa.outlets import named_outlets
from articleqa.resources import dataset
from articleqa.retrieve import retrieve
from articleqa.types import Filters

OUTLETS = [
    "Vellmark Wire", "Orrin Daily Ledger", "Saltby Business Times", "Feyhaven Tech Review",
    "Lusk Coastal Courier", "The Verge", "Reuters", "TechCrunch", "The Age", "VOV",
]  # fmt: skip
LEDGER, WIRE, COURIER = "Orrin Daily Ledger", "Vellmark Wire", "Lusk Coastal Courier"


@pytest.mark.parametrize(
    ("question", "want"),
    [
        ("What did the Orrin Daily Ledger say about the Line 4 delay?", [LEDGER]),
        ("what did the orrin daily ledger say?", [LEDGER]),  # case
        ("According to REUTERS, who won?", ["Reuters"]),
        ("What did The Verge say?", ["The Verge"]),
        ("What did Verge say?", ["The Verge"]),  # without its "The"
        ("both TechCrunch and The Age", ["TechCrunch", "The Age"]),  # in the question's order
        ("How did the Ledger and the Wire differ on daily riders?", [LEDGER, WIRE]),  # shortened
        ("Did the Wire and the Ledger agree?", [WIRE, LEDGER]),
        ("what did the ledger say?", [LEDGER]),  # lower case, "the" before, a reporting word after
        ("What did the Courier report?", [COURIER]),
        ("What did theverge.com and www.reuters.com report?", ["The Verge", "Reuters"]),  # domains
        ("Is theage.com.au right?", ["The Age"]),
        ("According to VOV, who met?", ["VOV"]),
        ("What did the Orrin Daily Ledger's reporter see?", [LEDGER]),  # once, not also "Ledger"
    ],
)
def test_named(question, want):
    assert named_outlets(question, OUTLETS) == want


@pytest.mark.parametrize(
    "question",
    [
        "When will Line 4 open?",  # no outlet named
        "How many people ride Line 4 each day?",
        "The wire transfer failed: what did the bank say?",  # an ordinary "wire"
        "Wire transfers rose in May.",  # first word of the question
        "Was the company on the verge of collapse?",  # "The Verge" minus "The", in lower case
        "What age was the captain?",
        "How many times did the ferry sail?",  # "Times": too generic to stand for an outlet
        "What did the Review say?",  # "Review": likewise
        "What did Orrin say about the metro?",  # a leading word is a place, not the outlet
        "What did the Guardian say?",  # not in the collection
    ],
)
def test_not_named(question):
    assert named_outlets(question, OUTLETS) == []


def test_shortened_form_must_be_unambiguous():
    two = ["Orrin Daily Ledger", "Saltby Evening Ledger"]
    assert named_outlets("What did the Ledger say?", two) == []
    assert named_outlets("What did the Evening Ledger say?", two) == ["Saltby Evening Ledger"]
    # One outlet's whole name inside another's: the longer match wins.
    assert named_outlets("What did the Orrin Daily Ledger say?", ["Daily Ledger", "Orrin Daily Ledger"]) == [
        "Orrin Daily Ledger"
    ]


@pytest.fixture(scope="module")
def news_qa(tmp_path_factory, embedder):
    from articleqa import Assistant, Config
    from articleqa.index.local import Store

    cfg = Config(data_dir=tmp_path_factory.mktemp("outlets") / "data")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    assert qa.ingest([dataset("news_dated_corpus.jsonl")]).ok
    return qa


def test_collection_outlets(news_qa):
    assert news_qa.store.outlets() == sorted(
        [
            "Vellmark Wire",
            "Orrin Daily Ledger",
            "Saltby Business Times",
            "Feyhaven Tech Review",
            "Lusk Coastal Courier",
        ]
    )


def test_one_named_outlet_restricts(news_qa):
    q = "What did the Orrin Daily Ledger say about the Line 4 delay?"
    plain = retrieve(news_qa.store, q).hits
    assert any(h.source != LEDGER for h in plain)  # without it, other outlets come back too
    a = news_qa.ask(q)
    assert a.hits and {h.source for h in a.hits} == {LEDGER}
    assert not a.abstained and a.citations
    sources = {m.id: m.source for m in news_qa.articles()}
    assert {sources[c.article_id] for c in a.citations} == {LEDGER}


def test_caller_sources_win(news_qa):
    q = "What did the Orrin Daily Ledger say about the Line 4 delay?"
    r = retrieve(news_qa.store, q, filters=Filters(sources=[WIRE]), outlet_aware=True)
    assert r.hits and {h.source for h in r.hits} == {WIRE}


def test_two_named_outlets_balance(news_qa):
    q = "How did the Ledger and the Wire differ on daily riders?"
    r = retrieve(news_qa.store, q, 4, outlet_aware=True)
    assert [h.source for h in r.hits] == [LEDGER, WIRE, LEDGER, WIRE]  # taken in turn
    assert [h.rank for h in r.hits] == [0, 1, 2, 3]
    assert {h.source for h in news_qa.ask(q).hits} == {LEDGER, WIRE}


def test_comparison_cites_each_named_outlet(news_qa):
    sources = {m.id: m.source for m in news_qa.articles()}
    a = news_qa.ask("How many daily riders did the Ledger and the Wire expect on Line 4?")
    assert not a.abstained
    cited = [sources[c.article_id] for c in a.citations]
    assert LEDGER in cited and WIRE in cited
    assert "line4-date-wire" in {c.article_id for c in a.citations}  # the 55,000 estimate
    a = news_qa.ask(
        "How did Vellmark Wire and the Lusk Coastal Courier differ on the number of homes that lost power in the storm?"
    )
    assert {sources[c.article_id] for c in a.citations} >= {WIRE, COURIER}


def test_outlet_not_in_collection_changes_nothing(news_qa):
    q = "According to Reuters, when will Line 4 open?"
    aware = retrieve(news_qa.store, q, outlet_aware=True).hits
    plain = retrieve(news_qa.store, q).hits
    assert [h.chunk.id for h in aware] == [h.chunk.id for h in plain]
    assert len({h.source for h in aware}) > 1
    news_qa.ask(q)  # answers or abstains, without raising


def test_passages_are_judged_without_the_outlets_retrieval_kept_to():
    """A comparison question's outlet names and "differ" are not words its passages must repeat."""
    from articleqa.outlets import without_outlets

    o = ["Vellmark Wire", "Orrin Daily Ledger"]
    assert (
        without_outlets("How did the Ledger and the Wire differ on daily riders?", o)
        == "How did and on daily riders?"
    )
    assert without_outlets("According to Vellmark Wire, how many died?", o) == "how many died?"
    assert without_outlets("How many died?", o) == "How many died?"
