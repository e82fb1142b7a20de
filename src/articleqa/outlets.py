"""Outlets named in a question: "according to Reuters", "what did The Verge say", "both
TechCrunch and The Age", "the Ledger" (for the Orrin Daily Ledger), "theverge.com".

`named_outlets` matches a question against the outlets the collection holds (never against
a list of known publishers), so a name only counts when some stored article carries it.
Retrieval uses it to restrict to one named outlet or balance across several
(`retrieve.retrieve(..., outlet_aware=True)`).

Forms of an outlet that are matched:

- its name, case-insensitively, with or without a leading "the" ("the orrin daily ledger");
  a single word left after dropping "The" ("The Verge" → "Verge", "The Age" → "Age") and a
  single common word ("Time") are *strict* forms (below), as "on the verge of" and "what age"
  are not outlets;
- a shortened form: a trailing word sequence of the name ("Ledger", "Daily Ledger") that
  belongs to this one outlet only and is not a generic word of outlet names ("Times",
  "Review", "Daily", "News"). It is strict. Leading words are not used: they are usually a
  place ("Orrin", "Saltby", "New York") that questions name for other reasons;
- a domain whose label is the name lower-cased without spaces or punctuation, with or
  without "the" ("reuters.com", "www.theverge.com", "theage.com.au").

A strict form counts when written with a capital ("the Wire", "The Verge"), though not as
the question's first word unless "The" comes before it; or, in any case, when "the" comes
before it and a reporting word ("say", "reported", "differ"), "and"/"or", a possessive or
the end comes after ("what did the ledger say", "the wire and the ledger"). So "the wire
transfer" or "Wire transfers rose" never name the Vellmark Wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .text import STOPWORDS

# Words too generic to stand for an outlet on their own, however few outlets use them.
GENERIC = frozenset(
    """daily weekly monthly sunday morning evening news times review business tech technology
    coastal post online today media press report reports magazine network group world
    international national global city local radio tv channel service agency journal digital
    weekend star sun mail standard express live now""".split()
)
# Common words that are a whole outlet name ("Time", "Fortune") match only as strict forms.
COMMON = (
    STOPWORDS
    | GENERIC
    | frozenset("time fortune wired vice slate quartz axios politico guardian independent observer".split())
)
_AFTER_LOWER = r"(?=\s*(?:$|[?.!,;:]|['’]s\b|\s(?:and|or|say|says|said|report|reports|reported|wrote|write|writes|claim|claims|claimed|account|story|article|differ|differed|agree|agreed|describe|described|cover|covered|quote|quoted)\b))"
_DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Form:
    outlet: str
    words: tuple[str, ...]  # lower-cased
    strict: bool


def _words(name: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:['’&.][^\W_]+)*", name)


def _key(name: str) -> str:
    """How a name is spelt in a domain: "The Verge" → "theverge"."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _forms(outlets: Iterable[str]) -> list[_Form]:
    out: list[_Form] = []
    cores: dict[str, list[str]] = {}
    for o in outlets:
        ws = [w.lower() for w in _words(o)]
        had_the = bool(ws) and ws[0] == "the"
        core = ws[1:] if had_the and len(ws) > 1 else ws
        if not core:
            continue
        cores[o] = core
        strict = len(core) == 1 and (had_the or core[0] in COMMON)
        out.append(_Form(o, tuple(core), strict))
    # Trailing word sequences, each kept only when one outlet's name ends with it.
    owners: dict[tuple[str, ...], set[str]] = {}
    for o, core in cores.items():
        for i in range(1, len(core)):
            owners.setdefault(tuple(core[i:]), set()).add(o)
    full = {f.words for f in out}
    for tail, who in owners.items():
        if len(who) != 1 or tail in full or all(w in COMMON or w.isdigit() for w in tail):
            continue
        if tail[0] in GENERIC and len(tail) == 1:
            continue
        out.append(_Form(next(iter(who)), tail, True))
    return out


