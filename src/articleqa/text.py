"""Text utilities shared by chunking and answering: sentence spans, terms, answer types.

Everything here works on character offsets into the original text so that what is
quoted can always be traced back to ``article.text[start:end]``.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import Stemmer  # PyStemmer: English Snowball stemming for BM25 and answer scoring

from .periods import MONTH_PATTERN

# Closing punctuation may follow the full stop: ." .” .’ .) and so on.
_SENT_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9À-Ý]")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "gov", "sen", "rep",
    "lt", "col", "sgt", "capt", "inc", "ltd", "co", "corp", "vs", "etc", "no", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
    "e.g", "i.e", "a.m", "p.m", "approx", "dept", "est", "fig",
}  # fmt: skip


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences; returns (start, end) offsets, trimmed.

    Line breaks always end a sentence (news captions and headlines carry no full stop);
    inside a line a sentence ends at . ! or ? followed by a capital, digit or quote,
    unless the word before it is a known abbreviation or a single initial.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        ls, le = start + line.start(), start + line.end()
        cut = ls
        for m in _SENT_END.finditer(text, ls, le):
            if not _NEXT_STARTS_SENTENCE.match(text, m.end(), le):
                continue
            word = re.search(r"([\w.]+)[.!?]*$", text[cut : m.start() + 1])
            w = word.group(1).lower().rstrip(".") if word else ""
            if text[m.start()] == "." and (w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha())):
                continue
            spans.append((cut, m.end()))
            cut = m.end()
        spans.append((cut, le))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom whose why will with would you your yours yourself
    yourselves also did does many much one two new said say says according""".split()
    # The "s" a number's possessive or plural leaves ("Line 4's", "the 1990s"): no content, and
    # as a term no article has, it made "Line 4's opening" look like a question about
    # something the collection never mentions.
    + ["s"]
)

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def raw_words(text: str) -> list[str]:
    """Word tokens as written (numbers kept whole)."""
    return _WORD.findall(text)


