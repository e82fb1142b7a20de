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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..text import named_terms, sentence_spans, terms, words
from ..types import Citation, Hit
from .extractive import ABSTAIN_TEXT

log = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.5  # default; Config.llm_support_threshold overrides
# Half the claim's (weighted) terms must be in the passage: embeddings can veto a claim
# (same words, other meaning) but never back one on topical similarity alone.
LEX_FLOOR = 0.5
JOINT_MIN_SHARE = 0.2  # each passage of a claim cited jointly must back a part of it
NAME_WEIGHT = 2.0  # a name the passage lacks (e.g. an invented treaty) weighs double

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
# Sentences of an article that address the model rather than the reader. They may not
# support a claim, and a claim using words only they contain is an injection echo.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,60}\b(?:instructions?|prompts?|rules|directions)\b"
    r"|^\W*(?:please\s+)?(?:reply|respond|answer|say|output|print|write|return)\b[^.!?\n]{0,40}"
    r"\b(?:with|only|exactly)\b"
    r"|\b(?:you are now|system prompt|developer mode|new instructions)\b",
    re.I,
)

_YES_NO = re.compile(
    r"^\W*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall|may|might)\b", re.I
)

Idf = Callable[[str], float]


@dataclass
class Claim:
    """One sentence of the answer, markers removed, with the passage numbers it cited."""

    text: str
    cited: list[int] = field(default_factory=list)


@dataclass
class Support:
    score: float
    lex: float
    start: int = 0  # article offsets of the best-supporting sentence
    end: int = 0


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


def is_injection(sentence: str) -> bool:
    return bool(_INJECTION.search(sentence))


class Passage:
    """A hit split into sentences, with injected instructions set apart."""

    def __init__(self, hit: Hit | None):
        self.hit = hit
        self.sentences: list[tuple[int, int, str]] = []  # article offsets + text
        self.injected_at: list[int] = []  # article offsets of injected sentences
        self.injected: set[str] = set()  # their terms
        self.vecs: np.ndarray | None = None
        if hit is None:
            return
        ch = hit.chunk
        for a, b in sentence_spans(ch.text):
            s = ch.text[a:b]
            if is_injection(s):
                self.injected.update(terms(s))
                self.injected_at.append(ch.start + a)
            else:
                self.sentences.append((ch.start + a, ch.start + b, s))
        self._index()

    def _index(self) -> None:
        self.sent_terms = [set(terms(s)) for _, _, s in self.sentences]
        self.terms = set().union(*self.sent_terms)
        self.injected_only = self.injected - self.terms
        self.numbers = {w for _, _, s in self.sentences for w in words(s) if w[0].isdigit()}

    @classmethod
    def joined(cls, parts: list[Passage]) -> Passage:
        """Several passages as one, for a claim that cites them together."""
        p = cls(None)
        for q in parts:
            p.sentences += q.sentences
            p.injected |= q.injected
        vecs = [q.vecs for q in parts if q.vecs is not None]
        p.vecs = np.concatenate(vecs) if len(vecs) == len(parts) and vecs else None
        p._index()
        return p


def support(claim: str, p: Passage, idf: Idf | None = None, claim_vec: np.ndarray | None = None) -> Support:
    """How well passage ``p`` supports ``claim`` (score 0..1), the share of its terms found in
    ``p``'s best window of one or two adjacent sentences (``lex``), and that window's span.

    A window rather than the whole passage: a claim that swaps in a name from elsewhere in
    the passage ("Iran deployed its army" where the sentence says the Soviet Union) must
    not be backed by words scattered over it.
    """
    c_terms = list(dict.fromkeys(terms(claim)))
    if not c_terms or not p.sentences:
        return Support(0.0, 0.0)
    names = set(terms(" ".join(named_terms(claim))))
    w = {t: (idf(t) if idf else 1.0) * (NAME_WEIGHT if t in names else 1.0) for t in c_terms}
    total = sum(w.values())

    def share(ts: set[str]) -> float:
        return sum(w[t] for t in c_terms if t in ts) / total

    n = len(p.sentences)
    windows = [(i, i) for i in range(n)] + [(i, i + 1) for i in range(n - 1)]
    shares = [share(p.sent_terms[i] | p.sent_terms[j]) for i, j in windows]
    sims = p.vecs @ claim_vec if claim_vec is not None and p.vecs is not None else None
    k = max(range(len(windows)), key=lambda k: (shares[k], -(windows[k][1] - windows[k][0])))
    i, j = windows[k]
    lex = shares[k]
    score = lex if sims is None else 0.5 * lex + 0.5 * max(float(sims[i : j + 1].max()), 0.0)
    if (
        lex < LEX_FLOOR
        or p.injected_only & set(c_terms)  # echoes an instruction planted in the article
        or any(t[0].isdigit() and t not in p.numbers for t in words(claim))  # a number it doesn't state
    ):
        score = 0.0
    return Support(score, lex, p.sentences[i][0], p.sentences[j][1])


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
    citations = []
    for i, n in sorted(number.items(), key=lambda t: t[1]):
        h, (a, b) = passages[i].hit, spans[i]
        ch = h.chunk
        citations.append(
            Citation(
                n=n,
                article_id=ch.article_id,
                title=h.title,
                source=h.source,
                text=ch.text[a - ch.start : b - ch.start],
                start=a,
                end=b,
                url=h.url,
                published_at=h.published_at,
                chunk_id=ch.id,
            )  # fmt: skip
        )
    return Checked(" ".join(parts), citations, False, float(np.mean(scores)), notes)
