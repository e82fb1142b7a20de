"""The answerer contract, and the two things every answerer makes the same way: a citation
and an abstention."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..types import Answer, Citation, Hit, Retrieved, StreamEvent

ABSTAIN_TEXT = "The articles don't say. I found nothing in them that answers this question."


class Answerer(Protocol):
    """Turns retrieved passages into a cited answer.

    ``events`` yields any number of ``token`` events (text as it is written; with
    ``stream=False`` an answerer may send it all in one) and ends with one ``answer`` event
    whose `Answer` has valid citations or ``abstained=True``. The `Assistant` sends the
    ``sources`` event before calling it. ``history`` holds the conversation's earlier
    ``{"role", "content"}`` messages when ``question`` is a follow-up (already condensed to
    stand alone), so an answer need not repeat what was said.
    """

    name: str

    def events(
        self, question: str, retrieved: Retrieved, *, stream: bool = True, history: list[dict] | None = None
    ) -> Iterator[StreamEvent]: ...


def cite(n: int, hit: Hit, start: int, end: int) -> Citation:
    """Citation ``[n]``: the span ``start:end`` (article offsets) of ``hit``'s passage, quoted
    exactly (so ``article.text[start:end] == citation.text``)."""
    ch = hit.chunk
    if not ch.start <= start <= end <= ch.end:
        raise ValueError(f"span {start}-{end} is outside passage {ch.id} ({ch.start}-{ch.end})")
    return Citation(
        n=n, article_id=ch.article_id, title=hit.title, source=hit.source,
        text=ch.text[start - ch.start : end - ch.start], start=start, end=end,
        url=hit.url, published_at=hit.published_at, chunk_id=ch.id,
    )  # fmt: skip


def abstention(question: str, hits: list[Hit], confidence: float, backend: str) -> Answer:
    """The answer that says the articles don't answer ``question``."""
    return Answer(question, ABSTAIN_TEXT, True, [], hits, confidence, backend)


UNCERTAIN_TEXT = "The articles may not answer this directly; the closest passages say:"


def uncertain(
    question: str, hits: list[Hit], confidence: float, backend: str, closest: list[Citation]
) -> Answer:
    """An abstention that shows the closest passages, cited and marked as uncertain (form
    "uncertain"): the confidence was under the threshold but not hopeless. It counts as an
    abstention everywhere (``abstained`` is true)."""
    quoted = " ".join(f"“{c.text}” [{c.n}]" for c in closest)
    return Answer(
        question, f"{UNCERTAIN_TEXT} {quoted}", True, closest, hits, confidence, backend, form="uncertain"
    )


def one_shot(answer: Answer) -> Iterator[StreamEvent]:
    """The events of an answer known all at once: its text as one token, then the answer."""
    yield StreamEvent("token", text=answer.text)
    yield StreamEvent("answer", answer=answer)