def _norm(word: str) -> str:
    return word.lower().replace("’", "'")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (numbers kept whole)."""
    return [_norm(w) for w in raw_words(text)]


def term(raw_word: str) -> str | None:
    """The stemmed term of one raw word, or None for a stop word (``terms`` per word)."""
    w = _norm(raw_word)
    return None if w in STOPWORDS else _stemmer().stemWord(w)


def terms(text: str) -> list[str]:
    """Stemmed content terms: what lexical matching compares."""
    ws = [w for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(ws)


@lru_cache(maxsize=4096)
def passage_terms(text: str) -> tuple[frozenset[str], tuple[tuple[int, int, frozenset[str]], ...]]:
    """A passage's content terms and each sentence's ``(start, end, terms)``.

    Reranking and answering both compare the question with every sentence of the top
    passages: cached, each passage is split and stemmed once per process, not once per
    stage and question (profiled: ~6 ms of a 50 ms answer). Sentence boundaries fall on
    whitespace, so the passage's terms are exactly the union of its sentences' terms.
    """
    sents = tuple((a, b, frozenset(terms(text[a:b]))) for a, b in sentence_spans(text))
    return frozenset().union(*(t for _, _, t in sents)), sents


def coverage(q_terms: list[str], text_terms: set[str], idf) -> float:
    """IDF-weighted share of the (query) terms ``q_terms`` present in ``text_terms``."""
    if not q_terms:
        return 0.0
    total = sum(idf(t) for t in q_terms)
    return sum(idf(t) for t in q_terms if t in text_terms) / total


# ----- what kind of answer a question asks for --------------------------------------------

_MONTHS = MONTH_PATTERN
_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\b|(?:1[5-9]|20)\d\d\b|\d{{1,2}}(?:st|nd|rd|th)\b|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|century|decade|year|ago\b)",
    re.I,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]+")


_PERSON_NOUNS = (
    "officials?|leaders?|ministers?|presidents?|chairman|chairmen|persons?|people|man|men|woman|women|"
    "kings?|queens?|players?|authors?|scientists?|politicians?|lawmakers?|spokesman|spokesperson|envoys?"
)


# "How did the Ledger and the Wire differ on the cost ...": outlets compared on a figure.
_DIFFER_ON_FIGURE = re.compile(
    r"^how did\b.*\b(?:on|over|about) (?:the )?(?:[\w'’]+ ){0,3}?(?:cost|price|figure|total|number|amount|toll|"
    r"estimate|value|budget|ridership|size|count|share|pay)\b"
)


def answer_type(question: str) -> str | None:
    """The kind of answer a question expects: date, number, person, place, or None."""
    q = question.lower().strip()
    if re.match(r"^(in )?(what|which) (year|date|day|month|century|decade|time)\b", q) or re.search(
        r"\bwhen\b", q
    ):
        return "date"
    if (
        re.search(r"\bhow (many|much|long|old|far|large|big|tall|high)\b", q)
        or re.search(
            r"\b(what|which) (is |was |were |are )?(the )?(percentage|percent|number|amount|proportion|"
            r"value|cost|price|total|population|size)\b",
            q,
        )
        or _DIFFER_ON_FIGURE.search(q)
    ):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q) or re.match(rf"^(which|what) (\w+ )?({_PERSON_NOUNS})\b", q):
        return "person"
    if re.search(r"\bwhere\b", q) or re.search(
        r"\b(what|which) (country|city|town|place|state|province)\b", q
    ):
        return "place"
    return None


def has_answer_type(sentence: str, kind: str | None, question: str) -> bool:
    """Does ``sentence`` contain a candidate of ``kind`` that the question doesn't already name?"""
    if kind is None:
        return False
    qwords = set(words(question))
    if kind == "date":
        return any(m.group(0).lower() not in qwords for m in _DATE.finditer(sentence))
    if kind == "number":
        return any(
            m.group(0).lower() not in qwords
            for m in numbers(sentence, spelled=True, percent=True, dates=False)
        )
    # person / place: a capitalised word that is not the sentence's first word and not
    # something the question already mentions; for places, one after in/at/from/near.
    caps = [m for m in _CAPITALISED.finditer(sentence) if m.start() > 0]
    if kind == "place":
        caps = [m for m in caps if re.search(r"\b(in|at|from|near|to)\s+(the\s+)?$", sentence[: m.start()])]
    return any(m.group(0).lower() not in qwords for m in caps)


_MONTH_BEFORE = re.compile(rf"\b(?:{_MONTHS})\.?\s+$", re.I)
_MONTH_AFTER = re.compile(rf"^(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b", re.I)


def _in_date(sentence: str, m: re.Match) -> bool:
    """Is this number a day of a month ("July 1", "23 May") or a year ("in 2019"): a date, no
    count or amount ("the cost … after the July 1 delay" names no cost)."""
    n = m.group(0)
    if re.fullmatch(r"(?:1[5-9]|20)\d\d", n):
        return True
    return (
        n.isdigit()
        and len(n) <= 2
        and bool(_MONTH_BEFORE.search(sentence[: m.start()]) or _MONTH_AFTER.match(sentence[m.end() :]))
    )


# ----- numbers: the one home of number detection -------------------------------------------
# A figure as written: "12", "60,000", "2.1" (a trailing "." or "," stays only before a word
# character, so "in 2019." gives "2019").
_FIGURE = r"\d[\d,.]*"
# Spelled-out numbers, in any case ("Two", "a dozen"); and ranks, in lower case (lower-case the
# text to find "First"): where two tellings of one fact can disagree.
_SPELLED = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    "twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half"
)
_RANKS = "first|second|third|fourth|fifth|sixth|largest|top"
_COUNTED_WORD = re.compile(r"\s+([^\W\d_]+)")


