"""articleqa's search inside a llama-index pipeline, offline.

Ingests the sample articles into a temporary data dir, runs a ``RetrieverQueryEngine`` over
`ArticleQARetriever` (with llama-index's ``MockLLM``: swap in any real LLM) and prints the
source nodes with their character offsets in the articles, then the cited answer of
`ArticleQAQueryEngine`.

    python examples/llama_index_retriever.py ["your question"]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeRelationship

from articleqa import Assistant
from articleqa.integrations.llama_index import ArticleQAQueryEngine, ArticleQARetriever

SAMPLES = Path(__file__).resolve().parent / "articles"


def main(question: str) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        qa = Assistant(data_dir=data_dir)
        report = qa.ingest([SAMPLES])
        print(f"ingested {len(report.added)} articles, {report.chunks} passages\n")

        engine = RetrieverQueryEngine.from_args(ArticleQARetriever(qa, top_k=3), llm=MockLLM())
        response = engine.query(question)
        print(f"Q: {question}\nsource nodes:")
        for nws in response.source_nodes:
            node = nws.node
            article_id = node.relationships[NodeRelationship.SOURCE].node_id
            article = qa.article(article_id)
            exact = article is not None and article.text[node.start_char_idx : node.end_char_idx] == node.text
            print(
                f"  {nws.score:.3f}  {article_id} [{node.start_char_idx}:{node.end_char_idx}]"
                f"  exact span: {exact}\n        {node.text[:90]!r}…"
            )

        answer = ArticleQAQueryEngine(qa).query(question)
        print(f"\nArticleQAQueryEngine (abstained: {answer.metadata['abstained']}):\n  {answer}")
        for nws in answer.source_nodes:
            node = nws.node
            print(
                f"  [{node.metadata['n']}] {node.metadata['title']} [{node.start_char_idx}:{node.end_char_idx}]"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Which storm did Japan express sympathy about?")
