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

MONTH_NAMES = [m.lower() for m in calendar.month_name if m]  # "january" ... "december"
_MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, 1)}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_M = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY_MONTH = rf"(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_M}|{_M.replace('month', 'month2')}\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?)"
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d\d))?"
_PATTERNS = [
    ("since", re.compile(rf"\b(?:since|after|from)\s+(?:the\s+)?{_DAY_MONTH}{_YEAR}\b", re.I)),
    ("before", re.compile(rf"\b(?:before|until|till|by)\s+(?:the\s+)?{_DAY_MONTH}{_YEAR}\b", re.I)),
    ("month", re.compile(rf"\b(?:in|during|throughout|of)\s+(?:early\s+|mid-?\s*|late\s+)?{_M}{_YEAR}\b", re.I)),
    ("since_month", re.compile(rf"\b(?P<word>since|after)\s+{_M}{_YEAR}\b", re.I)),
    ("before_month", re.compile(rf"\b(?:before|until)\s+{_M}{_YEAR}\b", re.I)),
    ("year", re.compile(r"\bin\s+(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("last", re.compile(r"\b(?:(?:in|during|over|within)\s+)?(?:the\s+)?(?:last|past|previous)\s+"
                        r"(?P<unit>week|month|fortnight)\b", re.I)),
]
_SPAN = {"week": 7, "fortnight": 14, "month": 30}


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
        month = _MONTHS[(g.get("month") or g.get("month2")).lower().rstrip(".")]
        year = int(g["year"]) if "year" in g else _year_of(month, ref)
        if year is None:
            return None
        last = calendar.monthrange(year, month)[1]
        if kind == "month":
            return f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last:02d}"
        if kind == "since_month":  # since March: from its first day; after March: from April
            start = date(year, month, 1) if g["word"].lower() == "since" else date(year, month, last) + timedelta(days=1)
            return start.isoformat(), ""
        if kind == "before_month":
            return "", (date(year, month, 1) - timedelta(days=1)).isoformat()
        day = min(int(g.get("day") or g.get("day2")), last)
        when = date(year, month, day)
        return (when.isoformat(), "") if kind == "since" else ("", (when - timedelta(days=1)).isoformat())
    return None


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
