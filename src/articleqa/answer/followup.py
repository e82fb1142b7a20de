"""Follow-up questions: condense "and what did the other article say about it?" into a
standalone question that retrieval and the answerers can use on their own.

With an LLM the condense prompt rewrites it; its output is only used when it stays within
the conversation's own words (a small model may answer, or drift off topic instead).
Without one, or when that check fails, a heuristic appends the previous question's key
terms to a follow-up that leans on context (pronouns, "and ...", very few content words).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..config import Config
from ..resources import load_prompt, render
from ..text import STOPWORDS, terms, words

if TYPE_CHECKING:
    from .models import ChatModel

Message = dict[str, str]

_REFERRING = frozenset(
    "it its they them their theirs this that these those he him his she her hers there "
    "other another same such former latter else".split()
)
_LEADS_ON = re.compile(r"^\W*(?:and|but|also|so|then|what about|how about|and what|what else)\b", re.I)
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how did do does is are was were".split()
)
MAX_KEY_TERMS = 8
CONDENSE_MAX_TOKENS = 64
HISTORY_CHARS = 600  # of each earlier turn shown to the condense prompt


def needs_context(question: str) -> bool:
    """Does this question lean on earlier turns to be understood: a word that refers back
    ("it", "they", "else"), a lead-on ("and ...", "what about ..."), or no content word of
    its own ("Why?", "How many?")? A short question that names its subject ("What did the
    airport say?") stands alone: on eval/datasets/followups.jsonl this rule sorts 34 of 36
    (both misses are follow-ups with no word that refers back), where the earlier rule
    ("at most two content words and no name") took 15 of its 19 standalone questions for
    follow-ups."""
    ws = words(question)
    return bool(_REFERRING.intersection(ws) or _LEADS_ON.match(question) or not terms(question))


def key_terms(question: str) -> list[str]:
    """The content words of a question, in order, as written (names keep their capitals)."""
    toks = re.findall(r"[\w’'-]+", question)
    seen: set[str] = set()
    out = []
    for t in toks:
        low = t.lower()
        if low in STOPWORDS or low in _QUESTION_WORDS or low in _REFERRING or low in seen:
            continue
        seen.add(low)
        out.append(t)
    return out[:MAX_KEY_TERMS]


def heuristic(question: str, previous: str) -> str:
    """``question`` with ``previous``'s key terms appended when it leans on context."""
    if not needs_context(question):
        return question
    have = set(words(question))
    extra = [t for t in key_terms(previous) if t.lower() not in have]
    if not extra:
        return question
    return f"{question.strip().rstrip('?').rstrip()} ({' '.join(extra)})?"


def user_turns(history: list[Message]) -> list[str]:
    return [m["content"].strip() for m in history if m.get("role") == "user" and m.get("content", "").strip()]


def condense(question: str, history: list[Message], cfg: Config, model: ChatModel | None = None) -> str:
    """A standalone version of ``question`` given the earlier ``history`` messages."""
    question = question.strip()
    prior = user_turns(history)
    if not prior or not needs_context(question):
        return question
    if model is not None:
        rewritten = _llm_condense(question, history, cfg, model)
        if rewritten:
            return rewritten
    previous = prior[0]
    for q in prior[1:]:  # each earlier follow-up was itself resolved by the one before
        previous = heuristic(q, previous)
    return heuristic(question, previous)


def _llm_condense(question: str, history: list[Message], cfg: Config, model: ChatModel) -> str | None:
    lines = [f"{m['role']}: {m['content'].strip()[:HISTORY_CHARS]}" for m in history[-4:] if m.get("content")]
    messages = [
        {"role": "system", "content": load_prompt("condense_system", cfg)},
        {
            "role": "user",
            "content": render("condense_user", cfg, history="\n".join(lines), question=question),
        },
    ]
    try:
        out = model.complete(messages, max_tokens=CONDENSE_MAX_TOKENS)
    except Exception:  # a failing server must not break the conversation: fall back
        return None
    return check_rewrite(out, question, history)


def check_rewrite(out: str, question: str, history: list[Message]) -> str | None:
    """The model's rewrite, cleaned, or None when it's unusable: empty, long, adds nothing
    to the follow-up, drops its own terms, or brings in words the conversation never used."""
    line = next((x.strip() for x in out.splitlines() if x.strip()), "")
    line = re.sub(r"^(?:standalone question|question|rewritten)\s*:\s*", "", line, flags=re.I).strip(" \"'`")
    if not 3 <= len(line) <= 300:
        return None
    got = set(terms(line))
    own = set(terms(question))
    known = own.union(*(terms(m.get("content", "")) for m in history))
    if not (got - own) or len(own & got) < len(own) / 2 or len(got - known) > len(got) / 2:
        return None
    return line