def _pattern(words: tuple[str, ...]) -> str:
    return r"\b" + r"\s+".join(re.escape(w) for w in words) + r"\b"


def named_outlets(question: str, outlets: Iterable[str]) -> list[str]:
    """The outlets among ``outlets`` that ``question`` names, in the order it names them
    (each once). See the module's docstring for what counts as naming one."""
    return list(dict.fromkeys(o for _, _, o in mentions(question, outlets)))


# What is left of a question about outlets once retrieval keeps to them: "according to",
# and the comparison's verb (each outlet's passages are there; what they say is the answer).
_ABOUT_OUTLETS = re.compile(
    r"\b(?:according\s+to|as\s+reported\s+by|reported\s+by)\b|\b(?:differ(?:ed)?|disagree(?:d)?|compare(?:d)?)\b",
    re.I,
)


def without_outlets(question: str, outlets: Iterable[str]) -> str:
    """``question`` with the outlets it names (and "according to", "differ") taken out, for
    judging the passages retrieval kept to them: "How did the Ledger and the Wire differ on
    daily riders?" -> "How did and on daily riders?" (judged on its terms, not read)."""
    spans = mentions(question, outlets)
    if not spans:
        return question
    out, pos = [], 0
    for a, b, _ in spans:
        out.append(re.sub(r"\bthe\s+$", "", question[pos:a], flags=re.I))
        pos = b
    out.append(question[pos:])
    text = _ABOUT_OUTLETS.sub(" ", "".join(out))
    text = re.sub(r"(?:'s|’s)\b", "", text) if text != question else text
    return re.sub(r"\s+([?.!,])", r"\1", " ".join(text.split())).lstrip(" ,;:")


def mentions(question: str, outlets: Iterable[str]) -> list[tuple[int, int, str]]:
    """Where ``question`` names which of ``outlets``: (start, end, outlet), in order."""
    outlets = [o for o in dict.fromkeys(outlets) if o and o.strip()]
    if not outlets or not question.strip():
        return []
    lowered = question == question.lower()
    found: list[tuple[int, int, str]] = []  # (start, end, outlet)
    for f in _forms(outlets):
        for m in re.finditer(_pattern(f.words), question, re.IGNORECASE):
            if f.strict and not _strict_ok(question, m, lowered):
                continue
            found.append((m.start(), m.end(), f.outlet))
    by_key: dict[str, str] = {}
    for o in outlets:
        k = _key(o)
        if k:
            by_key.setdefault(k, o)
            if k.startswith("the") and len(k) > 3:
                by_key.setdefault(k[3:], o)
    for m in _DOMAIN.finditer(question):
        labels = m.group().lower().split(".")[:-1]
        o = next((by_key[lb] for lb in labels if lb != "www" and lb in by_key), None)
        if o is not None:
            found.append((m.start(), m.end(), o))
    # Longest first, overlapping matches dropped ("Orrin Daily Ledger" is not also a
    # "Daily Ledger" outlet); then in the question's order.
    kept: list[tuple[int, int, str]] = []
    for a, b, o in sorted(found, key=lambda t: (-(t[1] - t[0]), t[0])):
        if all(b <= ka or a >= kb for ka, kb, _ in kept):
            kept.append((a, b, o))
    return sorted(kept)


def _strict_ok(question: str, m: re.Match, lowered: bool) -> bool:
    before = question[: m.start()]
    the_before = re.search(r"\bthe\s+$", before, re.IGNORECASE) is not None
    if the_before and re.match(_AFTER_LOWER, question[m.end() :]) is not None:
        return True  # "what did the ledger say", "the wire and the ledger"
    if lowered or not all(w[:1].isupper() or not w[:1].isalpha() for w in m.group().split()):
        return False
    # The question's first word is capitalised anyway: only "The Wire ..." counts there.
    return bool(before.strip()) or the_before
