"""The baseline: a plain llama-index pipeline (defaults throughout) to compare against.

``VectorStoreIndex`` over Chroma, llama-index's default ``SentenceSplitter`` and vector-only
retrieval of the top 10 nodes. It embeds with the same model as articleqa, so differences
come from chunking, retrieval and answering. Its answer is the top passage, cited as [1];
it never abstains. Only constructor arguments are used: ``llama_index.core.Settings`` is
left alone and no LLM is configured (retrieval needs none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from pydantic import PrivateAttr

from ..answer.base import cite
from ..index.embeddings import Embedder, MiniLMEmbedder
from ..types import Answer, Article, Chunk, Hit

TOP_K = 10


class ArticleQAEmbedding(BaseEmbedding):
    """llama-index adapter for articleqa's embedder (MiniLM int8 ONNX by default)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any):
        embedder = embedder or MiniLMEmbedder()
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "ArticleQAEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()


class Baseline:
    """Index ``articles`` into a fresh Chroma store under ``persist_dir``; answer and retrieve."""

    def __init__(
        self,
        articles: list[Article],
        persist_dir: str | Path,
        embedder: Embedder | None = None,
        chunk_size: int | None = None,
    ):
        """``chunk_size`` (tokens) replaces the splitter's default 1,024, e.g. to fit the model."""
        import chromadb
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.texts = {a.id: a.text for a in articles}
        self.meta = {a.id: a for a in articles}
        client = chromadb.PersistentClient(
            path=str(persist_dir), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        # embedding_function=None: Chroma's default one would try to download a model.
        col = client.get_or_create_collection(
            "baseline", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
        docs = [
            Document(
                text=a.text,
                id_=a.id,
                metadata={"article_id": a.id},
                # The id is bookkeeping only: keep it out of what gets embedded.
                excluded_embed_metadata_keys=["article_id"],
                excluded_llm_metadata_keys=["article_id"],
            )
            for a in articles
        ]
        self.index = VectorStoreIndex.from_documents(
            docs,
            storage_context=storage,
            embed_model=ArticleQAEmbedding(embedder, embed_batch_size=32),
            transformations=[
                SentenceSplitter()
                if chunk_size is None
                else SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_size // 10)
            ],
        )
        self.retriever = self.index.as_retriever(similarity_top_k=TOP_K)

    def retrieve(self, question: str) -> list[Hit]:
        """The top 10 nodes as articleqa `Hit`s, with offsets into the article text."""
        hits = []
        for rank, nws in enumerate(self.retriever.retrieve(question)):
            node = nws.node
            aid = node.metadata.get("article_id") or node.ref_doc_id or ""
            text = node.get_content()
            start, end = node.start_char_idx, node.end_char_idx
            if start is None or end is None:  # the splitter could not place it: find it
                start = self.texts.get(aid, "").find(text)
                end = start + len(text) if start >= 0 else -1
            art = self.meta.get(aid)
            hits.append(
                Hit(
                    chunk=Chunk(id=node.node_id, article_id=aid, ord=rank, start=start, end=end, text=text),
                    title=art.title if art else "",
                    source=art.source if art else "",
                    score=float(nws.score or 0.0),
                    vector_score=nws.score,
                    rank=rank,
                )
            )
        return hits

    def ask(self, question: str) -> Answer:
        """The top passage, verbatim, cited as [1]."""
        hits = self.retrieve(question)
        if not hits:
            return Answer(question, "", True, [], [], 0.0, "baseline")
        h = hits[0]
        cit = cite(1, h, h.chunk.start, h.chunk.end)
        return Answer(question, f"{h.chunk.text} [1]", False, [cit], hits, h.score, "baseline")
