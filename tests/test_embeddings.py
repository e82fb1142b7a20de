"""The embedder: batching must not change a vector; the sentence cache must not either."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_the_runtime_follows_the_cpu_and_a_named_one_is_checked():
    from articleqa.index.embeddings import pick_runtime

    assert pick_runtime("auto", frozenset({"avx2", "avx512_vnni"})) == "int8"
    assert pick_runtime("auto", frozenset({"asimd", "asimddp"})) == "int8"
    assert pick_runtime("auto", frozenset({"avx2", "fma"})) == "fp32"  # no int8 dot product
    assert pick_runtime("fp32", frozenset({"amx_int8"})) == "fp32"
    with pytest.raises(ValueError, match="unknown embedding runtime 'bf16'"):
        pick_runtime("bf16")


@pytest.fixture(scope="module")
def runtimes():
    from articleqa.index.embeddings import MiniLMEmbedder

    return MiniLMEmbedder(runtime="int8"), MiniLMEmbedder(runtime="fp32")


def test_both_runtimes_agree_and_find_the_same_passages(runtimes):
    """The int8 graph is the same model: its vectors agree with fp32's text by text, and a
    question's nearest sentence is the same (a broken quantisation or a model that isn't
    MiniLM fails both)."""
    from articleqa.index.embeddings import AGREE_MEAN, AGREE_MIN

    int8, fp32 = runtimes
    a, b = int8.embed(TEXTS), fp32.embed(TEXTS)
    cos = (a * b).sum(1)
    assert cos.mean() >= AGREE_MEAN and cos.min() >= AGREE_MIN, cos
    questions = ["Which storm hit Vietnam?", "Who gives Vietnam the most development aid?"]
    for emb in runtimes:
        q = emb.embed(questions)
        assert list((q @ emb.embed(TEXTS).T).argmax(1)) == [1, 0]


def test_an_int8_vector_does_not_depend_on_its_batch(runtimes):
    """Activations are quantised with one scale per run: a text batched with others would get
    another vector (an answer changed after a restart). Each text runs alone."""
    int8, _ = runtimes
    alone = int8.embed([TEXTS[0]])[0]
    with_others = int8.embed([TEXTS[3], TEXTS[0], TEXTS[2]])[1]
    assert np.array_equal(alone, with_others)


def test_a_collection_refuses_vectors_from_a_runtime_that_disagrees(tmp_path):
    """The collection records the runtime that built it; a runtime whose vectors are not
    measured to agree with it closely enough can't add to it (fp32 and int8 are)."""
    from articleqa import Config
    from articleqa.index.embeddings import runtime_mismatch
    from articleqa.index.local.vectors import StoreMismatch, VectorIndex

    assert runtime_mismatch("fp32", "int8") is None and runtime_mismatch("", "int8") is None
    cfg = Config(data_dir=tmp_path)
    VectorIndex(cfg, "all-MiniLM-L6-v2-onnx-int8", 384, "int8")
    assert VectorIndex(cfg, "all-MiniLM-L6-v2-onnx-int8", 384, "fp32").col.metadata["embed_runtime"] == "int8"
    with pytest.raises(StoreMismatch, match="built by the embedding runtime 'int8'.*'openvino-bf16'"):
        VectorIndex(cfg, "all-MiniLM-L6-v2-onnx-int8", 384, "openvino-bf16")
