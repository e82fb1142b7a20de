"""Answers ordered by the reports' dates, for the extractive answerer: the latest report, the
first, a timeline, what came before or after an event, and which of two things (or two
outlets' reports) came first.

Each form picks among the sentences that answer about as well as the best one
(``LATEST_RATIO``) by their reports' dates, and says the dates. They apply only where
reports of several dates compete (or the question names an event retrieval dated); an
undated collection answers as before. docs/news.md has examples and the measured effect.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..periods import asks_latest_on_story, day, mentioned_dates
from ..query import time_form
from ..retrieve import ANCHOR_RATIO, topicality
from ..text import coverage, figure_units, numbers, terms
from ..types import Anchor, Answer, Hit, Query, Retrieved, Sighting
from .base import abstention, cite
from .evidence import Evidence, Scored

# "Latest" questions: sentences scoring at least this share of the best one's answer it too,
# and the newest report among them is quoted (news_dated.jsonl, type "latest"). Not measured:
# set by hand in 76f72d3 (docs/news.md measures the latest form as a whole, not this value).
LATEST_RATIO = 0.8
# A report's headline gives way to its own next-best sentence scoring this share of it. Not
# measured: set by hand in 5353da1 (docs/news.md measures the rule, not this value).
LEAD_RATIO = 0.8
# A report whose best passage reranks this close to the best one is on the story: on
# news_timedev, 0.75 was the highest that kept every latest/earliest answer (0.8 lost one;
# docs/news.md, 5353da1).
TOPIC_RATIO = 0.75
# A report on the story whose best sentence scores this share of the best sentence's is a development
# of it (news_timedev timelines: developments named 0.25 at 0.6, 0.31 at 0.3).
TIMELINE_RATIO = 0.3
# A report is on the story of a figure's change when its best passage reranks at least this
# share of the best one's: a report giving the figure in passing ranks lower than one about
# it. On news_timedev ("How much has the Varne Bridge's estimated cost risen?", "... gone
# up?") 0.5 and 0.6 quote every report's figure, 0.7 and 0.75 lose the first budget.
CHANGE_TOPIC_RATIO = 0.6
# At most this many reports in a timeline. Not measured: set by hand in 610d1ca.
TIMELINE_LINES = 6
# A sentence covering an event's terms this close to the anchor sentence states the event
# (the ratio retrieve dates the event by): it is no answer to what came before or after it.
STATES_EVENT = ANCHOR_RATIO

# A report states what an "earliest" question asks when the reader's answerability of its best
# sentence's window is at least this (news_timedev earliest questions: see docs/news.md).
STATES_READ = 0.5

# The words that ask for a timeline, not about the story: "Give me a timeline of Kessel's
# pursuit of Tarrow" is judged as "Kessel's pursuit of Tarrow" (news_timedev, type timeline).
_TIMELINE_WORDS = re.compile(
    r"^\s*(?:(?:please\s+)?(?:give|show|make|write)\s+(?:me\s+)?(?:a\s+)?(?:timeline|chronology)\s+of|timeline\s+of"
    r"|what\s+(?:has\s+)?happened\s+(?:with|to|in)|trace|track|follow)\s+|\s+(?:through|across|over)\s+the\s+"
    r"(?:coverage|reports|weeks|months)\s*(?=[?.!]*\s*$)", re.I,
)  # fmt: skip


def judged_for_form(judged: str) -> str:
    """``judged`` without the words that ask for a timeline (the story is what is judged)."""
    if time_form(judged) != "timeline":
        return judged
    return re.sub(r"\s+([?.!,])", r"\1", _TIMELINE_WORDS.sub(" ", judged)).strip() or judged


def quote(sentence: str) -> str:
    """An article's sentence as a quotation: the reader sees whose words they are."""
    if sentence[:1] in "“\"‘'":  # already a quotation in the article
        return sentence
    return f"“{sentence}”"


def outlet_name(h: Hit) -> str:
    """The outlet that published ``h``, else its title quoted."""
    if h.source:
        return h.source
    t = h.title or h.chunk.article_id
    return f"“{t[:60].rstrip()}…”" if len(t) > 60 else f"“{t}”"


def weekdays_note(s: Scored) -> str:
    """ " (Saturday: 23 May 2026)" for the weekdays a quoted sentence names, resolved against its
    report's date (`periods.mentioned_dates`): "opened on Saturday" says when only with it."""
    own = s.hit.published_at[:10]  # "said on Tuesday" in Tuesday's report needs no date
    found = [(s.text[a:b], d) for a, b, d in mentioned_dates(s.text, s.hit.published_at)
             if s.text[a:b].isalpha() and d.isoformat() != own]  # fmt: skip
    if not found:
        return ""
    return " (" + "; ".join(f"{w}: {day(d)}" for w, d in dict(found).items()) + ")"


