"""llama-index adapters: articleqa's search as a retriever, its cited answers as a query engine.

- `ArticleQARetriever` (a ``BaseRetriever``): the passages `Assistant.retrieve` finds, one
  ``NodeWithScore`` each, so any llama-index pipeline (``RetrieverQueryEngine``, a
  postprocessor, an agent) can read articleqa's hybrid search and rerank.
- `ArticleQAQueryEngine` (a ``CustomQueryEngine``): `Assistant.ask` as a ``Response``, its
  ``source_nodes`` the answer's citations (exact spans of the articles), abstention and the
  citation checks in ``metadata``; ``as_tool()`` makes it an agent's ``QueryEngineTool``.

Every node is a ``TextNode`` whose ``text`` is ``article.text[start_char_idx:end_char_idx]``,
with a ``SOURCE`` relationship to its article (``node_id`` = the article id). Both run in
process over an `Assistant`; they call it synchronously (the async methods llama-index
falls back to run the same call).
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    ObjectType,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.tools import QueryEngineTool
from pydantic import Field, InstanceOf

from ..assistant import Assistant
from ..types import Answer, Citation, Filters, Hit

# Bookkeeping an LLM prompt or an embedding gains nothing from: a node's text is shown to
# the model with only its title, outlet, date and URL.
_HIT_HIDDEN = [
    "article_id", "chunk_id", "start", "end", "rank", "group_id", "score", "vector_score", "keyword_score",
    "rerank_score", "also",
]  # fmt: skip
_CITATION_HIDDEN = ["n", "article_id", "chunk_id", "start", "end"]
DEFAULT_TOOL_DESCRIPTION = (
    "Answers a question from the stored news articles, quoting and citing ([n]) the exact "
    "passages it used, or says the articles don't answer it. Input: one full question."
)


def _article_link(article_id: str, title: str, source: str, url: str, published_at: str) -> RelatedNodeInfo:
    """The ``SOURCE`` relationship of a passage: its article, named by id."""
    meta = {"title": title, "source": source, "url": url, "published_at": published_at}
    return RelatedNodeInfo(node_id=article_id, node_type=ObjectType.DOCUMENT, metadata=meta)


def _hidden(meta: dict[str, Any], keys: list[str]) -> list[str]:
    """``keys`` and the empty text fields (an article without a date or URL): the metadata
    llama-index leaves out of the text it gives an LLM or an embedding model."""
    return [*keys, *(k for k, v in meta.items() if v == "" and k not in keys)]


def _rank_score(hit: Hit) -> float:
    """The score the hits are ordered by: the rerank score when retrieval reranked, else the fused one."""
    return hit.rerank_score if hit.rerank_score is not None else hit.score


def hit_node(hit: Hit) -> NodeWithScore:
    """One retrieved passage as a llama-index node, scored by `_rank_score`."""
    c = hit.chunk
    meta: dict[str, Any] = {
        "article_id": c.article_id, "title": hit.title, "source": hit.source, "url": hit.url,
        "published_at": hit.published_at, "chunk_id": c.id, "start": c.start, "end": c.end,
        # The scores as `Hit`'s JSON names them ("score": the fused one); the node's own score
        # is the one the hits are ordered by (`_rank_score`).
        "rank": hit.rank, "group_id": hit.group_id, "score": hit.score, "vector_score": hit.vector_score,
        "keyword_score": hit.keyword_score, "rerank_score": hit.rerank_score,
        # The same passage in other copies of the story, collapsed into this one by retrieval.
        "also": [h.chunk.id for h in hit.also],
    }  # fmt: skip
    return NodeWithScore(node=_span_node(c.id, c.text, meta, _HIT_HIDDEN), score=_rank_score(hit))


def citation_node(citation: Citation, score: float | None = None) -> NodeWithScore:
    """One citation of an answer as a node: its exact span, its number ``n`` in the metadata.
    Node ids are ``"<chunk_id>#<n>"``: two citations may quote one passage."""
    c = citation
    meta: dict[str, Any] = {
        "n": c.n, "article_id": c.article_id, "title": c.title, "source": c.source, "url": c.url,
        "published_at": c.published_at, "chunk_id": c.chunk_id, "start": c.start, "end": c.end,
    }  # fmt: skip
    return NodeWithScore(
        node=_span_node(f"{c.chunk_id or c.article_id}#{c.n}", c.text, meta, _CITATION_HIDDEN), score=score
    )


def _span_node(node_id: str, text: str, meta: dict[str, Any], hidden: list[str]) -> TextNode:
    """A span of an article as a node: offsets, metadata (less ``hidden`` for the LLM, and the
    URL too for embedding) and a SOURCE link to the article, all from ``meta``."""
    link = _article_link(meta["article_id"], meta["title"], meta["source"], meta["url"], meta["published_at"])
    return TextNode(
        id_=node_id, text=text, start_char_idx=meta["start"], end_char_idx=meta["end"], metadata=meta,
        excluded_llm_metadata_keys=_hidden(meta, hidden),
        excluded_embed_metadata_keys=_hidden(meta, [*hidden, "url"]),
        relationships={NodeRelationship.SOURCE: link},
    )  # fmt: skip


def answer_response(answer: Answer) -> Response:
    """An `Answer` as a llama-index ``Response``: the text with its [n] markers, the citations
    as ``source_nodes`` (scored by the passage each quotes, None if retrieval didn't hand it
    over), and what else the answer says in ``metadata``."""
    scores = {h.chunk.id: _rank_score(h) for top in answer.hits for h in (top, *top.also)}
    return Response(
        response=answer.text,
        source_nodes=[citation_node(c, scores.get(c.chunk_id)) for c in answer.citations],
        metadata={
            "question": answer.question,
            "abstained": answer.abstained,
            "confidence": answer.confidence,
            "backend": answer.backend,
            "form": answer.form,
            "standalone_question": answer.standalone_question,
            "checks": [k.to_dict() for k in answer.checks],
            "citations": [c.to_dict() for c in answer.citations],
        },
    )


class ArticleQARetriever(BaseRetriever):
    """articleqa's hybrid search (vector ∪ BM25, fused, reranked, copies collapsed) as a
    llama-index retriever over an in-process `Assistant`.

    >>> from llama_index.core.query_engine import RetrieverQueryEngine
    >>> engine = RetrieverQueryEngine.from_args(ArticleQARetriever(qa, top_k=3), llm=llm)
    """

    def __init__(
        self,
        assistant: Assistant,
        top_k: int | None = None,
        filters: Filters | None = None,
        *,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ):
        """``top_k`` passages (None: the config's ``top_k``), restricted by ``filters``
        (outlets, dates, articles)."""
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self.assistant = assistant
        self.top_k = top_k
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.assistant.retrieve(query_bundle.query_str, self.top_k, self.filters)
        return [hit_node(h) for h in hits]


class ArticleQAQueryEngine(CustomQueryEngine):
    """`Assistant.ask` as a llama-index query engine: the answer text with [n] markers, its
    citations as ``source_nodes``, ``metadata["abstained"]`` when the articles don't answer.

    >>> response = ArticleQAQueryEngine(assistant=qa).query("Who met Ishiba?")
    """

    assistant: InstanceOf[Assistant]
    top_k: int | None = Field(default=None, description="passages retrieved (None: the config's)")
    filters: InstanceOf[Filters] | None = Field(default=None, description="outlets, dates, articles")

    def __init__(self, assistant: Assistant | None = None, **data: Any):
        """``ArticleQAQueryEngine(qa)`` or ``ArticleQAQueryEngine(assistant=qa, top_k=..., filters=...)``."""
        if assistant is not None:
            data["assistant"] = assistant
        super().__init__(**data)

    def custom_query(self, query_str: str) -> Response:
        return answer_response(self.assistant.ask(query_str, top_k=self.top_k, filters=self.filters))

    def as_tool(
        self,
        name: str = "articleqa",
        description: str = DEFAULT_TOOL_DESCRIPTION,
        return_direct: bool = False,
    ) -> QueryEngineTool:
        """This engine as an agent's tool (its output's ``raw_output`` is the ``Response``)."""
        return QueryEngineTool.from_defaults(
            self, name=name, description=description, return_direct=return_direct
        )
