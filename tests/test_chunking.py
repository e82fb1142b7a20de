from articleqa.ingest.chunking import chunk_article
from articleqa.ingest.readers import read_file
from articleqa.text import sentence_spans
from articleqa.types import Article

from .conftest import SAMPLES


def test_offsets_exact_for_every_chunk_of_both_samples(embedder):
    for path in sorted(SAMPLES.glob("*.txt")):
        (art,), _ = read_file(path)
        chunks = chunk_article(art, embedder.count_tokens, max_tokens=160, overlap=1)
        assert len(chunks) >= 3
        for c in chunks:
            assert art.text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
        # Together the chunks cover every sentence of the article.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for a, b in sentence_spans(art.text):
            assert a in covered and b - 1 in covered


def test_chunks_fit_the_model_budget(embedder):
    (art,), _ = read_file(SAMPLES / "vietnam-japan-parliamentary-agreement-vov.txt")
    for size in (32, 64, 160):
        for c in chunk_article(art, embedder.count_tokens, max_tokens=size, overlap=1):
            assert embedder.count_tokens([c.text])[0] <= size


def test_curly_quotes_and_captions_keep_offsets(embedder):
    (art,), _ = read_file(SAMPLES / "vietnam-japan-parliamentary-agreement-vov.txt")
    # The caption lines have no full stop: each line is its own sentence.
    spans = [art.text[a:b] for a, b in sentence_spans(art.text)]
    assert "vietnam and japan ink parliamentary cooperation agreement picture 2" in spans
    assert any("“training-work”" in s for s in spans)
    assert all("’" not in s[:1] for s in spans)


def test_sentence_splitter_handles_abbreviations_and_quotes():
    text = "Mr. Smith met Dr. Jones in the U.S. on Monday. “It went well.” He left at 5 p.m. Then rain."
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got == [
        "Mr. Smith met Dr. Jones in the U.S. on Monday.",
        "“It went well.”",
        "He left at 5 p.m. Then rain.",
    ]


def test_overlong_sentence_is_split_at_spaces(embedder):
    text = " ".join(f"word{i}" for i in range(600)) + "."
    art = Article(id="x", text=text, content_hash="h")
    chunks = chunk_article(art, embedder.count_tokens, max_tokens=64, overlap=0)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert embedder.count_tokens([c.text])[0] <= 64
