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

from ..text import STOPWORDS, sentence_spans, terms, words
from ..types import Citation, ClaimCheck, Hit
from .base import ABSTAIN_TEXT, cite
from .evidence import Idf, Passage, Support, support

log = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.5  # default; Config.llm_support_threshold overrides
JOINT_MIN_SHARE = 0.2  # each passage of a claim cited jointly must back a part of it
# A claim no single passage backs may be cited to two that back it together (one outlet's
# wording merged with another's) when together they hold this share of its terms, this much
# more than either alone. Chosen on the capable-model fixtures (eval/llm_fixtures.py).
PAIR_LEX = 0.6
PAIR_GAIN = 0.15

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
    """One sentence of the answer (or one clause, when a marker ends a clause mid-sentence:
    "A reports X [1], while B says Y [2]."), markers removed, with the passage numbers it cited."""

    text: str
    cited: list[int] = field(default_factory=list)
    tail: str = ""  # the punctuation that joined it to the next clause ("," or ";")
    cont: bool = False  # it continues the sentence of the claim before


@dataclass
class Checked:
    """The validated answer: text with renumbered ``[n]`` markers and its citations."""

    text: str
    citations: list[Citation]
    abstained: bool
    confidence: float
    notes: list[ClaimCheck] = field(default_factory=list)  # what was dropped, trimmed, re-cited


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
    spans = _clause_spans(body, sentence_spans(body), [at for at, opens, _ in marks if not opens])
    claims = [Claim(body[a:b], tail=tail, cont=cont) for a, b, tail, cont in spans]
    for at, opens, nums in marks:
        if opens:
            i = min((k for k, (_, b, _, _) in enumerate(spans) if b > at), default=len(spans) - 1)
        else:
            i = max((k for k, (a, _, _, _) in enumerate(spans) if a < at), default=0)
        if claims:
            claims[i].cited.extend(n for n in nums if n not in claims[i].cited)
    for c in claims:
        c.text = _tidy(c.text, capitalise=not c.cont)
    return [c for c in claims if re.search(r"\w", c.text)]


_CLAUSE_END = re.compile(r"\s*([,;])\s*(?=\w)")


def _clause_spans(
    body: str, spans: list[tuple[int, int]], marks: list[int]
) -> list[tuple[int, int, str, bool]]:
    """Sentence spans, split after a marker that ends a clause inside its sentence ("... X [1],
    while ..."): each clause is then checked against, and cited to, its own passage."""
    out: list[tuple[int, int, str, bool]] = []
    for a, b in spans:
        cuts = [(at, m) for at in marks if a < at < b for m in [_CLAUSE_END.match(body, at)] if m]
        start, cont = a, False
        for at, m in cuts:
            out.append((start, at, m.group(1), cont))
            start, cont = m.end(), True
        out.append((start, b, "", cont))
    return out


def _tidy(s: str, capitalise: bool = True) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s+([.,;:!?])", r"\1", s)
    s = re.sub(r"[,;:]+([.!?])", r"\1", s)
    s = _META_PREFIX.sub("", re.sub(r"^[,;:\s]+", "", s))
    return s[:1].upper() + s[1:] if capitalise else s


def is_abstention(text: str) -> bool:
    return bool(_ABSTAIN.search(text))


INJECTION_WARNING = (
    "this article contains instructions addressed to the model; they, and what they tell it to say, "
    "were not used as evidence"
)
INJECTION_ECHO = "it repeats what an instruction to the model in an article says"


