"""Query analysis: a question (and the chat history before it) → a typed `Query`, once per
question, before any search. Retrieval (`retrieve.retrieve`) and both answerers read the
question's parts, the outlets and the period it names, the event it is placed before or
after and the answer form it asks for from it, instead of each reading the words again.

The answer forms are registered here, in `FORMS`, in the order they are tried: a form is a
name (`Answer.form`), how a question asks for it (``detect``, reading the `Query`) and what
it asks for (``asks``). `analyze` puts every form a question asks for on ``Query.forms``.
The extractive answerer's handler for each is in `answer/dated.py`'s ``DatedAnswers.answer``
(the time forms by name; "after", "before" and "order" once retrieval dated the event, a
comparison of outlets by the extractive answerer quoting each); the generative answerer
puts the name on its `Answer`. A new form is one entry here and its handler there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .config import Config
from .index.contracts import CorpusStats
from .outlets import named_outlets, without_outlets
from .periods import asks_latest, period, period_note, relation, without_period
from .text import question_parts
from .types import Query, Retrieved

# Any "first": on the dated set, limiting it to "first reported", "who first" etc. lost answers
# ("the first delay" is asked about its first report too).
_EARLIEST = re.compile(
    r"\b(?:first|earliest|originally|original|initially|initial|broke the (?:news|story))\b", re.I
)
_TIMELINE = re.compile(r"\b(?:timeline|what (?:has )?happened (?:with|to|in)|how did .+ (?:develop|unfold|change)"
                       r"|(?:developments|chronology) (?:of|in)|(?:trace|track|follow) .+ (?:through|across|over))\b", re.I)  # fmt: skip

# How a figure moved across reports ("How much has the estimated cost risen?", "How has the
# death toll changed?"): each report's figure, with its date.
_CHANGE = re.compile(
    r"\bhow\s+(?:much|far|many|fast|sharply|steeply)\s+(?:more\s+)?(?:has|have|had|did|is|are)\b.*\b"
    r"(?:ris(?:e|en)|rose|increas\w*|gr[eo]wn?|grow|f[ae]ll(?:en)?|dropp?\w*|climb\w*|jump\w*|swell\w*|soar\w*"
    r"|went|gone|go|chang\w*|mov\w*|shr[iau]nk\w*|declin\w*)\b"
    r"|\bhow\s+(?:has|have|did)\b.+\b(?:figure|cost|estimate|toll|number|price|total|count|bill)s?\b.*\bchang\w*",
    re.I,
)


@dataclass(frozen=True)
class Form:
    """An answer form: its name (`Answer.form`), whether a question asks for it, what it is."""

    name: str
    detect: Callable[[Query], bool]
    asks: str


def _yes_no(q: Query) -> bool:
    return q.relation is not None and q.relation.yes_no


# Tried in this order; the first that detects names the form. "order", "compare", "after" and
# "before" come from the analysis (a relation, outlets); the rest from the question's words.
FORMS: tuple[Form, ...] = (
    Form("order", _yes_no, "which of two things (or two outlets' reports) came first"),
    Form("compare", lambda q: len(q.outlets) > 1, "how the outlets it names reported it, each quoted"),
    Form("after", lambda q: q.relation is not None and q.relation.rel == "after", "what came after an event"),
    Form(
        "before", lambda q: q.relation is not None and q.relation.rel == "before", "what came before an event"
    ),
    Form("timeline", lambda q: bool(_TIMELINE.search(q.text)), "the story's developments in date order"),
    Form(
        "change", lambda q: bool(_CHANGE.search(q.text)), "each report's figure, oldest first, with its date"
    ),
    Form("latest", lambda q: asks_latest(q.text), "the newest report's answer"),
    Form("earliest", lambda q: bool(_EARLIEST.search(q.text)), "the first report's answer"),
)
# The forms that order a developing story's reports by date, read from the words alone.
TIME_FORMS = ("timeline", "change", "latest", "earliest")


def time_form(question: str | Query) -> str | None:
    """ "timeline", "change", "latest", "earliest" or None: how a question about a developing story
    wants its reports ordered (of a `Query`, the first of its forms that orders them; of a
    text, read from its words alone)."""
    if isinstance(question, Query):
        return next((f for f in question.forms if f in TIME_FORMS), None)
    q = Query(question, question, [question], [])
    return next((f.name for f in FORMS if f.name in TIME_FORMS and f.detect(q)), None)


def analyze(
    question: str,
    history: list[dict] | None,
    cfg: Config,
    stats: CorpusStats,
    *,
    rewrite: Callable[[str, list[dict]], str] | None = None,
) -> Query:
    """``question`` understood against the collection ``stats`` describes (its outlets, its
    newest date): a follow-up is first rewritten to stand alone by ``rewrite(question,
    history)`` (the `Assistant` passes its chat model's; without one, or without history, the
    question stands as asked). ``cfg`` is the configuration the question is asked under."""
    text = rewrite(question, history) if history and rewrite else question
    newest = stats.newest_date()
    span = period(text, newest)
    rel = relation(text)
    outlets = stats.outlets()
    q = Query(
        asked=question,
        text=text,
        parts=question_parts(text),
        outlets=named_outlets(text, outlets),
        period=span,
        period_note=period_note(text, span, newest) if span else "",
        relation=rel,
        event_outlets=named_outlets(rel.main, outlets) if rel else [],
    )
    q.forms = tuple(f.name for f in FORMS if f.detect(q))
    return q


def focus(q: Query, *, outlets: bool = False, period: bool = False, event: bool = False) -> str | None:
    """The words the passages are judged on, given what retrieval kept to: without the outlets
    it restricted the search to (``outlets``), without the period it kept to (``period``), or,
    for a question placed after or before an event whose reports it kept to (``event``), the
    main clause without its outlets (the dates answer the rest). None: the question itself."""
    if event and q.relation is not None:
        return without_outlets(q.relation.main, q.event_outlets)
    judged = without_outlets(q.text, q.outlets) if outlets and q.outlets else None
    if period:
        return without_period(judged or q.text)
    return judged


def query_for(retrieved: Retrieved, question: str, cfg: Config, stats: CorpusStats) -> Query:
    """The `Query` an answerer asked ``question`` of ``retrieved`` answers: the one retrieval
    searched for, or (another question asked of the same passages) that question's own."""
    q = retrieved.query
    if q is not None and q.text == question:
        return q
    return analyze(question, None, cfg, stats)


def judged(q: Query, retrieved: Retrieved) -> str:
    """The words the passages are judged on, for ``q`` answered from ``retrieved``: without the
    period, outlets or event the search kept to (`focus`), which the passages' dates and
    outlets answer, not their words; the question itself when retrieved for another one."""
    if retrieved.query is not q:
        return q.text
    kept = retrieved.kept
    return focus(q, outlets="outlets" in kept, period="period" in kept, event="event" in kept) or q.text


def period_said(q: Query, retrieved: Retrieved) -> str:
    """How the period the search kept to was read (``Query.period_note``), to say in the
    answer; "" when the search kept to none."""
    return q.period_note if retrieved.query is q and "period" in retrieved.kept else ""
