"""Synthetic but realistic benchmark corpora, built from the bundled text.

Source paragraphs are the SQuAD subset's Wikipedia paragraphs and the sample news
articles. Each generated article takes 3-5 paragraphs (mostly from one topic, sometimes
one from another), shuffles the sentences of each paragraph, rewrites some numbers and
swaps some capitalised names, so no two articles are copies and chunk texts are unique
(an embedding cache keyed by text would otherwise be unrealistically effective).

Article ``i`` depends only on ``(seed, i)``: the corpus of 10k chunks is a prefix of the
one of 100k. Chunks are counted with articleqa's own chunker and tokenizer while
generating, so a corpus holds (just over) the requested number of chunks.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from articleqa.config import Config
from articleqa.index.embeddings import MiniLMEmbedder
from articleqa.ingest.chunking import chunk_article
from articleqa.ingest.readers import content_hash
from articleqa.text import sentence_spans
from articleqa.types import Article

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "eval" / "datasets" / "squad-v1.1-dev-subset.json"
SAMPLES = ROOT / "examples" / "articles"

OUTLETS = ["Reuters", "AP", "VOV", "BBC", "Nikkei", "The Guardian", "DW", "Le Monde", "NHK", "AFP"]
# Readers refuse files over max_file_mb (20 MB): shard well below it.
SHARD_BYTES = 8 * 1024 * 1024

_NUM = re.compile(r"\d+")
_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}\b")


@dataclass
class Corpus:
    dir: Path
    n_articles: int
    n_chunks: int
    n_bytes: int
    # Exactly the chunk texts `Assistant.ingest` will embed (same chunker, same config).
    chunk_texts: list[str] = field(repr=False, default_factory=list)


def source_paragraphs() -> dict[str, list[str]]:
    """topic → paragraphs: 12 SQuAD Wikipedia articles and the two sample news articles."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    topics = {a["title"].replace("_", " "): [p["context"] for p in a["paragraphs"]] for a in data}
    news = [ln.strip() for f in sorted(SAMPLES.glob("*.txt")) for ln in f.read_text().splitlines()]
    topics["Vietnam Japan relations"] = [p for p in news if len(p) > 80]
    return topics


def questions(n: int, seed: int = 0) -> list[str]:
    """``n`` SQuAD questions spread over the topics (deterministic)."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    qs = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    return random.Random(seed).sample(qs, min(n, len(qs)))


class Generator:
    def __init__(self, seed: int = 0):
        self.seed = seed
        self.topics = source_paragraphs()
        self.names = sorted(
            {m.group(0) for ps in self.topics.values() for p in ps for m in _NAME.finditer(p)}
        )
        self.topic_names = sorted(self.topics)

    def _vary(self, para: str, rng: random.Random) -> str:
        sents = [para[a:b] for a, b in sentence_spans(para)]
        rng.shuffle(sents)
        text = " ".join(sents)

        def num(m: re.Match) -> str:
            s = m.group(0)
            if rng.random() < 0.5:
                return s
            first = str(rng.randint(1, 9)) if len(s) > 1 else str(rng.randint(0, 9))
            return first + "".join(str(rng.randint(0, 9)) for _ in s[1:])

        text = _NUM.sub(num, text)
        return _NAME.sub(lambda m: rng.choice(self.names) if rng.random() < 0.1 else m.group(0), text)

    def article(self, i: int) -> Article:
        rng = random.Random(f"{self.seed}-{i}")
        topic = rng.choice(self.topic_names)
        paras = []
        for _ in range(rng.randint(3, 5)):
            t = topic if rng.random() < 0.75 else rng.choice(self.topic_names)
            paras.append(self._vary(rng.choice(self.topics[t]), rng))
        text = "\n\n".join(paras)
        lead = " ".join(paras[0].split()[:6]).rstrip(",.;:")
        art = Article(
            id=f"bench-{i:06d}",
            text=text,
            title=f"{topic}: {lead}",
            source=rng.choice(OUTLETS),
            published_at=f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            key=f"jsonl:bench-{i:06d}",
        )
        art.content_hash = content_hash(art)
        return art


def build(out_dir: Path, n_chunks: int, seed: int = 0, cfg: Config | None = None) -> Corpus:
    """Write JSONL shards under ``out_dir`` until they hold at least ``n_chunks`` chunks."""
    cfg = cfg or Config()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jsonl"):
        old.unlink()
    gen = Generator(seed)
    counter = MiniLMEmbedder().count_tokens  # tokenizer only: the model is not loaded
    texts: list[str] = []
    n_articles = n_bytes = shard = shard_bytes = 0
    f = (out_dir / f"part-{shard:03d}.jsonl").open("w", encoding="utf-8")
    try:
        while len(texts) < n_chunks:
            art = gen.article(n_articles)
            n_articles += 1
            texts += [c.text for c in chunk_article(art, counter, cfg.chunk_size, cfg.chunk_overlap)]
            line = json.dumps(
                {"id": art.id, "title": art.title, "source": art.source,
                 "published_at": art.published_at, "text": art.text},
                ensure_ascii=False,
            ) + "\n"  # fmt: skip
            size = len(line.encode("utf-8"))
            if shard_bytes and shard_bytes + size > SHARD_BYTES:
                f.close()
                shard += 1
                shard_bytes = 0
                f = (out_dir / f"part-{shard:03d}.jsonl").open("w", encoding="utf-8")
            f.write(line)
            shard_bytes += size
            n_bytes += size
    finally:
        f.close()
    return Corpus(out_dir, n_articles, len(texts), n_bytes, texts)
