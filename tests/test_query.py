"""Query analysis (query.py): a question read once into a `Query` that retrieval and the
answerers take."""

import pytest

from articleqa.config import Config
from articleqa.outlets import without_outlets
from articleqa.query import FORMS, analyze, focus, time_form
from articleqa.types import Query, Relation

LEDGER, WIRE = "Orrin Daily Ledger", "Vellmark Wire"


class Stats:
    """What analysis reads of a collection: its outlets and its newest date."""

    def outlets(self):
        return sorted([LEDGER, WIRE, "Saltby Business Times"])

    def newest_date(self):
        return "2026-05-29"


def read(question: str, history=None, rewrite=None) -> Query:
    return analyze(question, history, Config(), Stats(), rewrite=rewrite)


@pytest.mark.parametrize(
    ("question", "form"),
    [
        ("What is the latest on Kessel's bid for Tarrow Instruments?", "latest"),
        ("Which outlet first reported the opening date?", "earliest"),
        ("Give me a timeline of Kessel's pursuit of Tarrow Instruments.", "timeline"),
        ("What did Kessel do after Tarrow rejected its first offer?", "after"),
        ("What had delayed Line 4 before the fire inspectors held it up?", "before"),
        ("Did the Labour Court rule before the dockworkers accepted a pay deal?", "order"),
        ("How did the Ledger and the Wire differ on Line 4's expected daily ridership?", "compare"),
        ("What went wrong at the plant in April?", ""),
        ("Which company makes the signalling, and who pays for the delay?", ""),
        ("What is the capital of Norway?", ""),
    ],
)
def test_every_form_is_read_from_the_question(question, form):
    q = read(question)
    assert q.form == form and q.asked == q.text == question
    assert form == "" or form in {f.name for f in FORMS}


def test_the_parts_outlets_period_and_relation():
    two = read("Which company makes the signalling, and who pays for the delay?")
    assert two.parts == ["Which company makes the signalling", "who pays for the delay?"]
    plain = read("What is the capital of Norway?")
    assert plain.parts == [plain.text] and plain.outlets == [] and plain.period is None
    assert plain.relation is None and plain.period_note == ""

    cmp = read("How did the Ledger and the Wire differ on Line 4's expected daily ridership?")
    assert cmp.outlets == [LEDGER, WIRE]
    assert focus(cmp, outlets=True) == without_outlets(cmp.text, [LEDGER, WIRE]) != cmp.text
    assert focus(cmp) is None  # nothing kept to: the question itself

    april = read("What went wrong at the plant in April?")
    assert april.period == ("2026-04-01", "2026-04-30")
    assert april.period_note.startswith("“in April” read as April 2026")
    assert focus(april, period=True) == "What went wrong at the plant?"
    week = read("What did the Ledger report last week?")
    assert week.period == ("2026-05-23", "2026-05-29") and "last week" in week.period_note
    assert week.outlets == [LEDGER]

    after = read("What did Kessel do after Tarrow rejected its first offer?")
    assert after.relation == Relation("after", "What did Kessel do", "Tarrow rejected its first offer", False)
    assert focus(after, event=True) == "What did Kessel do"
    order = read("Did Vellmark Wire report Line 4's second delay before the Orrin Daily Ledger?")
    assert order.relation is not None and order.relation.yes_no and order.form == "order"
    assert order.event_outlets == [WIRE]


def test_a_follow_up_is_rewritten_once_to_stand_alone():
    calls = []

    def rewrite(question, history):
        calls.append(question)
        return "When does Line 4 open?"

    history = [{"role": "user", "content": "Tell me about Line 4."}, {"role": "assistant", "content": "..."}]
    q = read("When does it open?", history, rewrite)
    assert (q.asked, q.text, calls) == (
        "When does it open?",
        "When does Line 4 open?",
        ["When does it open?"],
    )
    assert read("When does it open?", None, rewrite).text == "When does it open?" and len(calls) == 1


def test_time_form_is_the_registrys():
    assert time_form("What happened with the Orrin metro Line 4?") == "timeline"
    assert time_form("What is Kessel's current offer price?") == "latest"
    assert time_form("What was the original opening date of Line 4?") == "earliest"
    assert time_form("How did the Ledger and the Wire differ?") is None  # a comparison is no time form


def test_retrieval_and_the_answerers_take_a_query(sample_qa):
    from articleqa.retrieve import retrieve

    store = sample_qa.store
    question = "Which company makes the signalling, and who pays for the delay?"
    q = analyze(question, None, store.cfg, store)
    got = retrieve(store, q, 5, expand_parts=True, outlet_aware=True, time_aware=True)
    same = retrieve(store, question, 5, expand_parts=True, outlet_aware=True, time_aware=True)
    assert got.query is q and got.question == q.text
    assert [h.chunk.id for h in got.hits] == [h.chunk.id for h in same.hits]
    answer = sample_qa.answerer.events(q.text, got, stream=False)
    assert [ev.kind for ev in answer][-1] == "answer"


def test_a_question_is_analysed_once_per_ask(sample_qa, monkeypatch):
    import articleqa.assistant
    import articleqa.query
    import articleqa.retrieve

    calls = []
    real = articleqa.query.analyze

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    # Retrieval analyses a question's text only when it isn't handed a Query.
    monkeypatch.setattr(articleqa.assistant, "analyze", counted)
    monkeypatch.setattr(articleqa.retrieve, "analyze", counted)
    sample_qa.ask("What did the Ledger report about the storm last week?")
    assert len(calls) == 1
    list(sample_qa.ask_stream("Which company makes the signalling, and who pays for the delay?"))
    assert len(calls) == 2


def test_the_words_judged_follow_what_the_search_kept_to():
    import numpy as np

    from articleqa.query import judged, period_said
    from articleqa.types import Retrieved

    q = read("What did the Ledger report last week?")
    vec = np.zeros(3, dtype=np.float32)
    none = Retrieved(q.text, [], vec, query=q)
    assert judged(q, none) == q.text and period_said(q, none) == ""
    outlet = Retrieved(q.text, [], vec, query=q, kept=frozenset({"outlets"}))
    assert judged(q, outlet) == without_outlets(q.text, [LEDGER]) and period_said(q, outlet) == ""
    both = Retrieved(q.text, [], vec, query=q, kept=frozenset({"outlets", "period"}))
    assert judged(q, both) == focus(q, outlets=True, period=True) and "last week" not in judged(q, both)
    assert period_said(q, both) == q.period_note != ""
    other = read("What did the Wire report?")  # asked of passages retrieved for another question
    assert judged(other, both) == other.text and period_said(other, both) == ""
