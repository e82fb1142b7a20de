"""`Assistant`: wires the stages together (ingest → index → retrieve → answer → cite)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from .config import Config
from .index.store import Store
from .ingest.pipeline import IngestReport, Progress, ingest
from .retrieve import retrieve
from .types import Answer, Article, Filters, Hit, StreamEvent

# Nothing in articleqa may phone home; set before chromadb/gradio are imported.
for _k, _v in {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_k, _v)


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

    def ask(self, question: str, *, top_k: int | None = None, filters: Filters | None = None) -> Answer:
        """Answer ``question`` from the stored articles, citing the passages used."""
        from .answer import extractive

        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        qvec = self.store.embedder.embed([question])[0]
        hits = retrieve(self.store, question, top_k, filters, qvec=qvec)
        return extractive.answer(question, hits, self.store, self.config, qvec)

    def ask_stream(
        self, question: str, *, top_k: int | None = None, filters: Filters | None = None
    ) -> Iterator[StreamEvent]:
        """Like `ask`, as events: ``sources`` first, then ``token``s, then the final ``answer``."""
        ans = self.ask(question, top_k=top_k, filters=filters)
        yield StreamEvent("sources", hits=ans.hits)
        yield StreamEvent("token", text=ans.text)
        yield StreamEvent("answer", answer=ans)
