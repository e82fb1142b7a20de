"""One `Answer` in the shapes OpenAI-compatible clients read (``POST /v1/chat/completions``).

All from the same answer, so they can't disagree:

- ``choices[0].message.content``: the validated text with its ``[n]`` markers;
- ``choices[0].message.annotations``: one ``url_citation`` per number in a marker, its
  ``start_index``/``end_index`` the marker's place in the text (OpenAI's web-search shape);
- ``citations`` (URLs) and ``search_results`` (Perplexity's shape): entry ``n - 1`` is
  citation ``n``, so ``[n]`` indexes both;
- ``articleqa``: abstained, confidence, checks and the full citations (`Citation.to_dict()`:
  article id and the exact ``start``/``end`` of the quoted span), as ``ask --json`` has them.

A stream carries only validated text: the answer is finished (and its citations checked)
before the first content chunk, because an OpenAI-style stream can't take text back. Then one
chunk per citation with an Open WebUI ``citation`` event, then the final chunk with
``finish_reason: "stop"`` and everything above, then ``[DONE]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..types import CITATION_MARKER, Answer, Citation, span_uri

# Words per content chunk of a stream: small enough to read as streaming in a chat client,
# large enough that a 60-word answer is a dozen chunks, not sixty.
WORDS_PER_CHUNK = 5


def citation_url(c: Citation) -> str:
    """Where a client's link goes: the article's web address, else the cited span's
    `types.span_uri` (``article://{id}#char={start},{end}``)."""
    return c.url or span_uri(c.article_id, c.start, c.end)


def annotations(answer: Answer) -> list[dict[str, Any]]:
    """One ``url_citation`` per number of each ``[n]``/``[n, m]`` marker in the text."""
    by_n = {c.n: c for c in answer.citations}
    out = []
    for m in CITATION_MARKER.finditer(answer.text):
        for n in (int(x) for x in re.findall(r"\d+", m.group(1))):
            if (c := by_n.get(n)) is not None:
                out.append({
                    "type": "url_citation",
                    "url_citation": {"start_index": m.start(), "end_index": m.end(), "title": c.title or c.article_id,
                                     "url": citation_url(c)},
                })  # fmt: skip
    return out


def search_results(answer: Answer) -> list[dict[str, Any]]:
    """Perplexity's ``search_results``: entry ``n - 1`` is the passage citation ``n`` quotes."""
    return [
        {"id": c.n, "title": c.title or c.article_id, "url": citation_url(c), "date": c.published_at or None,
         "snippet": c.text, "article_id": c.article_id, "start": c.start, "end": c.end}
        for c in sorted(answer.citations, key=lambda c: c.n)
    ]  # fmt: skip


def extras(answer: Answer) -> dict[str, Any]:
    """The top-level fields beside ``choices``: ``citations``, ``search_results``, ``articleqa``."""
    full = answer.to_dict()
    return {
        "citations": [citation_url(c) for c in sorted(answer.citations, key=lambda c: c.n)],
        "search_results": search_results(answer),
        "articleqa": {
            "abstained": answer.abstained, "confidence": full["confidence"], "checks": full["checks"],
            "citations": full["citations"], "backend": answer.backend, "form": answer.form,
            "standalone_question": answer.standalone_question,
        },
    }  # fmt: skip


def completion(answer: Answer, model: str, cid: str, created: int) -> dict[str, Any]:
    """The ``chat.completion`` object of ``answer``."""
    message = {
        "role": "assistant",
        "content": answer.text,
        "refusal": None,
        "annotations": annotations(answer),
    }
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        **extras(answer),
    }  # fmt: skip


def chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None,
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    """One ``chat.completion.chunk``; its ``choices`` is never empty (Open WebUI reads events
    only from chunks that have a choice)."""
    return {
        "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra,
    }  # fmt: skip


def text_pieces(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """``text`` cut after every ``words`` words; the pieces join back to ``text`` exactly."""
    cuts = [m.end() for i, m in enumerate(re.finditer(r"\S+\s*", text), 1) if i % words == 0]
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def openwebui_event(c: Citation) -> dict[str, Any]:
    """Open WebUI's source event for one citation (its chat shows it under the answer)."""
    url = citation_url(c)
    meta = {"source": url, "name": c.title or c.article_id, "article_id": c.article_id, "n": c.n,
            "start": c.start, "end": c.end, "date": c.published_at or None, "chunk_id": c.chunk_id}  # fmt: skip
    return {"type": "citation",
            "data": {"source": {"name": f"[{c.n}] {c.title or c.article_id}", "url": url, "id": str(c.n)},
                     "document": [c.text], "metadata": [meta]}}  # fmt: skip


def stream_chunks(answer: Answer, model: str, cid: str, created: int) -> Iterator[dict[str, Any]]:
    """The chunks after the opening role chunk: the text, one event per citation, the final chunk."""
    for piece in text_pieces(answer.text):
        yield chunk(cid, created, model, {"content": piece})
    for c in sorted(answer.citations, key=lambda c: c.n):
        yield chunk(cid, created, model, {}, event=openwebui_event(c))
    yield chunk(cid, created, model, {"annotations": annotations(answer)}, "stop", **extras(answer))


def question_and_history(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """The last user message's text, and the user/assistant turns before it (system, developer
    and tool messages don't count: articleqa answers from the articles, not from instructions).
    Raises ValueError when the last message isn't a user's question."""
    turns = [(m.get("role"), content_text(m.get("content"))) for m in messages]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise ValueError("the last message must be the user's question (role 'user', non-empty content)")
    history = [{"role": r, "content": t} for r, t in turns[:-1] if r in ("user", "assistant") and t.strip()]
    return turns[-1][1].strip(), history


def content_text(content: Any) -> str:
    """A message's text: a string, or the ``text`` parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""
