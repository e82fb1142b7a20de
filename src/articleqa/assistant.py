"""`Assistant`: wires the stages together (ingest → index → retrieve → answer → cite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from .config import Config
from .index.store import Store
from .ingest.pipeline import IngestReport, Progress, ingest
from .retrieve import retrieve
from .text import question_parts
from .types import Answer, Article, Filters, Hit, StreamEvent

# Nothing in articleqa may phone home; set before chromadb/gradio are imported.
for _k, _v in {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_k, _v)


PART_HITS = 2  # passages retrieved for each part of a two-part question


class Assistant:
    """Question answering over a collection of articles, with cited passages.

    >>> qa = Assistant(data_dir="./.articleqa")
    >>> qa.ingest(["examples/articles"])
    >>> qa.ask("Who met Ishiba?").text
    """

    def __init__(self, config: Config | None = None, **overrides: Any):
        cfg = config or Config(**overrides)
        if config is not None and overrides:
            cfg = config.model_copy(update=overrides)
        self.config = cfg

    @cached_property
    def store(self) -> Store:
        return Store(self.config)

    # ---- ingestion ----------------------------------------------------------------
    def ingest(
        self,
        paths: list[str | Path] | str | Path = (),
        *,
        articles: list[Article] | None = None,
        sync: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest files and folders (and/or `Article` objects); unchanged ones are skipped."""
        if isinstance(paths, str | Path):
            paths = [paths]
        return ingest(self.store, list(paths), sync=sync, progress=progress, articles=articles)

    def remove(self, article_id: str) -> bool:
        return self.store.remove(article_id)

    def articles(self) -> list[dict]:
        return self.store.registry.article_stats()

    def article(self, article_id: str) -> Article | None:
        return self.store.registry.article(article_id)

    # ---- questions ----------------------------------------------------------------
    def retrieve(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return retrieve(self.store, question, top_k, filters)

    @cached_property
    def llm(self):
        """The chat model of an ``openai``/``local`` answerer, loaded on first use."""
        from .answer.llm import make_chat_model

        return make_chat_model(self.config)

    def standalone(self, question: str, history: list[dict] | None = None) -> str:
        """``question`` rewritten to stand alone, given earlier chat ``history`` (see chat.py)."""
        from .chat import condense

        if not history:
            return question
        model = self.llm if self.config.answerer != "extractive" else None
        return condense(question, history, self.config, model)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: list[dict] | None = None,
    ) -> Answer:
        """Answer ``question`` from the stored articles, citing the passages used.

        ``history``: earlier ``{"role", "content"}`` messages; a follow-up is condensed into
        a standalone question first (set on ``Answer.standalone_question``).
        """
        events = self._events(question, top_k, filters, history, stream=False)
        return next(ev.answer for ev in events if ev.answer is not None)

    def ask_stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: list[dict] | None = None,
    ) -> Iterator[StreamEvent]:
        """Like `ask`, as events: ``sources`` first, then ``token``s, then the final ``answer``.

        Tokens are the model's raw text as it arrives; the ``answer`` event carries the
        validated answer (unsupported claims removed, citations renumbered), which is
        what to show once it comes.
        """
        return self._events(question, top_k, filters, history, stream=True)

    def chat(
        self, messages: list[dict], *, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer the last user message of a conversation (``[{"role", "content"}, ...]``)."""
        if (
            not messages
            or messages[-1].get("role") != "user"
            or not str(messages[-1].get("content", "")).strip()
        ):
            raise ValueError("the last message must be the user's question")
        return self.ask(messages[-1]["content"], top_k=top_k, filters=filters, history=messages[:-1])

    def _events(
        self,
        question: str,
        top_k: int | None,
        filters: Filters | None,
        history: list[dict] | None,
        stream: bool,
    ) -> Iterator[StreamEvent]:
        # Checks and retrieval run now, so a bad question raises before any event.
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        cfg = self.config
        standalone = self.standalone(question, history)
        uses_llm = cfg.answerer != "extractive"
        qvec = self.store.embedder.embed([standalone])[0]
        hits = retrieve(
            self.store, standalone, top_k or (cfg.llm_top_k if uses_llm else None), filters, qvec=qvec
        )
        parts = question_parts(standalone)
        if len(parts) == 2:
            # Two questions in one: make sure each part's best passages are on the table.
            have = {h.chunk.id for h in hits}
            for part in parts:
                for h in retrieve(self.store, part, PART_HITS, filters):
                    if h.chunk.id not in have:
                        have.add(h.chunk.id)
                        h.rank = len(hits)
                        hits.append(h)
        return self._answer_events(question, standalone if history else None, hits, qvec, stream)

    def _answer_events(
        self, question: str, sq: str | None, hits: list[Hit], qvec, stream: bool
    ) -> Iterator[StreamEvent]:
        from .answer import extractive, llm

        standalone = sq or question
        yield StreamEvent("sources", hits=hits, standalone_question=sq)
        if self.config.answerer == "extractive":
            ans = extractive.answer(standalone, hits, self.store, self.config, qvec)
            events: Iterator[StreamEvent] = iter(
                [StreamEvent("token", text=ans.text), StreamEvent("answer", answer=ans)]
            )
        else:
            model = self.llm if hits else None  # no passages: abstain without loading a model
            events = llm.answer_events(standalone, hits, self.store, self.config, qvec, model, stream=stream)
        for ev in events:
            if ev.answer is not None:
                ev.answer.question = question
                ev.answer.standalone_question = sq
            ev.standalone_question = sq
            yield ev
