"""The period a question asks about ("in March", "last week", "since 14 April", "before
May"), as an inclusive date range, resolved against the collection's newest article.

Retrieval (`retrieve(..., time_aware=True)`) keeps to that range when the caller gave no
dates of their own; a month without a year is the latest such month not after the newest
article, and "last week" / "last month" count back from the newest article (not from today:
a collection is read as of its newest report).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from .types import Relation

# Month names live here (text.py, answer/evidence.py and ingest/readers.py take them from here).
MONTH_NAMES = [m.lower() for m in calendar.month_name if m]  # "january" ... "december"
MONTH_PATTERN = "|".join(MONTH_NAMES)  # "january|february|...|december", for regular expressions
# Each month's number by its lower-case name or three-letter abbreviation ("may", "dec").
MONTH_NUMBERS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
MONTH_NUMBERS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_M = r"(?P<month>" + "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True)) + r")\.?"
_DAY_MONTH = rf"(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_M}|{_M.replace('month', 'month2')}\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?)"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
_PATTERNS = [
    ("since", re.compile(rf"\b(?:since|after|from)\s+(?:the\s+)?{_DAY_MONTH}{_YEAR}\b", re.I)),
    ("before", re.compile(rf"\b(?:before|until|till|by)\s+(?:the\s+)?{_DAY_MONTH}{_YEAR}\b", re.I)),
    (
        "month",
        re.compile(rf"\b(?:in|during|throughout|of)\s+(?:early\s+|mid-?\s*|late\s+)?{_M}{_YEAR}\b", re.I),
    ),
    ("since_month", re.compile(rf"\b(?P<word>since|after)\s+{_M}{_YEAR}\b", re.I)),
    ("before_month", re.compile(rf"\b(?:before|until)\s+{_M}{_YEAR}\b", re.I)),
    ("year", re.compile(r"\bin\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    (
        "last",
        re.compile(
            r"\b(?:(?:in|during|over|within)\s+)?(?:the\s+)?(?:last|past|previous)\s+"
            r"(?P<unit>week|month|fortnight)\b",
            re.I,
        ),
    ),
]
_SPAN = {"week": 7, "fortnight": 14, "month": 30}


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_day(value: str) -> bool:
    """Whether ``value`` is a real date written YYYY-MM-DD (what ``since``/``until`` filters
    take, from the CLI, the HTTP API and MCP alike)."""
    try:
        return bool(_ISO_DAY.fullmatch(value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def period(question: str, newest: str) -> tuple[str, str] | None:
    """(since, until) ISO dates the question restricts itself to, or None. ``newest`` is the
    collection's newest publication date (ISO); without it only explicit years resolve."""
    ref = _iso(newest)
    for kind, rx in _PATTERNS:
        m = rx.search(question)
        if not m:
            continue
        g = {k: v for k, v in m.groupdict().items() if v}
        if kind == "last":
            if ref is None:
                return None
            return (ref - timedelta(days=_SPAN[g["unit"].lower()] - 1)).isoformat(), ref.isoformat()
        if kind == "year":
            return f"{g['year']}-01-01", f"{g['year']}-12-31"
        month = MONTH_NUMBERS[(g.get("month") or g.get("month2")).lower().rstrip(".")]
        year = int(g["year"]) if "year" in g else _year_of(month, ref)
        if year is None:
            return None
        last = calendar.monthrange(year, month)[1]
        if kind == "month":
            return f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last:02d}"
        if kind == "since_month":  # since March: from its first day; after March: from April
            start = (
                date(year, month, 1)
                if g["word"].lower() == "since"
                else date(year, month, last) + timedelta(days=1)
            )
            return start.isoformat(), ""
        if kind == "before_month":
            return "", (date(year, month, 1) - timedelta(days=1)).isoformat()
        day = min(int(g.get("day") or g.get("day2")), last)
        when = date(year, month, day)
        return (when.isoformat(), "") if kind == "since" else ("", (when - timedelta(days=1)).isoformat())
    return None


