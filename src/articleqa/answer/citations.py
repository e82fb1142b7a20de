"""Citation post-processing for generated answers: what keeps a weak model's output honest.

Pure functions over the model's raw text and the passages (`Hit`s) it was shown:

1. parse markers — ``[1]``, ``[1, 3]``, ``[1][2]``, ``[1-2]``, ``word[2].``, ``[Source 1]``,
   ``(passage 2)``, "according to source 1" — and split the rest into sentences (claims);
2. check each claim against each passage it cites: the IDF-weighted share of its content
   terms the passage has (plus embedding cosine when an embedder is given), every number
   it states present in the passage, and nothing borrowed from an injected instruction;
3. re-attach a claim with no valid supporting marker to the passage that supports it best,
   or drop it; an answer left with no supported claim is an abstention;
4. renumber the cited passages 1..m in order of first use; each citation quotes the exact
   best-supporting sentence span of its passage (``article.text[start:end] == text``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from ..text import sentence_spans, terms, words
from ..types import Citation, Hit
from .base import ABSTAIN_TEXT, cite
from .evidence import Idf, Passage, Support, support

log = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.5  # default; Config.llm_support_threshold overrides
JOINT_MIN_SHARE = 0.2  # each passage of a claim cited jointly must back a part of it

_NUMS = r"#?\d{1,3}(?:\s*(?:,|;|and|&|-|–)\s*#?\d{1,3})*"
_WORD = r"(?:sources?|passages?|refs?|references?|citations?)"
MARKER = re.compile(
    rf"\s*\[\^?\s*(?:{_WORD}\s*)?(?P<b>{_NUMS})\s*\]"  # [1] [1, 3] [^1] [Source 1] [1-2]
    rf"|\s*【(?P<j>{_NUMS})】"  # full-width brackets
    rf"|\s*\(\s*{_WORD}\s*(?P<p>{_NUMS})\s*\)"  # (source 1)
    rf"|(?:\b(?:according to|as stated in|as (?:said|noted) in|see|from|in)\s+)?\b(?:the\s+)?"
    rf"(?:source|passage)\s+#?(?P<w>\d{{1,3}})\b,?",  # according to passage 2,
    re.I,
)
# Debris a model copies from the prompt: passage tags and chat-template tokens.
_DEBRIS = re.compile(r"</?\s*passages?\b[^>]*>|<\|[^|>]*\|>|\*\*", re.I)
_ABSTAIN = re.compile(
    r"\b(?:do(?:es)?\s*n[o']t|cannot|can't|could\s*n[o']t)\s+(?:say|know|mention|contain|answer|provide|"
    r"find|tell|specify|state)\b|\bno (?:information|mention|answer)\b|\bnot (?:mentioned|stated|specified)\b",
    re.I,
)
# Talk about the passages rather than their content: "According to the article, X" keeps X;
# a sentence still about "the passage" ("The passage is about a meeting.") is no answer.
_SOURCE = r"(?:the|this|that|these)\s+(?:passages?|articles?|sources?|texts?)"
_META_PREFIX = re.compile(
    rf"^(?:(?:according to|as (?:stated|said|noted|reported) in|based on|in)\s+{_SOURCE},?\s*"
    rf"|{_SOURCE}\s+(?:(?:mention|say|state|note|report|explain|show|suggest|discusse|describe|highlight)"
    rf"(?:s|d|ed)?|said|(?:is|are|was|were) about|(?:talk|focuse)(?:s|d)? (?:about|on))\s+(?:that\s+)?)",
    re.I,
)
_META_ONLY = re.compile(rf"^{_SOURCE}\b|^(?:the\s+)?answer\s+is\b", re.I)
_YES_NO = re.compile(
    r"^\W*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall|may|might)\b", re.I
)

@dataclass
class Claim:
    """One sentence of the answer, markers removed, with the passage numbers it cited."""

    text: str
    cited: list[int] = field(default_factory=list)


@dataclass
class Checked:
    """The validated answer: text with renumbered ``[n]`` markers and its citations."""

    text: str
    citations: list[Citation]
    abstained: bool
    confidence: float
    notes: list[tuple[str, str]] = field(default_factory=list)  # (claim, what was removed or fixed)


def marker_numbers(m: re.Match) -> list[int]:
    """The passage numbers of one marker match; ranges like 1-3 expand (at most 10)."""
    raw = next(g for g in (m.group("b"), m.group("j"), m.group("p"), m.group("w")) if g)
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", raw.replace("#", "")):
        lo, _, hi = part.replace("–", "-").partition("-")
        a = int(lo)
        b = int(hi) if hi.strip() else a
        out.extend(range(a, min(b, a + 9) + 1) if b >= a else [a])
    return out


def parse_claims(raw: str) -> list[Claim]:
    """Split a model's answer into claims (sentences), each with the markers it carried.

    A bracket marker belongs to the sentence it sits in, or to the one before when it
    follows a full stop ("... in May. [2] Then ..."): models put markers on either side.
    A spelled-out one ("According to passage 2, ...") belongs to the sentence it opens.
    """
    text = _DEBRIS.sub(" ", raw)
    clean, marks = [], []  # marks: (position in clean text, opens a sentence, numbers)
    pos = 0
    for m in MARKER.finditer(text):
        clean.append(text[pos : m.start()])
        pos = m.end()
        marks.append((sum(map(len, clean)), m.group("w") is not None, marker_numbers(m)))
    clean.append(text[pos:])
    body = "".join(clean)
    spans = sentence_spans(body)
    claims = [Claim(body[a:b]) for a, b in spans]
    for at, opens, nums in marks:
        if opens:
            i = min((k for k, (_, b) in enumerate(spans) if b > at), default=len(spans) - 1)
        else:
            i = max((k for k, (a, _) in enumerate(spans) if a < at), default=0)
        if claims:
            claims[i].cited.extend(n for n in nums if n not in claims[i].cited)
    for c in claims:
        c.text = _tidy(c.text)
    return [c for c in claims if re.search(r"\w", c.text)]


def _tidy(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s+([.,;:!?])", r"\1", s)
    s = re.sub(r"[,;:]+([.!?])", r"\1", s)
    s = _META_PREFIX.sub("", re.sub(r"^[,;:\s]+", "", s))
    return s[:1].upper() + s[1:]


def is_abstention(text: str) -> bool:
    return bool(_ABSTAIN.search(text))


def validate(
    raw: str,
    hits: list[Hit],
    *,
    embedder=None,
    idf: Idf | None = None,
    threshold: float = SUPPORT_THRESHOLD,
    abstain_text: str = ABSTAIN_TEXT,
    question: str = "",
) -> Checked:
    """Check a model's answer against the passages it was shown (``[n]`` = ``hits[n-1]``).

    With ``question``, a claim that only restates a wh-question ("Where did he hide?" →
    "He hid during his escape.") is dropped: it is supported, but answers nothing.
    """
    passages = [Passage(h) for h in hits]
    claims = _dedupe(parse_claims(raw))
    claim_vecs: list[np.ndarray | None] = [None] * len(claims)
    if embedder is not None and claims:
        _embed(embedder, passages, claims, claim_vecs)

    asked = set(terms(question)) if question and not _YES_NO.match(question) else None
    notes: list[tuple[str, str]] = []
    kept: list[tuple[str, list[tuple[int, Support]]]] = []
    for claim, vec in zip(claims, claim_vecs, strict=True):
        if is_abstention(claim.text):
            notes.append((claim.text, "dropped: the model said the articles don't answer"))
            continue
        if _META_ONLY.match(claim.text):
            notes.append((claim.text, "dropped: describes the passages instead of answering"))
            continue
        if asked is not None and set(terms(claim.text)) <= asked:
            notes.append((claim.text, "dropped: only restates the question"))
            continue
        sup = [(i, support(claim.text, p, idf, vec)) for i, p in enumerate(passages)]
        valid = [n - 1 for n in claim.cited if 1 <= n <= len(hits)]
        if len(valid) < len(claim.cited):
            notes.append((claim.text, f"markers {claim.cited}: removed those naming no given passage"))
        good = [(i, s) for i, s in sup if i in valid and s.score >= threshold]
        if len(valid) > 1 and len(good) < len(valid):  # "A and B [1, 3]": backed together?
            joint = Passage.joined([passages[i] for i in valid])
            if support(claim.text, joint, idf, vec).score >= threshold:
                good = [(i, s) for i, s in sup if i in valid and s.lex >= JOINT_MIN_SHARE]
        if len(good) < len(valid):
            notes.append((claim.text, "removed markers of passages that don't support it"))
        if not good:  # uncited, or cited wrongly: the passage that supports it best, if any
            i, s = max(sup, key=lambda t: t[1].score, default=(0, Support(0.0, 0.0)))
            if s.score < threshold:
                notes.append((claim.text, f"dropped: no passage supports it (best {s.score:.2f})"))
                continue
            notes.append((claim.text, f"cited passage {i + 1}, the one that supports it"))
            good = [(i, s)]
        kept.append((claim.text, good))

    for claim_text, what in notes:
        log.debug("citation check: %s: %r", what, claim_text)
    if not kept:
        return Checked(abstain_text, [], True, 0.0, notes)
    return _assemble(kept, passages, notes)


def _dedupe(claims: list[Claim]) -> list[Claim]:
    """Small models repeat themselves; a repeated sentence adds nothing."""
    seen: set[str] = set()
    out = []
    for c in claims:
        key = " ".join(words(c.text))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _embed(embedder, passages: list[Passage], claims: list[Claim], out: list) -> None:
    texts = [c.text for c in claims] + [s for p in passages for _, _, s in p.sentences]
    vecs = embedder.embed(texts)
    k = len(claims)
    out[:] = list(vecs[:k])
    for p in passages:
        p.vecs, k = vecs[k : k + len(p.sentences)], k + len(p.sentences)


def _assemble(kept: list[tuple[str, list[tuple[int, Support]]]], passages: list[Passage], notes) -> Checked:
    number: dict[int, int] = {}  # passage index -> citation number, in order of first use
    spans: dict[int, tuple[int, int]] = {}
    parts, scores = [], []
    for text, good in kept:
        for i, s in good:
            number.setdefault(i, len(number) + 1)
            a, b = spans.get(i, (s.start, s.end))
            a, b = min(a, s.start), max(b, s.end)  # all the sentences this passage backs...
            if not any(a <= x < b for x in passages[i].injected_at):  # ...unless that quotes an injection
                spans[i] = (a, b)
            spans.setdefault(i, (s.start, s.end))
        parts.append(text + " " + "".join(f"[{number[i]}]" for i, _ in good))
        scores.append(max(s.score for _, s in good))
    citations = [cite(n, passages[i].hit, *spans[i]) for i, n in sorted(number.items(), key=lambda t: t[1])]
    return Checked(" ".join(parts), citations, False, float(np.mean(scores)), notes)
