"""Sentence-aware chunking with exact character offsets.

Chunks are packed from whole sentences up to ``max_tokens`` word-pieces (the embedding
model's budget), neighbours share ``overlap`` sentences, and every chunk satisfies
``article.text[chunk.start:chunk.end] == chunk.text`` by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..text import sentence_spans
from ..types import Article, Chunk

# Counts word-pieces of many strings at once; the embedder's tokenizer provides it.
TokenCounter = Callable[[Sequence[str]], list[int]]


def chunk_article(article: Article, count_tokens: TokenCounter, max_tokens: int, overlap: int) -> list[Chunk]:
    """``max_tokens`` and ``overlap`` have no default here: they are ``Config.chunk_size`` and
    ``Config.chunk_overlap`` (the pipeline passes them), so the budget has one home."""
    text = article.text
    spans = _fit_spans(text, sentence_spans(text), count_tokens, max_tokens)
    if not spans:
        return []
    sizes = count_tokens([text[a:b] for a, b in spans])
    groups: list[tuple[int, int]] = []  # [first, last) sentence indices
    i = 0
    while i < len(spans):
        j, used = i, 0
        while j < len(spans) and (j == i or used + sizes[j] <= max_tokens):
            used += sizes[j]
            j += 1
        groups.append((i, j))
        if j >= len(spans):
            break
        # Step back `overlap` sentences, but always make progress.
        i = max(j - overlap, i + 1)
    prefix = article.content_hash[:8] or "0"
    return [
        Chunk(
            id=f"{article.id}:{prefix}:{n}",
            article_id=article.id,
            ord=n,
            start=spans[a][0],
            end=spans[b - 1][1],
            text=text[spans[a][0] : spans[b - 1][1]],
        )
        for n, (a, b) in enumerate(groups)
    ]


def _fit_spans(
    text: str, spans: list[tuple[int, int]], count_tokens: TokenCounter, max_tokens: int
) -> list[tuple[int, int]]:
    """Split any sentence longer than the budget at whitespace into pieces that fit."""
    sizes = count_tokens([text[a:b] for a, b in spans]) if spans else []
    out: list[tuple[int, int]] = []
    for (a, b), size in zip(spans, sizes, strict=True):
        if size <= max_tokens:
            out.append((a, b))
            continue
        # Word-pieces per character of this sentence, to size the pieces.
        step = max(1, int((b - a) * max_tokens / size * 0.9))
        s = a
        while s < b:
            e = min(b, s + step)
            if e < b:
                ws = text.rfind(" ", s + 1, e)
                e = ws if ws > s else e
            out.append((s, e))
            s = e
            while s < b and text[s].isspace():
                s += 1
    return out
