"""`Assistant`: the façade that wires the stages (ingest → index → retrieve → answer → cite).

It holds one `Config` and lazily builds each part from it; any part can be handed in instead
(a store sharing a loaded model, a chat model, a whole answerer), which is how tests and the
benchmarks inject theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer import Answerer, make_answerer
from .config import Config
from .index import open_store
from .index.contracts import ArticleStore
from .ingest.pipeline import IngestReport, Progress, ingest, poll_feeds
from .offline import keep_offline
from .query import analyze
from .retrieve import retrieve
from .types import Answer, Article, ArticleInfo, FeedState, Filters, Hit, Stats, StreamEvent

if TYPE_CHECKING:
    from .answer.models import ChatModel


class Assistant:
    """Question answering over a collection of articles, with cited passages.

    >>> qa = Assistant(data_dir="./.articleqa")
    >>> qa.ingest(["examples/articles"])
    >>> qa.ask("Who met Ishiba?").text
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        store: ArticleStore | None = None,
        chat_model: ChatModel | None = None,
        answerer: Answerer | str | None = None,
        **overrides: Any,
    ):
        """``config`` (or ``Config(**overrides)``); ``store``, ``chat_model`` and ``answerer``
        replace the parts the config would build (a ``chat_model`` is also what condenses
        follow-up questions). An ``answerer`` given by name is a config override, as in
        ``Assistant(answerer="openai")``."""
        keep_offline()
        if isinstance(answerer, str):
            overrides["answerer"], answerer = answerer, None
        cfg = config or Config(**overrides)
        if config is not None and overrides:
            cfg = config.model_copy(update=overrides)
        self.config = cfg
        self._store = store
        self._chat_model = chat_model
        self._answerer = answerer

    @cached_property
    def store(self) -> ArticleStore:
        return self._store or open_store(self.config)

    @property
    def chat_model(self) -> ChatModel | None:
        """The chat model: the one handed in, else an LLM answerer's configured one (loaded on
        first use); None for the extractive answerer."""
        if self._chat_model is None and self.config.answerer != "extractive":
            from .answer.models import make_chat_model

            self._chat_model = make_chat_model(self.config)
        return self._chat_model

    def _require_chat_model(self) -> ChatModel:
        model = self.chat_model
        if model is None:
            raise ValueError(f"answerer '{self.config.answerer}' needs a chat model")
        return model

    @cached_property
    def answerer(self) -> Answerer:
        return self._answerer or make_answerer(self.store, self.config, self._require_chat_model)

    def warm_up(self) -> None:
        """Load the embedding model, the evidence's model (the reader, or the answer model) and
        open the indexes now, so the first question doesn't wait for them (the UI and the
        evaluation call it; a chat model still loads on first use)."""
        self.store.warm_up()
        evidence = getattr(self.answerer, "evidence", None)
        if evidence is not None:
            evidence.warm_up()

    # ---- the collection ---------------------------------------------------------------
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

    def poll_feeds(
        self, urls: list[str] | str, *, progress: Progress | None = None
    ) -> list[tuple[str, IngestReport]]:
        """Poll each feed once (conditional GET): new entries added, edited ones replaced in
        place with their version counted, entries gone from the feed kept. One report per feed."""
        if isinstance(urls, str):
            urls = [urls]
        return poll_feeds(self.store, list(urls), progress=progress)

    def feeds(self) -> list[FeedState]:
        """Every feed ingested or polled: URL, title, ETag, Last-Modified, last poll and its status."""
        self.store.refresh()
        return self.store.feed_states()

    def remove(self, article_id: str) -> bool:
        return self.store.remove(article_id)

    def articles(self) -> list[ArticleInfo]:
        """One row per article: id, title, source, published_at, url, key, group_id, chunks, chars,
        origin (the file or URL it was read from), version (1, +1 for each change of its content)."""
        self.store.refresh()
        return self.store.article_stats()

    def article(self, article_id: str) -> Article | None:
        self.store.refresh()
        return self.store.article(article_id)

    def stats(self) -> Stats:
        self.store.refresh()
        n_articles, n_chunks = self.store.count()
        return Stats(articles=n_articles, passages=n_chunks)

    # ---- questions --------------------------------------------------------------------
    def retrieve(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """The ``top_k`` best passages for ``question`` (the hybrid search answers start from)."""
        return self.store.reading(lambda: retrieve(self.store, question, top_k, filters)).hits

    def standalone(self, question: str, history: list[dict] | None = None) -> str:
        """``question`` rewritten to stand alone, given earlier chat ``history`` (answer/followup.py)."""
        from .answer.followup import condense

        if not history:
            return question
        return condense(question, history, self.config, self.chat_model)

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
        # The question is understood once (query.py); retrieval and the answerer take that.
        query = analyze(question, history, cfg, self.store, rewrite=self.standalone)
        standalone = query.text
        k = top_k or (cfg.llm_passages if cfg.answerer != "extractive" else None)
        retrieved = self.store.reading(
            lambda: retrieve(
                self.store, query, k, filters, expand_parts=True, outlet_aware=True, time_aware=True
            )
        )
        events = self.answerer.events(standalone, retrieved, stream=stream, history=history or None)
        return self._stamped(question, standalone if history else None, events, retrieved.hits)

    @staticmethod
    def _stamped(
        question: str, sq: str | None, events: Iterator[StreamEvent], hits: list[Hit]
    ) -> Iterator[StreamEvent]:
        """The ``sources`` event, then the answerer's, each marked with the question as asked
        and (for a follow-up) the standalone question it was answered as."""
        yield StreamEvent("sources", hits=hits, standalone_question=sq)
        for ev in events:
            if ev.answer is not None:
                ev.answer.question = question
                ev.answer.standalone_question = sq
            ev.standalone_question = sq
            yield ev