class DatedAnswers:
    """The date-ordered answers; `answer` is None when none applies."""

    def __init__(self, evidence: Evidence, threshold: float, idf: Callable[[str], float], name: str):
        self.evidence, self.threshold, self.idf, self.name = evidence, threshold, idf, name

    def answer(
        self,
        question: str,
        q: Query,
        judged: str,
        scored: list[Scored],
        confidence: float,
        retrieved: Retrieved,
    ):
        """The date-ordered answer ``q`` asks for (its forms, `query.FORMS`), or None."""
        anchor = retrieved.anchor
        if len(q.outlets) > 1 and not (anchor and anchor.relation.yes_no):
            # A comparison of outlets ("How did the Ledger and the Wire differ on the cost after
            # the first delay?"): each outlet is quoted; retrieval kept to the reports asked of.
            return None
        if anchor is not None and anchor.relation.yes_no:
            return self._order(question, scored, confidence, retrieved, anchor)
        if anchor is not None and anchor.first is not None:
            return self._around(question, judged, scored, retrieved, anchor)
        if len({s.hit.published_at for s in scored[:10] if s.hit.published_at}) < 2:
            return None  # reports of one date (or undated pages): nothing to order
        when = time_form(q)
        form = {
            "latest": self._latest,
            "earliest": self._earliest,
            "timeline": self._timeline,
            "change": self._change,
        }.get(  # fmt: skip
            when or ""
        )
        return form(question, scored, confidence, retrieved) if form else None

    def _answer(self, question: str, text: str, chosen: list[tuple[Hit, int, int]], retrieved: Retrieved,
                confidence: float, form: str) -> Answer:  # fmt: skip
        citations = [cite(n, h, a, b) for n, (h, a, b) in enumerate(chosen, 1)]
        hits = list(retrieved.hits)
        hits += [h for h, _, _ in chosen if all(h.chunk.id != x.chunk.id for x in hits)]
        return Answer(question, text, False, citations, hits, confidence, self.name, form=form)

    def _latest(self, question: str, scored: list[Scored], confidence: float, retrieved: Retrieved) -> Answer:
        """ "What is the latest on ...": of the reports that answer about as well as the best
        (`reports`), the newest's, "As of <date>", with what the oldest of them said before."""
        # "What's the latest on the strike?" names a story, not a fact: any report on it answers.
        ratio = 0.0 if asks_latest_on_story(question) else LATEST_RATIO
        close = reports(scored, retrieved, ratio) or scored[:1]
        newest = max(close, key=lambda s: (s.hit.published_at, s.score))
        older = [s for s in close if s.hit.published_at and s.hit.published_at < newest.hit.published_at
                 and s.hit.chunk.article_id != newest.hit.chunk.article_id]  # fmt: skip
        when = f"As of {day(newest.hit.published_at)}, " if newest.hit.published_at else ""
        text = f"{when}{outlet_name(newest.hit)} reported: {quote(newest.text)} [1]{weekdays_note(newest)}"
        chosen = [_span(newest)]
        if older:
            first = min(older, key=lambda s: (s.hit.published_at, -s.score))
            chosen.append(_span(first))
            text += f" Earlier ({day(first.hit.published_at)}), {outlet_name(first.hit)} said: {quote(first.text)} [2]"
        return self._answer(question, text, chosen, retrieved, confidence, "latest")

    def _earliest(
        self, question: str, scored: list[Scored], confidence: float, retrieved: Retrieved
    ) -> Answer:
        """ "Who first reported ...", "the original date": the oldest report among the
        reports that answer about as well as the best (`reports`) and, with the reader, the
        reports on the story whose best sentence's window it finds answers: a first report
        states the event in its own words, which need not score near the most-read one's."""
        close = reports(scored, retrieved, LATEST_RATIO) or scored[:1]
        answerability = getattr(self.evidence, "answerability", None)
        if answerability is not None:
            on_story = [s for s in reports(scored, retrieved, 0.0) if s not in close]
            close += [
                s
                for s, p in zip(on_story, answerability(question, on_story), strict=True)
                if p >= STATES_READ
            ]
        first = min(close, key=lambda s: (s.hit.published_at or "9999", -s.score))
        when = (
            f"First reported on {day(first.hit.published_at)}, by {outlet_name(first.hit)}: "
            if first.hit.published_at
            else ""
        )
        text = f"{when}{quote(first.text)} [1]{weekdays_note(first)}"
        return self._answer(question, text, [_span(first)], retrieved, confidence, "earliest")

    def _timeline(
        self, question: str, scored: list[Scored], confidence: float, retrieved: Retrieved
    ) -> Answer:
        """ "What happened with ...": one cited line per report on the story, oldest first (its
        best sentence, when that addresses the question: `reports`)."""
        lines = sorted(
            reports(scored, retrieved, TIMELINE_RATIO), key=lambda s: (s.hit.published_at, s.start)
        )
        lines = lines[:TIMELINE_LINES]
        if len(lines) < 2:
            return self._latest(question, scored, confidence, retrieved)
        text = "\n".join(f"- {day(s.hit.published_at)}, {outlet_name(s.hit)}: {quote(s.text)} [{n}]{weekdays_note(s)}"
                         for n, s in enumerate(lines, 1))  # fmt: skip
        return self._answer(question, text, [_span(s) for s in lines], retrieved, confidence, "timeline")

    def _change(self, question: str, scored: list[Scored], confidence: float, retrieved: Retrieved) -> Answer:
        """ "How much has the estimated cost risen?": each report's figure, oldest first, with its
        date and outlet (`figures`)."""
        lines = figures(scored, retrieved)[:TIMELINE_LINES]
        if len(lines) < 2:
            return self._latest(question, scored, confidence, retrieved)
        text = "\n".join(f"- {day(s.hit.published_at)}, {outlet_name(s.hit)}: {quote(s.text)} [{n}]"
                         for n, s in enumerate(lines, 1))  # fmt: skip
        return self._answer(question, text, [_span(s) for s in lines], retrieved, confidence, "change")

    def _around(self, question: str, judged: str, scored: list[Scored], retrieved: Retrieved, anchor: Anchor):
        """ "What did Kessel do after Tarrow rejected its offer?": of the sentences that answer
        but don't state the event itself, the first report after it (the last before it, for
        "before"), cited with the event's first report."""
        event = anchor.first
        if event is None:
            return None
        states = self._stating(anchor.relation.event, event)
        rest = [s for s in scored if not states(s)]
        conf = self.evidence.confidence(judged, rest) if rest else 0.0
        if conf < self.threshold:
            return None
        close = [s for s in rest if s.score >= LATEST_RATIO * rest[0].score and s.hit.published_at] or rest[
            :1
        ]
        rel = anchor.relation.rel
        after = rel == "after"
        pick = (min if after else max)(
            close, key=lambda s: (s.hit.published_at, -s.score if after else s.score)
        )
        text = (f"{day(pick.hit.published_at)}, {outlet_name(pick.hit)}: {quote(pick.text)} [1]{weekdays_note(pick)} "
                f"That was {rel} {outlet_name(event.hit)}'s report of {day(event.date)}: {quote(event.text)} [2]")  # fmt: skip
        return self._answer(question, text, [_span(pick), _span(event)], retrieved, conf, rel)

    def _stating(self, statement: str, seen: Sighting) -> Callable[[Scored], bool]:
        """A test of whether a sentence states what ``seen`` does: it is ``seen``, or covers
        ``statement``'s terms ``STATES_EVENT`` as well."""
        s_terms = list(dict.fromkeys(terms(statement)))
        least = STATES_EVENT * coverage(s_terms, set(terms(seen.text)), self.idf)
        at = (seen.hit.chunk.article_id, seen.start)

        def states(s: Scored) -> bool:
            return (s.hit.chunk.article_id, s.start) == at or coverage(
                s_terms, set(terms(s.text)), self.idf
            ) >= least

        return states

    def _order(
        self, question: str, scored: list[Scored], confidence: float, retrieved: Retrieved, anchor: Anchor
    ):
        """ "Did A happen before B?" / "Did the Wire report it before the Ledger?": yes or no from
        the first report of each (retrieval found them), both quoted, oldest first."""
        if anchor.outlet:
            firsts = self._outlet_firsts(scored, retrieved, anchor)
            if firsts is None:
                return None
            a, b = firsts
        elif anchor.first is None or anchor.subject is None:
            # One of the two was never reported: no order to give.
            return abstention(question, retrieved.hits, confidence, self.name)
        else:
            a, b = anchor.subject, anchor.first
        da, db = a.date, b.date
        if da == db:
            verdict = f"Both were first reported on {day(da)}:"
        else:
            verdict = "Yes." if (da < db) == (anchor.relation.rel == "before") else "No."
        lines = sorted([a, b], key=lambda s: s.date)
        text = (
            verdict
            + " "
            + " Then ".join(
                f"{day(s.date)}, {outlet_name(s.hit)}: {quote(s.text)} [{n}]" for n, s in enumerate(lines, 1)
            )
        )
        return self._answer(question, text, [_span(s) for s in lines], retrieved, confidence, "order")

    def _outlet_firsts(
        self, scored: list[Scored], retrieved: Retrieved, anchor: Anchor
    ) -> tuple[Sighting, Sighting] | None:
        """The report of the subject's outlet and of the outlet the question compares it with:
        each outlet's best-ranked passage (retrieval searched each named outlet on its own and
        reranked by the question), quoted by its article's best sentence. Sentence scores
        alone miss a telling in other words ("will not open on April 18 after all" is the
        Ledger's report of the delay)."""
        # The anchor resolves the relation of the Query retrieval searched for: its main
        # clause's outlets are that Query's.
        assert retrieved.query is not None and retrieved.query.relation == anchor.relation
        subject = [o for o in retrieved.query.event_outlets if o != anchor.outlet]
        if not subject:
            return None
        out = []
        for outlet in (subject[0], anchor.outlet):
            own = [h for h in retrieved.candidates() if h.source == outlet and h.published_at]
            if not own:
                return None
            top = max(own, key=topicality).chunk.article_id
            best = next((s for s in scored if s.hit.chunk.article_id == top), None)
            if best is None or not best.hit.published_at:
                return None
            out.append(Sighting(best.hit, best.start, best.end, best.text))
        return out[0], out[1]