def injection_warnings(passages: list[Passage]) -> list[ClaimCheck]:
    """One ``warned`` check per article shown to the model that holds an instruction to it
    ("Ignore all previous instructions ..."): the reader should know the model read one,
    whatever it made of it. The check names the article, not the instruction."""
    out: dict[str, ClaimCheck] = {}
    for p in passages:
        if p.addressed and p.hit is not None and p.hit.chunk.article_id not in out:
            h = p.hit
            name = f"{h.title or h.chunk.article_id}" + (f" ({h.source})" if h.source else "")
            out[h.chunk.article_id] = ClaimCheck(name, "warned", INJECTION_WARNING)
    return list(out.values())


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
    "He hid during his escape.") is dropped: it is supported, but answers nothing. A
    sentence that is not supported as a whole keeps the clauses that are, each cited to its
    own passage; a yes/no verdict ("Yes — ...") stands when the statement after it is
    supported.
    """
    passages = [Passage(h) for h in hits]
    claims = _dedupe(parse_claims(raw))
    pieces = {c.text: [c.text, _verdict(c.text)[1], *_clauses(_verdict(c.text)[1])] for c in claims}
    vecs = (
        _embed(embedder, passages, [t for ts in pieces.values() for t in ts]) if embedder and claims else {}
    )
    asked = set(terms(question)) if question and not _YES_NO.match(question) else None
    choice = bool(question) and bool(_CHOICE.search(question))
    notes = injection_warnings(passages)
    kept: list[_Kept] = []
    lead = ""  # a verdict sentence ("Before.", "The strike came first.") waiting for its evidence
    for k, claim in enumerate(claims):
        if is_abstention(claim.text):
            notes.append(ClaimCheck(claim.text, "dropped", "the model said the articles don't answer"))
            continue
        if _META_ONLY.match(claim.text):
            notes.append(ClaimCheck(claim.text, "dropped", "describes the passages instead of answering"))
            continue
        if _is_verdict(claim.text, question, choice) and not claim.cont and k + 1 < len(claims):
            lead = claim.text.rstrip(" .!") + " — "  # stands if the next claim does
            continue
        if asked is not None and set(terms(claim.text)) <= asked:
            notes.append(ClaimCheck(claim.text, "dropped", "only restates the question"))
            continue
        valid = [n - 1 for n in claim.cited if 1 <= n <= len(hits)]
        if len(valid) < len(claim.cited):
            notes.append(
                ClaimCheck(
                    claim.text, "fixed", f"markers {claim.cited}: removed those naming no given passage"
                )
            )
        said, body = _verdict(claim.text)
        if lead and not said and body.split(" ", 1)[0].lower() in STOPWORDS:
            body = body[:1].lower() + body[1:]  # "Before — the board rejected ..."
        said, lead = lead + said, ""
        judge = _Judge(passages, idf, threshold, vecs, valid)
        good = judge(body)
        if good is not None:
            notes += judge.notes(claim.text)
            kept.append(_Kept(said + body, good, claim.tail, claim.cont, k))
            continue
        parts = [(c, judge(c)) for c in _clauses(body)]
        backed = [(c, g) for c, g in parts if g is not None]
        if not backed:
            echo = any(p.injected_only & set(terms(body)) for p in passages)
            why = INJECTION_ECHO if echo else "no passage supports it"
            notes.append(ClaimCheck(claim.text, "dropped", f"{why} (best {judge.best:.2f})"))
            continue
        for c, _ in parts:
            if all(c != b for b, _ in backed):
                notes.append(
                    ClaimCheck(c, "trimmed", "this part has no passage that supports it; the rest is kept")
                )
        for j, (c, g) in enumerate(backed):
            kept.append(_Kept(_sentence(said + c if j == 0 else c), g, "", claim.cont and j == 0, k))

    for note in notes:
        log.debug("citation check: %s (%s): %r", note.action, note.reason, note.claim)
    if not kept:
        return Checked(abstain_text, [], True, 0.0, notes)
    return _assemble(kept, passages, notes)


class _Judge:
    """Which passages back a text: the cited ones that support it, else the one that does best."""

    def __init__(
        self, passages: list[Passage], idf: Idf | None, threshold: float, vecs: dict, cited: list[int]
    ):
        self.passages, self.idf, self.threshold, self.vecs, self.cited = passages, idf, threshold, vecs, cited
        self.best = 0.0
        self._notes: list[tuple[str, str]] = []

    def __call__(self, text: str) -> list[tuple[int, Support]] | None:
        vec = self.vecs.get(text)
        sup = [(i, support(text, p, self.idf, vec)) for i, p in enumerate(self.passages)]
        self.best = max((s.score for _, s in sup), default=0.0)
        good = [(i, s) for i, s in sup if i in self.cited and s.score >= self.threshold]
        if len(self.cited) > 1 and len(good) < len(self.cited):  # "A and B [1, 3]": backed together?
            joint = Passage.joined([self.passages[i] for i in self.cited])
            if support(text, joint, self.idf, vec).score >= self.threshold:
                good = [(i, s) for i, s in sup if i in self.cited and s.lex >= JOINT_MIN_SHARE]
        self._notes = []
        if good and len(good) < len(self.cited):
            self._notes.append(("fixed", "removed markers of passages that don't support it"))
        if not good:  # uncited, or cited wrongly: the passage that supports it best, if any
            i, s = max(sup, key=lambda t: t[1].score, default=(0, Support(0.0, 0.0)))
            if s.score >= self.threshold:
                self._notes.append(("recited", f"cited passage {i + 1}, the one that supports it"))
                return [(i, s)]
            pair = self._pair(text, vec, sup)
            if pair is None:
                return None
            self._notes.append(
                (
                    "recited",
                    f"cited passages {pair[0][0] + 1} and {pair[1][0] + 1}, which support it together",
                )
            )
            return pair
        return good

    def _pair(self, text: str, vec, sup: list[tuple[int, Support]]) -> list[tuple[int, Support]] | None:
        """Two passages that back ``text`` together, each a part of it: one outlet's wording
        merged with another's under one marker. The cited (else the best) one comes first."""
        order = sorted(sup, key=lambda t: (t[0] not in self.cited, -t[1].lex))
        first = order[0]
        if first[1].lex < JOINT_MIN_SHARE:
            return None
        for other in order[1:]:
            if other[1].lex < JOINT_MIN_SHARE:
                continue
            joint = support(
                text, Passage.joined([self.passages[first[0]], self.passages[other[0]]]), self.idf, vec
            )
            # Together they must say clearly more than either alone, and most of the claim.
            gain = joint.lex - max(first[1].lex, other[1].lex)
            if joint.score >= self.threshold and joint.lex >= PAIR_LEX and gain >= PAIR_GAIN:
                return [first, other]
        return None

    def notes(self, claim: str) -> list[ClaimCheck]:
        return [ClaimCheck(claim, a, r) for a, r in self._notes]