def period_note(question: str, span: tuple[str, str], newest: str) -> str:
    """What a relative period or a year-less month was read as, to say in the answer ("“last
    week” read as 23–29 May 2026, the week up to the newest article"); "" when the question
    dated itself fully ("in May 2026", "since 14 April 2026")."""
    m = next((m for _, rx in _PATTERNS if (m := rx.search(question))), None)
    if m is None or m.groupdict().get("year"):
        return ""
    phrase = m.group(0).strip()
    since, until = (_iso(d) for d in span)
    whole_month = (since and until and since.day == 1 and (since.year, since.month) == (until.year, until.month)
                   and until.day == calendar.monthrange(until.year, until.month)[1])  # fmt: skip
    if whole_month:
        read = since.strftime("%B %Y")
    elif since and until:
        read = f"{day(since)} to {day(until)}"
    elif since:
        read = f"from {day(since)}"
    else:
        read = f"up to {day(until)}" if until else ""
    ref = _iso(newest)
    tail = f", counted back from the newest article, of {day(ref)}" if ref else ""
    return f"“{phrase}” read as {read}{tail}" if read else ""


def day(when: date | str, short: bool = False) -> str:
    """A date as "23 May 2026" (``short``: "2 Feb 2026"): the one way dates are written in
    answers, notes and the UI. An ISO string is read by its first ten characters; one that
    is no full date ("2026-05") is returned as given."""
    if isinstance(when, str):
        try:
            when = date.fromisoformat(when[:10])
        except ValueError:
            return when
    return when.strftime("%-d %b %Y" if short else "%-d %B %Y")


def without_period(question: str) -> str:
    """The question with the period it names taken out ("What went wrong in April?" -> "What
    went wrong?"): once retrieval keeps to the period, the answer is judged on the rest (the
    date is the article's, not a word its sentences need to repeat)."""
    for _, rx in _PATTERNS:
        m = rx.search(question)
        if m:
            return re.sub(r"\s+([?.!,])", r"\1", (question[: m.start()] + question[m.end() :])).strip()
    return question


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return None


def _year_of(month: int, ref: date | None) -> int | None:
    """The year of the latest ``month`` not after ``ref``."""
    if ref is None:
        return None
    return ref.year if month <= ref.month else ref.year - 1


# ---- events a question dates itself by ("after the court ruled") ---------------------------
_REL = re.compile(
    r"^(?P<main>.+?)\s*,?\s+(?P<rel>before|after|since|until|till|prior to|following|by the time)\s+"
    r"(?P<event>[^?!]+?)\s*[?.!]*\s*$", re.I,
)  # fmt: skip
_AUX = re.compile(r"^(?:did|does|do|was|were|had|has|have|is|are)\s+", re.I)
# "after that", "before then": no event of their own to place the question by.
_VAGUE = re.compile(
    r"^(?:that|this|then|it|them|those|these|now|today|yesterday|the (?:event|news|announcement))\b", re.I
)
_REL_WORD = {"since": "after", "following": "after", "until": "before", "till": "before", "prior to": "before",
             "by the time": "before"}  # fmt: skip


# "Latest" is detected here only: the words that ask for the newest report, and the questions
# that ask for nothing else ("What's the latest on the strike?").
_NEWEST = r"latest|newest|most recent"
_LATEST = re.compile(
    rf"\b(?:{_NEWEST}|most recently|current(?:ly)?|now|so far|to date|as of now|still)\b", re.I
)
_ON_STORY = re.compile(rf"^\s*(?:what'?s|what is|what are|any|give me|tell me)\s+(?:the\s+)?(?:{_NEWEST})"
                       r"(?:\s+(?:news|update|updates|developments?|reports?))?\s+(?:on|about|with|in|from)\b", re.I)  # fmt: skip


def asks_latest(question: str) -> bool:
    """Does the question ask for the current state of a developing story?"""
    return bool(_LATEST.search(question))


def asks_latest_on_story(question: str) -> bool:
    """Does the question ask only for the latest on a story ("What's the latest on the Saltby
    strike?", "Give me the latest news about the bid"), not for one fact's current value?"""
    return bool(_ON_STORY.match(question))