def reports(scored: list[Scored], retrieved: Retrieved, ratio: float) -> list[Scored]:
    """One sentence per dated report on the question's story: its best sentence, when that
    scores at least ``ratio`` of the best sentence's score and the report's best passage
    ranks at least ``TOPIC_RATIO`` of the best passage's `topicality` (a report on the story
    can say "takeover" where the question says "bid": the whole passage tells)."""
    top, best_passage = _best_passages(retrieved)
    out: dict[str, Scored] = {}
    for s in scored:
        aid = s.hit.chunk.article_id
        on_story = top.get(aid, best_passage) >= TOPIC_RATIO * best_passage
        if aid not in out and s.hit.published_at and on_story and s.score >= ratio * scored[0].score:
            out[aid] = s
    return [_lead_over_headline(s, scored) for s in out.values()]


def figures(scored: list[Scored], retrieved: Retrieved) -> list[Scored]:
    """Per dated report on the story, oldest first, its best sentence giving a figure (no date)
    of what the best such sentence counts (`figure_units`: "million pounds"), when that
    answers at least ``TIMELINE_RATIO`` as well and the report's best passage's `topicality` is
    at least ``CHANGE_TOPIC_RATIO`` of the best passage's."""
    figured = [s for s in scored if numbers(s.text, dates=False)]
    if not figured:
        return []
    best = figured[0]
    units = figure_units(best.text)
    top, best_passage = _best_passages(retrieved)
    out: dict[str, Scored] = {}
    for s in figured:
        aid = s.hit.chunk.article_id
        if aid in out or not s.hit.published_at or s.score < TIMELINE_RATIO * best.score:
            continue
        if top.get(aid, best_passage) >= CHANGE_TOPIC_RATIO * best_passage and figure_units(s.text) & units:
            out[aid] = s
    return sorted(out.values(), key=lambda s: (s.hit.published_at, s.start))


def _best_passages(retrieved: Retrieved) -> tuple[dict[str, float], float]:
    """Each article's best passage `topicality` among the candidates, and the best of all."""
    top: dict[str, float] = {}
    for h in retrieved.candidates():
        top[h.chunk.article_id] = max(top.get(h.chunk.article_id, 0.0), topicality(h))
    return top, max(top.values(), default=0.0)


def _lead_over_headline(s: Scored, scored: list[Scored]) -> Scored:
    """A report's headline gives way to its own next-best sentence when that scores
    ``LEAD_RATIO`` of it: the headline compresses what the lead states with its figures and
    dates. (Only where the headline holds no figure lost more on news_timedev: timelines
    named 0.46 of their developments against 0.56.)"""
    if _norm_title(s.text) != _norm_title(s.hit.title):
        return s
    aid = s.hit.chunk.article_id
    lead = next((x for x in scored if x.hit.chunk.article_id == aid and x is not s), None)
    return lead if lead is not None and lead.score >= LEAD_RATIO * s.score else s


def _norm_title(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _span(s: Scored | Sighting) -> tuple[Hit, int, int]:
    return s.hit, s.start, s.end
