"""Chat turns: a question through `Assistant.ask_stream`, kept as plain (JSON-able) dicts.

A turn is what the UI renders: the question, the (streamed, then final) answer text, its
citations, the retrieved passages (each in its type's JSON form, ``to_dict()``) and a status (searching → reading → streaming → done,
or error). Follow-ups pass earlier turns as ``history``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from ..answer.models import LLMError
from ..assistant import Assistant
from ..types import Answer, Filters

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def clip_question(question: str, limit: int = MAX_QUESTION_CHARS) -> tuple[str, bool]:
    """``question`` stripped and cut to at most ``limit`` characters at a word boundary;
    the flag says whether it was cut."""
    question = (question or "").strip()
    if len(question) <= limit:
        return question, False
    head = question[: limit + 1]
    cut = max(head.rfind(c) for c in (" ", "\n", "\t"))
    # A word boundary in the last quarter; a single 2,000-character "word" is cut where it must be.
    clipped = head[:cut] if cut >= limit * 3 // 4 else question[:limit]
    return clipped.rstrip(), True


def history_of(turns: list[dict]) -> list[dict[str, str]]:
    """Finished turns as chat messages: [{"role": "user"|"assistant", "content": ...}]."""
    msgs: list[dict[str, str]] = []
    for t in turns:
        if t.get("status") == "done":
            msgs += [{"role": "user", "content": t["q"]}, {"role": "assistant", "content": t.get("text", "")}]
    return msgs


def clean_history(history: Any) -> list[dict[str, str]]:
    """Keep well-formed messages only (the API accepts whatever a client sends)."""
    if not isinstance(history, list):
        return []
    return [
        {"role": m["role"], "content": str(m.get("content", ""))}
        for m in history
        if isinstance(m, dict) and m.get("role") in ("user", "assistant")
    ]


def make_filters(outlets: list[str] | None, since: str, until: str) -> tuple[Filters | None, list[str]]:
    """Filters from the options panel; malformed dates are ignored with a warning."""
    warnings = []
    since, until = (since or "").strip(), (until or "").strip()
    for name, v in (("From", since), ("Until", until)):
        if v and not _DATE.match(v):
            warnings.append(f"{name} date '{v}' is not YYYY-MM-DD; ignored.")
    f = Filters(
        sources=list(outlets or []),
        since=since if _DATE.match(since) else "",
        until=until if _DATE.match(until) else "",
    )
    return (None if f.empty else f), warnings


def _finish(turn: dict, ans: Answer) -> None:
    draft = turn.get("text", "").strip()
    if ans.abstained and draft and draft != ans.text.strip():
        # The streamed draft failed validation: say so rather than let it silently vanish.
        turn["withdrawn"] = draft
    turn.update(
        text=ans.text,
        abstained=ans.abstained,
        citations=[c.to_dict() for c in ans.citations],
        backend=ans.backend,
        confidence=float(ans.confidence),
        status="done",
        form=ans.form,
        short_answer=ans.short_answer.to_dict() if ans.short_answer else None,
        checks=[k.to_dict() for k in ans.checks if k.action != "fixed"],  # a marker fix changes no claim
    )
    if ans.hits:
        turn["hits"] = [h.to_dict() for h in ans.hits]
    if ans.standalone_question:
        turn["standalone"] = ans.standalone_question


def new_turn(question: str) -> dict:
    return {"q": question, "text": "", "status": "searching", "citations": [], "hits": [], "abstained": False}


def stream_turn(
    assistant: Assistant,
    question: str,
    history: list[dict[str, str]] | None = None,
    top_k: int | None = None,
    filters: Filters | None = None,
) -> Iterator[tuple[str, dict]]:
    """Yield ``(kind, turn)`` as the answer arrives; kind is start|sources|token|answer|error."""
    turn = new_turn(question)
    yield "start", turn
    try:
        for ev in assistant.ask_stream(question, top_k=top_k, filters=filters, history=history or None):
            if ev.standalone_question:
                turn["standalone"] = ev.standalone_question
            if ev.kind == "sources":
                turn.update(hits=[h.to_dict() for h in ev.hits], status="reading")
            elif ev.kind == "token":
                turn.update(text=turn["text"] + ev.text, status="streaming")
            elif ev.kind == "answer" and ev.answer is not None:
                _finish(turn, ev.answer)
            yield ev.kind, turn
    except LLMError as e:  # the LLM is down, refuses the key, lacks the model, timed out: its one line
        log.warning("answering %r failed: %s", question, e.message)
        turn.update(status="error", error=e.message, error_type=e.kind)
        yield "error", turn
        return
    except Exception as e:  # a backend failure is shown in the chat, not as a crashed page
        log.exception("answering %r failed", question)
        turn.update(status="error", error=str(e) or type(e).__name__)
        yield "error", turn
        return
    if turn["status"] != "done":  # a stream that ended without its final answer event
        turn.update(status="done", backend=turn.get("backend", ""), confidence=turn.get("confidence", 0.0))
        yield "answer", turn


def api_answer(assistant: Assistant, question: str, history: Any = None) -> dict[str, Any]:
    """The ``/chat`` endpoint's result: the answer's JSON form (`Answer.to_dict()`, which holds
    ``standalone_question``)."""
    question, _ = clip_question(question)
    if not question:
        raise ValueError("the question is empty")
    ans = assistant.ask(question, history=clean_history(history) or None)
    return dict(ans.to_dict())
