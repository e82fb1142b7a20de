"""The embedder: batching must not change a vector; the sentence cache must not either."""

from __future__ import annotations

import numpy as np

from articleqa.index.embeddings import CachedEmbedder, _batches
from articleqa.text import passage_terms, sentence_spans, terms

TEXTS = [
    "Japan is Vietnam's largest ODA donor.",
    "Typhoon Yagi caused heavy damage in northern Vietnam in September, and the two "
    "parliaments agreed to share expertise among specialised committees.",
    "Short.",
    "The committees will meet every year, alternating between Tokyo and Hanoi, to review "
    "progress on infrastructure, labour cooperation, investment and tourism, and to prepare "
    "the next steps of the comprehensive strategic partnership signed in 2023.",
]


def test_batched_vectors_equal_single_ones(embedder):
    batched = embedder.embed(TEXTS)
    single = np.stack([embedder.embed([t])[0] for t in TEXTS])
    assert batched.shape == (len(TEXTS), embedder.dim)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    # Padding is masked out: a text's vector doesn't depend on its batch mates.
    assert float((batched * single).sum(1).min()) > 0.9999
    # Different texts get different vectors (a tokenizer padding every text to a fixed length
    # with an all-ones mask would pull them together).
    assert float(batched[0] @ batched[3]) < 0.9


def test_tokenizer_does_not_pad():
    from articleqa.index.embeddings import _tokenizer

    enc = _tokenizer().encode_batch_fast(["one two", "one two three four five six seven"])
    assert len(enc[0].ids) < len(enc[1].ids) and all(enc[0].attention_mask)


def test_batches_bound_padding_and_size():
    lengths = [10, 50, 12, 11, 48, 200, 49, 13, 9, 51]
    groups = _batches(lengths, batch_size=3, slack=1.1)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        assert len(g) <= 3
        assert max(lengths[i] for i in g) * len(g) <= 1.1 * sum(lengths[i] for i in g) or len(g) == 1
    assert [len(g) for g in _batches([100] * 20, batch_size=8)] == [8, 8, 4]


def test_cached_embedder_returns_the_same_vectors_and_counts_hits(embedder):
    cached = CachedEmbedder(embedder, size=3)
    first = cached.embed(TEXTS[:2])
    again = cached.embed([TEXTS[1], TEXTS[0], TEXTS[1]])
    assert np.array_equal(again, first[[1, 0, 1]])
    assert (cached.hits, cached.misses) == (3, 2)
    cached.embed(TEXTS[2:])  # two more texts: the least recently used one is dropped
    assert len(cached._lru) == 3 and cached.embed([]).shape == (0, embedder.dim)


def test_passage_terms_match_whole_and_per_sentence_terms():
    text = " ".join(TEXTS) + "\nA caption line\nMr. Tanaka said: “We’ll see.” Then he left."
    whole, sents = passage_terms(text)
    assert whole == frozenset(terms(text))
    assert [(a, b) for a, b, _ in sents] == sentence_spans(text)
    assert all(t == frozenset(terms(text[a:b])) for a, b, t in sents)