def relation(question: str) -> Relation | None:
    """The event a question is placed before or after, or None (also when what follows
    "before"/"after" is a date or period, which `period` reads, and when the question asks
    for the latest: "still without power after the storm" is about now)."""
    m = _REL.match(question.strip())
    if not m or _VAGUE.match(m["event"]) or asks_latest(m["main"]):
        return None
    rel = m["rel"].lower()
    if any(rx.search(f"{rel} {m['event']}") for _, rx in _PATTERNS):
        return None  # "after 14 April", "before May": a period
    if len(m["event"].split()) < 2 and not m["event"][:1].isupper():
        return None
    main, yes_no = m["main"], bool(_AUX.match(m["main"]))
    if yes_no:
        main = _AUX.sub("", main, count=1)
    return Relation(_REL_WORD.get(rel, rel), main, m["event"], yes_no)


# ---- dates an article mentions without a year ----------------------------------------------
_WEEKDAYS = [d.lower() for d in calendar.day_name]
_MENTION = re.compile(rf"\b(?:{_DAY_MONTH})(?!,?\s+(?:19|20)\d\d)\b", re.I)
# A weekday is a date only right after a verb: past ("ruled on Tuesday", "said last Monday")
# or after "will" ("will open on Saturday"); "talks on Wednesday" could be either.
_ON_WEEKDAY = re.compile(r"\b(?P<verb>[a-z]+)\s+(?:on\s+|last\s+|next\s+)?(?P<wd>" + "|".join(_WEEKDAYS) + r")\b(?!,?\s+(?:\d|"
                         + "|".join(MONTH_NAMES) + r"))", re.I)  # fmt: skip
_PAST_IRREGULAR = frozenset(
    "said told met held began rose fell struck won lost made came went took gave found left put ran saw sent set "
    "shut spoke stood wrote hit cut paid led broke sold bought fought kept meant rode drew flew grew threw".split()
)
_FUTURE = re.compile(
    r"\b(?:will|would|shall|is due to|are due to|is expected to|are expected to|is to|are to)(?:\s+\w+){1,4}$",
    re.I,
)
NEAREST_DAYS = 183  # a year-less date is the one nearest the publication date, within half a year


def mentioned_dates(text: str, published: str) -> list[tuple[int, int, date]]:
    """The dates ``text`` names without a year ("May 23", "on Saturday"), as (start, end,
    date), resolved against its article's publication date: a month and day is the one
    nearest it (within ``NEAREST_DAYS``); a weekday is the one in the week before it, or
    after it in a sentence about the future ("will open on Saturday"); an "on Monday"
    published on a Monday is that day. Nothing without a publication date."""
    ref = _iso(published)
    if ref is None:
        return []
    out = []
    for m in _MENTION.finditer(text):
        g = {k: v for k, v in m.groupdict().items() if v}
        month = MONTH_NUMBERS[(g.get("month") or g.get("month2")).lower().rstrip(".")]
        dd = int(g.get("day") or g.get("day2"))
        near = [d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := _safe_date(y, month, dd))]
        best = min(near, key=lambda d: abs((d - ref).days), default=None)
        if best and abs((best - ref).days) <= NEAREST_DAYS:
            out.append((m.start(), m.end(), best))
    for m in _ON_WEEKDAY.finditer(text):
        verb, said = m["verb"].lower(), m.group(0).lower()
        before = text[max(0, m.start() - 40) : m.start()]
        ahead = " next " in f" {said} " or bool(_FUTURE.search(before + verb))
        past = " last " in f" {said} " or verb in _PAST_IRREGULAR or (verb.endswith("ed") and not ahead)
        if not (ahead or past):
            continue  # "talks on Wednesday": this week's or next week's, the text doesn't say
        back = (ref.weekday() - _WEEKDAYS.index(m["wd"].lower())) % 7
        when = ref + timedelta(days=(7 - back) % 7 or 7) if ahead else ref - timedelta(days=back)
        out.append((m.start("wd"), m.end("wd"), when))
    return sorted(out)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
