"""The llama-index adapters (integrations/llama_index.py) in real llama-index pipelines: a
``RetrieverQueryEngine`` over `ArticleQARetriever`, `ArticleQAQueryEngine`, its
``QueryEngineTool`` and a ``ReActAgent`` calling that tool. The LLMs are llama-index's
``MockLLM`` (it echoes its prompt) and a scripted ReAct LLM: articleqa answers with the real
embedding model over the sample articles, no network."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeRelationship, NodeWithScore
from llama_index.core.tools import QueryEngineTool

from articleqa import Article, Filters
from articleqa.integrations.llama_index import ArticleQAQueryEngine, ArticleQARetriever

from .conftest import ROOT, SAMPLES, TALKS_ID, VOV_ID

STORM = "Which storm did Japan express sympathy about?"
UNANSWERABLE = "What is the population of Hanoi?"


def _assert_exact_spans(qa, nodes: list[NodeWithScore]) -> None:
    """Each node is an exact span of the article its SOURCE relationship names."""
    assert nodes
    for nws in nodes:
        node = nws.node
        article_id = node.metadata["article_id"]
        assert node.relationships[NodeRelationship.SOURCE].node_id == article_id
        assert node.source_node.metadata["title"] == node.metadata["title"]
        article = qa.article(article_id)
        assert article is not None
        assert (node.start_char_idx, node.end_char_idx) == (node.metadata["start"], node.metadata["end"])
        assert node.text == article.text[node.start_char_idx : node.end_char_idx]


# ---- the retriever ---------------------------------------------------------------------
def test_retriever_query_engine_reads_articleqa_passages(sample_qa):
    engine = RetrieverQueryEngine.from_args(ArticleQARetriever(sample_qa, top_k=3), llm=MockLLM())
    response = engine.query(STORM)
    nodes = response.source_nodes
    hits = sample_qa.retrieve(STORM, 3)
    # The nodes are articleqa's passages, in its order, ids and scores.
    assert [n.node.node_id for n in nodes] == [h.chunk.id for h in hits]
    assert [n.node.metadata["rank"] for n in nodes] == [h.rank for h in hits]
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)
    assert scores == [h.rerank_score if h.rerank_score is not None else h.score for h in hits]
    _assert_exact_spans(sample_qa, nodes)
    # The passage that answers is among them, and it reached the LLM's prompt (MockLLM echoes it).
    assert any("Typhoon Yagi" in n.node.text for n in nodes)
    assert nodes[0].node.text in str(response)
    # The LLM sees the title and outlet, not the bookkeeping.
    shown = nodes[0].node.get_content(MetadataMode.LLM)
    assert nodes[0].node.metadata["title"] in shown
    assert "chunk_id" not in shown and "rerank_score" not in shown
    # A node carries the hit's metadata (an undated, URL-less sample: those fields are empty).
    meta = nodes[0].node.metadata
    assert meta["chunk_id"] == hits[0].chunk.id and meta["source"] == hits[0].source
    assert (meta["score"], meta["rerank_score"]) == (hits[0].score, hits[0].rerank_score)
    assert meta["published_at"] == "" and meta["url"] == ""
    # Copies of the story retrieval collapsed into a hit are named by their chunk ids.
    assert [n.node.metadata["also"] for n in nodes] == [[c.chunk.id for c in h.also] for h in hits]
    # The async path (llama-index falls back to the same call) gives the same nodes.
    again = asyncio.run(engine.aquery(STORM)).source_nodes
    assert [(n.node.node_id, n.score) for n in again] == [(n.node.node_id, n.score) for n in nodes]


def test_retriever_filters_by_outlet(sample_qa):
    vov = ArticleQARetriever(sample_qa, top_k=5, filters=Filters(sources=["VOV"])).retrieve(STORM)
    assert vov and {n.node.metadata["article_id"] for n in vov} == {VOV_ID}
    assert {n.node.metadata["source"] for n in vov} == {"VOV"}
    absent = ArticleQARetriever(sample_qa, top_k=5, filters=Filters(sources=["Reuters"]))
    assert absent.retrieve(STORM) == []


def test_retriever_filters_by_date(fresh_qa):
    """The two sample articles, dated a day apart: ``since``/``until`` keep one each."""
    texts = {p.stem: p.read_text() for p in Path(SAMPLES).glob("*.txt")}
    fresh_qa.ingest(
        articles=[
            Article(
                id=TALKS_ID, text=texts[TALKS_ID], title="Talks", source="Desk", published_at="2024-12-05"
            ),
            Article(
                id=VOV_ID, text=texts[VOV_ID], title="Agreement", source="VOV", published_at="2024-12-06"
            ),
        ]
    )
    question = "What did Vietnam and Japan agree on?"
    later = ArticleQARetriever(fresh_qa, top_k=4, filters=Filters(since="2024-12-06")).retrieve(question)
    earlier = ArticleQARetriever(fresh_qa, top_k=4, filters=Filters(until="2024-12-05")).retrieve(question)
    assert later and {n.node.metadata["article_id"] for n in later} == {VOV_ID}
    assert earlier and {n.node.metadata["article_id"] for n in earlier} == {TALKS_ID}
    assert {n.node.metadata["published_at"] for n in later} == {"2024-12-06"}
    assert later[0].node.source_node.metadata["published_at"] == "2024-12-06"
    _assert_exact_spans(fresh_qa, later + earlier)
    none = ArticleQARetriever(fresh_qa, top_k=4, filters=Filters(since="2025-01-01")).retrieve(question)
    assert none == []


# ---- the query engine ------------------------------------------------------------------
def test_query_engine_answers_with_citations_as_source_nodes(sample_qa):
    response = ArticleQAQueryEngine(sample_qa).query(STORM)
    expected = sample_qa.ask(STORM)
    assert isinstance(response, Response)
    assert response.response == expected.text
    assert "Typhoon Yagi" in response.response and "[1]" in response.response
    meta = response.metadata
    assert meta["abstained"] is False
    assert meta["confidence"] == pytest.approx(expected.confidence)
    assert meta["citations"] == [c.to_dict() for c in expected.citations]
    assert meta["checks"] == [k.to_dict() for k in expected.checks]
    nodes = response.source_nodes
    assert [n.node.metadata["n"] for n in nodes] == [c.n for c in expected.citations]
    assert [n.node.text for n in nodes] == [c.text for c in expected.citations]
    _assert_exact_spans(sample_qa, nodes)
    assert any("Typhoon Yagi" in n.node.text for n in nodes)
    # Scored by the retrieved passage each citation quotes.
    assert all(n.score is not None and n.score > 0 for n in nodes)


def test_query_engine_abstains_without_sources(sample_qa):
    response = ArticleQAQueryEngine(assistant=sample_qa, top_k=5).query(UNANSWERABLE)
    assert response.metadata["abstained"] is True
    assert response.source_nodes == []
    assert response.response == sample_qa.ask(UNANSWERABLE, top_k=5).text


def test_query_engine_filters(sample_qa):
    """An outlet the collection lacks leaves nothing to answer from."""
    engine = ArticleQAQueryEngine(sample_qa, filters=Filters(sources=["Reuters"]))
    assert engine.filters == Filters(sources=["Reuters"])
    response = engine.query(STORM)
    assert response.metadata["abstained"] is True and response.source_nodes == []


def test_query_engine_tool(sample_qa):
    tool = ArticleQAQueryEngine(sample_qa).as_tool()
    assert isinstance(tool, QueryEngineTool)
    assert tool.metadata.name == "articleqa" and "cit" in tool.metadata.description
    output = tool.call(input=STORM)
    assert output.tool_name == "articleqa"
    assert output.content == sample_qa.ask(STORM).text
    raw = output.raw_output
    assert isinstance(raw, Response) and raw.metadata["abstained"] is False
    _assert_exact_spans(sample_qa, raw.source_nodes)


# ---- an agent --------------------------------------------------------------------------
class ScriptedReAct(CustomLLM):
    """A ReAct "model" that asks the tool once, then answers with what the tool said: the
    final answer can only hold the tool's words if the agent really called it."""

    question: str
    tool_name: str = "articleqa"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True)

    def _reply(self, messages: Sequence[ChatMessage]) -> str:
        last = messages[-1].content or ""
        if last.startswith("Observation:"):
            observation = last.removeprefix("Observation:").strip()
            return f"Thought: I can answer without using any more tools.\nAnswer: {observation}"
        action_input = json.dumps({"input": self.question})
        return f"Thought: I need the articles.\nAction: {self.tool_name}\nAction Input: {action_input}"

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = self._reply(messages)
        return ChatResponse(message=ChatMessage(role="assistant", content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        text = self._reply(messages)
        yield ChatResponse(message=ChatMessage(role="assistant", content=text), delta=text)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError("chat only")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise NotImplementedError("chat only")


# llama-index's workflow machinery (not our code) inspects the agent's pydantic attributes
# and checks ``ctx.is_running`` inside a step, which pydantic and workflows deprecate.
@pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecatedSince20",
    "ignore::pydantic.warnings.PydanticDeprecatedSince211",
    "ignore:is_running called from within a step:DeprecationWarning",
)
def test_react_agent_calls_the_tool(sample_qa):
    tool = ArticleQAQueryEngine(sample_qa).as_tool()
    agent = ReActAgent(tools=[tool], llm=ScriptedReAct(question=STORM))

    async def run() -> tuple[Any, list[ToolCallResult]]:
        handler = agent.run(user_msg=STORM)
        calls = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
        return await handler, calls

    result, calls = asyncio.run(run())
    assert [c.tool_name for c in calls] == ["articleqa"]
    assert calls[0].tool_kwargs == {"input": STORM}
    raw = calls[0].tool_output.raw_output
    assert isinstance(raw, Response) and raw.metadata["abstained"] is False
    _assert_exact_spans(sample_qa, raw.source_nodes)
    assert "Typhoon Yagi" in str(result.response.content)


def test_the_core_package_does_not_import_the_integrations():
    """Adapters sit on top: nothing in articleqa outside integrations/ imports them."""
    from .test_architecture import IMPORTS

    assert "articleqa.integrations.llama_index" in IMPORTS  # the scan sees the module
    wrong = sorted(
        f"{name} imports {imp}"
        for name, imps in IMPORTS.items()
        if not name.startswith("articleqa.integrations")
        for imp in imps
        if imp.startswith("articleqa.integrations")
    )
    assert wrong == []


def test_the_example_runs(tmp_path):
    """examples/llama_index_retriever.py, run from elsewhere as a user would."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llama_index_retriever.py"), STORM],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("exact span: True") == 3 and "exact span: False" not in done.stdout
    assert "abstained: False" in done.stdout and "Typhoon Yagi" in done.stdout