# "Which came first, A or B?", "before or after": the answer names one of the question's options.
_CHOICE = re.compile(
    r"\b(?:which|who|what)\b.*\b(?:first|earlier|later|sooner)\b|\bbefore or after\b|\bor\b.*\?\s*$", re.I
)
_BARE_VERDICT = re.compile(r"^\W*(?:yes|no|before|after|earlier|later|both|neither)\W*$", re.I)
VERDICT_WORDS = 8  # a longer sentence is a claim of its own, not a verdict


def _is_verdict(text: str, question: str, choice: bool) -> bool:
    """ "Yes." / "Before." / "The strike came first.": a short answer that picks one of the
    question's options and needs the next claim's evidence (it is kept only with it)."""
    if _BARE_VERDICT.match(text):
        return True
    return (
        choice
        and len(text.split()) <= VERDICT_WORDS
        and set(terms(text)) <= set(terms(question)) | {"first", "came"}
    )


# "Yes — ...", "No, ...": the verdict is kept, the statement after it is what gets checked.
_VERDICT = re.compile(r"^\s*(?:yes|no)\b\s*(?:[,:;.!—–-]+\s*|(?=\w))", re.I)
# Where one sentence joins two facts (or two outlets' versions of one).
_CLAUSE = re.compile(r"\s*(?:;|,\s*(?:and|but|while|whereas|although)\b|\s(?:while|whereas)\b)\s*", re.I)
MIN_CLAUSE_WORDS = 3  # shorter pieces ("and so on") are no claim of their own


def _verdict(text: str) -> tuple[str, str]:
    m = _VERDICT.match(text)
    if not m or m.end() >= len(text):
        return "", text
    return text[: m.end()], text[m.end() :]


def _clauses(text: str) -> list[str]:
    parts = [p.strip(" ,;") for p in _CLAUSE.split(text)]
    parts = [p for p in parts if len(p.split()) >= MIN_CLAUSE_WORDS]
    return parts if len(parts) > 1 else []


def _sentence(text: str) -> str:
    text = text.rstrip(" .;,")
    text = text[:1].upper() + text[1:] if not _VERDICT.match(text) else text
    return text + "."


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


def _embed(embedder, passages: list[Passage], texts: list[str]) -> dict[str, np.ndarray]:
    """Embed the claims (and their parts) and every passage sentence in one batch."""
    texts = list(dict.fromkeys(texts))
    vecs = embedder.embed(texts + [s for p in passages for _, _, s in p.sentences])
    k = len(texts)
    for p in passages:
        p.vecs, k = vecs[k : k + len(p.sentences)], k + len(p.sentences)
    return dict(zip(texts, vecs[: len(texts)], strict=True))


@dataclass
class _Kept:
    """A supported claim (or clause), the passages backing it, and how it joins the next."""

    text: str
    good: list[tuple[int, Support]]
    tail: str = ""
    cont: bool = False
    origin: int = 0  # index of the claim it came from


def _assemble(kept: list[_Kept], passages: list[Passage], notes) -> Checked:
    number: dict[int, int] = {}  # passage index -> citation number, in order of first use
    spans: dict[int, tuple[int, int]] = {}
    parts, scores = [], []
    for k, item in enumerate(kept):
        text, good = item.text, item.good
        for i, s in good:
            number.setdefault(i, len(number) + 1)
            a, b = spans.get(i, (s.start, s.end))
            a, b = min(a, s.start), max(b, s.end)  # all the sentences this passage backs...
            if not any(a <= x < b for x in passages[i].injected_at):  # ...unless that quotes an injection
                spans[i] = (a, b)
            spans.setdefault(i, (s.start, s.end))
        joined = k > 0 and item.cont and kept[k - 1].origin + 1 == item.origin and kept[k - 1].tail
        if item.cont and not joined:  # the clause before it was dropped: it starts the sentence
            text = text[:1].upper() + text[1:]
        nxt = kept[k + 1] if k + 1 < len(kept) else None
        marks = "".join(f"[{number[i]}]" for i, _ in good)
        if item.tail and nxt is not None and nxt.cont and nxt.origin == item.origin + 1:
            parts.append(f"{text} {marks}{item.tail}")  # "A reports X [1], while B says Y [2]."
        else:
            end = "" if re.search(r"[.!?][\"'”’)]*$", text) else "."
            parts.append(f"{text}{end} {marks}")
        scores.append(max(s.score for _, s in good))
    citations = [cite(n, passages[i].hit, *spans[i]) for i, n in sorted(number.items(), key=lambda t: t[1])]
    return Checked(" ".join(parts), citations, False, float(np.mean(scores)), notes)