def numbers(
    text: str, *, spelled: bool = False, ranks: bool = False, percent: bool = False, dates: bool = True
) -> list[re.Match]:
    """The numbers ``text`` states, as matches in order: figures ("60,000", "2.1"); with
    ``spelled`` also number words ("Two", "dozen"), with ``ranks`` also ranks ("first",
    "largest": lower case only), with ``percent`` each "%"; without ``dates``, no figure that
    is a day of a month or a year ("July 1", "23 May", "in 2019": `_in_date`).

    Its callers: `has_answer_type` (spelled, percent, no dates), `figure_units` (figures, no
    dates), `extractive` (what two outlets' tellings state: figures and ranks) and `counts`."""
    rx = _number_pattern(spelled, ranks, percent)
    return [m for m in rx.finditer(text) if dates or not _in_date(text, m)]


@cache
def _number_pattern(spelled: bool, ranks: bool, percent: bool) -> re.Pattern:
    alts = [_FIGURE] + ([f"(?i:{_SPELLED})"] if spelled else []) + ([_RANKS] if ranks else [])
    return re.compile(rf"\b(?:{'|'.join(alts)})\b" + ("|%" if percent else ""))


def counts(text: str) -> list[tuple[str, str]]:
    """(figure, word) for each figure directly followed by a word: "12 stations" -> ("12",
    "stations"); not "71, killed", not "in 2019. Then", not "140km", nor a figure right
    after "." or "," ("v.2 beta")."""
    out = []
    for m in numbers(text):
        word = _COUNTED_WORD.match(text, m.end())
        if word and text[m.start() - 1 : m.start()] not in (".", ","):
            out.append((m.group(0), word.group(1)))
    return out


def figure_units(sentence: str) -> set[str]:
    """The terms in the three words after each figure that is no date ("60,000 riders a day"
    -> {"rider", "day"}; "2.1 billion crowns" -> {"billion", "crown"}): what it counts."""
    out: set[str] = set()
    for m in numbers(sentence, dates=False):
        out.update(terms(" ".join(sentence[m.end() :].split()[:3])))
    return out


def question_parts(question: str) -> list[str]:
    """A two-part question ("Which X ..., and which Y ...?") as its parts; else [question]."""
    m = re.search(r",?\s+and\s+(?=(which|what|who|where|when|how|with|about)\b)", question, re.I)
    if not m or m.start() < 10:
        return [question]
    return [question[: m.start()], question[m.end() :]]


def named_terms(question: str) -> list[str]:
    """Names and numbers in a question: capitalised words after the first, and digits."""
    toks = re.findall(r"[\w’'-]+", question)
    return [t for i, t in enumerate(toks) if (i > 0 and t[:1].isupper()) or t[:1].isdigit()]


# Page furniture: lines of a news page that label, credit or point elsewhere rather than tell
# (photo captions, bylines, tag lists, "Related:" teasers, navigation trails, profile labels, a
# dateline standing alone). They repeat a story's words, so they echo questions about it
# (issue 25: "vietnam and japan ink … picture 1" was quoted as an answer); they are never one.
_FURNITURE = re.compile(
    r"^\W*(?i:photo|picture|pictured|image|caption|video|graphic|illustration|file photo)s?\b\s*(?:[:|–—-]|\d)"
    r"|\b(?i:picture|photo|image|slide)\s+\d+\s*\W*$"
    r"|^\W*(?i:by)\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}\s*(?:[,|–—-]|$)"
    r"|^\W*(?i:tags|topics|keywords|filed under|related|related stories|read more|see also|more on this(?: story)?"
    r"|full coverage|also read|recommended|most read|share this|follow us)\b\s*[:|–—-]"
    r"|\s[>»›]\s.*\s[>»›]\s|^\W*(?i:home)\s*[>»›|/]"
    r"|\|\s*(?i:profile|news|home|latest news|overview)\s*$"
    r"|^[A-Z][A-Z .'’-]+,\s[^()\n]{0,40}\([^)]+\)\s*[-–—]?\s*$",
)


def is_furniture(line: str) -> bool:
    """Whether ``line`` is page furniture (see ``_FURNITURE``), not a statement."""
    return bool(_FURNITURE.search(line.strip()))
