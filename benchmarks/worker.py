"""One measurement in a fresh process: ``python benchmarks/worker.py TASK params.json result.json``.

A fresh process per measurement makes peak RSS (VmHWM, read at the end) belong to that
measurement alone, and keeps one pipeline's caches and imports from helping the other.
Tasks: ``model`` (the embedding ceiling), ``fill`` (embed into the vector cache),
``ingest`` (articleqa), ``serve`` (articleqa queries), ``baseline`` (llama-index ingest + queries).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

for _k, _v in {
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}.items():
    os.environ.setdefault(_k, _v)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedcache import CachingEmbedder, HashingEmbedder, TimedEmbedder, VectorCache  # noqa: E402

MAX_SEQ = 256


def proc_status() -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, in MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(val.split()[0]) / 1024
    return {"peak_rss_mb": round(out.get("VmHWM", 0.0), 1), "rss_mb": round(out.get("VmRSS", 0.0), 1)}


def disk_bytes(path: Path) -> int:
    """Allocated bytes under ``path``, like ``du``."""
    return sum((Path(root) / f).stat().st_blocks * 512 for root, _, files in os.walk(path) for f in files)


def model_tokens(embedder, texts: list[str]) -> int:
    """Word-pieces the model runs on: [CLS] text [SEP], truncated at 256, no padding."""
    return sum(min(n + 2, MAX_SEQ) for n in embedder.count_tokens(texts))


def truncated_share(embedder, texts: list[str]) -> float:
    """Share of texts longer than the model reads (their tail never reaches the vector)."""
    counts = embedder.count_tokens(texts)
    return round(sum(n + 2 > MAX_SEQ for n in counts) / max(len(counts), 1), 4)


def latency(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    pct = lambda p: s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]  # noqa: E731 (nearest rank)
    return {
        "p50": round(statistics.median(s), 2), "p95": round(pct(95), 2),
        "mean": round(statistics.fmean(s), 2), "max": round(s[-1], 2), "n": len(s),
    }  # fmt: skip


@contextmanager
def profiled(path: str | None):
    """pyinstrument over the block when a profile path is given (``run.py --profile``)."""
    if not path:
        yield
        return
    from pyinstrument import Profiler  # installed by hand: pip install pyinstrument

    prof = Profiler(interval=0.005)
    prof.start()
    try:
        yield
    finally:
        prof.stop()
        Path(path).write_text(prof.output_text(unicode=True, color=False, show_all=False))


def minilm(batch_size: int = 8):
    """The model every pipeline of a run embeds with: the runtime ``run.py --embed-runtime``
    chose (auto: the CPU's fastest), session loaded."""
    from articleqa.index.embeddings import MiniLMEmbedder

    emb = MiniLMEmbedder(batch_size=batch_size, runtime=os.environ.get("ARTICLEQA_EMBED_RUNTIME", "auto"))
    emb.embed(["warm up: load the ONNX session before the clock starts"])
    return emb


def wrap(inner, cache_dir: str | None):
    """The embedder a pipeline gets: cached vectors when ``cache_dir``, and always timed."""
    cached = CachingEmbedder(inner, VectorCache(Path(cache_dir))) if cache_dir else None
    return TimedEmbedder(cached or inner), cached


def cache_info(cached) -> dict:
    return {"cache_hits": cached.hits, "cache_misses": cached.misses} if cached else {}


# ---- tasks ------------------------------------------------------------------------------
def task_model(p: dict) -> dict:
    """The ceiling: ``MiniLMEmbedder.embed`` alone on a sample of the corpus's chunk texts."""
    texts = json.loads(Path(p["texts"]).read_text())
    emb = minilm(p["batch_size"])
    with profiled(p.get("profile")):
        t = time.perf_counter()
        emb.embed(texts)
        dt = time.perf_counter() - t
    tokens = model_tokens(emb, texts)
    return {
        "sample_chunks": len(texts), "tokens": tokens, "seconds": round(dt, 3),
        "chunks_per_s": round(len(texts) / dt, 2), "tokens_per_s": round(tokens / dt, 1),
        "batch_size": emb.batch_size, **proc_status(),
    }  # fmt: skip


def baseline_documents(articles):
    """The Documents `Baseline` builds (same text and excluded metadata)."""
    from llama_index.core import Document

    return [
        Document(text=a.text, id_=a.id, metadata={"article_id": a.id},
                 excluded_embed_metadata_keys=["article_id"], excluded_llm_metadata_keys=["article_id"])
        for a in articles
    ]  # fmt: skip


def read_corpus(corpus_dir: str):
    from articleqa.ingest.sources import read_paths

    read = read_paths([corpus_dir])
    assert not read.errors, read.errors
    return read.articles


def task_fill(p: dict) -> dict:
    """Embed every text either pipeline will embed that the cache lacks, and store it."""
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode

    cache = VectorCache(Path(p["cache_dir"]))
    ours = json.loads(Path(p["texts"]).read_text())
    nodes = SentenceSplitter()(baseline_documents(read_corpus(p["corpus"])))
    theirs = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    texts = list(dict.fromkeys(ours + theirs))
    todo = [t for t, r in zip(texts, cache.rows(texts), strict=True) if r < 0]
    emb = HashingEmbedder() if p.get("synthetic") else minilm(p["batch_size"])
    t = time.perf_counter()
    for s in range(0, len(todo), 2048):  # save as we go: a long fill can be resumed
        part = todo[s : s + 2048]
        cache.add(part, emb.embed(part))
        print(f"  cache fill: {min(s + 2048, len(todo))}/{len(todo)}", file=sys.stderr, flush=True)
    return {
        "texts": len(texts), "embedded": len(todo), "already_cached": len(texts) - len(todo),
        "seconds": round(time.perf_counter() - t, 1), "cache_rows": len(cache),
    }  # fmt: skip


def task_ingest(p: dict) -> dict:
    """``Assistant.ingest`` of the JSONL corpus into an empty data dir."""
    from articleqa import Assistant
    from articleqa.index import open_store

    cfg = config(p)
    timed, cached = wrap(minilm(cfg.embed_batch_size), p.get("cache_dir"))
    qa = Assistant(cfg, store=open_store(cfg, embedder=timed))
    with profiled(p.get("profile")):
        t = time.perf_counter()
        report = qa.ingest([p["corpus"]])
        dt = time.perf_counter() - t
    assert report.ok, report.errors
    mem = proc_status()
    stats = qa.stats()
    n_articles, n_chunks = stats.articles, stats.passages
    texts = [c.text for r in qa.store.article_stats() for c in qa.store.article_chunks(r.id)]
    tokens = model_tokens(timed, texts)
    return {
        "seconds": round(dt, 3), "articles": n_articles, "chunks": n_chunks, "tokens": tokens,
        "chunks_per_s": round(n_chunks / dt, 2), "articles_per_s": round(n_articles / dt, 2),
        "tokens_per_s": round(tokens / dt, 1),
        "embed_seconds": round(timed.seconds, 3), "other_seconds": round(dt - timed.seconds, 3),
        "truncated_share": truncated_share(timed, texts),
        "disk_bytes": store_bytes(p), **cache_info(cached), **mem,
    }  # fmt: skip


def config(p: dict):
    """The task's `Config`: the local store in ``data_dir``, or ``store``/``database_url``."""
    from articleqa import Config

    return Config(data_dir=p["data_dir"], store=p.get("store", "local"), database_url=p.get("database_url"))


def store_bytes(p: dict) -> int:
    """What the store takes on disk: the data dir, or the database's size."""
    if p.get("store", "local") == "local":
        return disk_bytes(Path(p["data_dir"]))
    import psycopg

    with psycopg.connect(p["database_url"]) as c:
        return int(c.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def task_serve(p: dict) -> dict:
    """A serving process: open the store, then retrieval for ``questions`` and full answers
    for ``ask_questions`` (a different sample, so answering doesn't reuse what retrieving the
    same question cached), then the same answers again (``ask_repeat_ms``: a follow-up that
    returns to the same passages finds their sentence vectors cached).

    The embedder is timed, so each answer's latency splits into model time (question +
    candidate sentences not yet cached) and everything else.
    """
    from articleqa import Assistant
    from articleqa.index import open_store

    qs, ask_qs = p["questions"], p.get("ask_questions") or p["questions"]
    t = time.perf_counter()
    cfg = config(p)
    timed = TimedEmbedder(minilm(cfg.embed_batch_size))  # model load
    qa = Assistant(cfg, store=open_store(cfg, embedder=timed))
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    qa.ask(qs[0])  # opens Chroma, loads/builds BM25: the first question pays for it
    first_s = time.perf_counter() - t
    retrieve_ms, ask_ms, embed_ms, embedded, repeat_ms = [], [], [], [], []
    with profiled(p.get("profile")):
        for q in qs:
            t = time.perf_counter()
            qa.retrieve(q)
            retrieve_ms.append((time.perf_counter() - t) * 1000)
        cache = qa.store.sentence_embedder
        h0, m0 = cache.hits, cache.misses
        for q in ask_qs:
            e0, n0 = timed.seconds, timed.texts
            t = time.perf_counter()
            qa.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
            embed_ms.append((timed.seconds - e0) * 1000)
            embedded.append(timed.texts - n0)
        hits, misses = cache.hits - h0, cache.misses - m0
        for q in ask_qs:
            t = time.perf_counter()
            qa.ask(q)
            repeat_ms.append((time.perf_counter() - t) * 1000)
    return {
        "questions": len(qs), "ask_questions": len(ask_qs),
        "ask_repeat_ms": latency(repeat_ms),
        "sentence_cache_hit_share": round(hits / max(hits + misses, 1), 3), "load_s": round(load_s, 3), "first_query_s": round(first_s, 3),
        "retrieve_ms": latency(retrieve_ms), "ask_ms": latency(ask_ms),
        "ask_embed_ms": latency(embed_ms), "ask_other_ms": latency([a - e for a, e in zip(ask_ms, embed_ms, strict=True)]),
        "ask_texts_embedded_mean": round(statistics.fmean(embedded), 1), **proc_status(),
    }  # fmt: skip


def task_baseline(p: dict) -> dict:
    """The plain llama-index pipeline: read the same JSONL, index it, then retrieve."""
    import chromadb

    from articleqa.evaluation.baseline import Baseline

    timed, cached = wrap(minilm(), p.get("cache_dir"))
    with profiled(p.get("profile")):
        t = time.perf_counter()
        articles = read_corpus(p["corpus"])
        bl = Baseline(articles, p["data_dir"], embedder=timed, chunk_size=p.get("chunk_size"))
        dt = time.perf_counter() - t
    mem, cache = proc_status(), cache_info(cached)  # before queries: those always miss the cache
    bl.retrieve(p["questions"][0])  # warm
    retrieve_ms = []
    for q in p["questions"]:
        t = time.perf_counter()
        bl.retrieve(q)
        retrieve_ms.append((time.perf_counter() - t) * 1000)
    col = chromadb.PersistentClient(
        path=p["data_dir"], settings=chromadb.Settings(anonymized_telemetry=False)
    ).get_collection("baseline")
    n_nodes = col.count()
    docs = []
    for s in range(0, n_nodes, 5000):
        docs += col.get(include=["documents"], limit=5000, offset=s)["documents"]
    tokens = model_tokens(timed, docs)
    return {
        "chunk_size": p.get("chunk_size"), "truncated_share": truncated_share(timed, docs),
        "seconds": round(dt, 3), "articles": len(articles), "chunks": n_nodes, "tokens": tokens,
        "chunks_per_s": round(n_nodes / dt, 2), "articles_per_s": round(len(articles) / dt, 2),
        "tokens_per_s": round(tokens / dt, 1),
        "embed_seconds": round(timed.seconds, 3), "other_seconds": round(dt - timed.seconds, 3),
        "disk_bytes": disk_bytes(Path(p["data_dir"])), "retrieve_ms": latency(retrieve_ms),
        **cache, **mem, "peak_rss_after_queries_mb": proc_status()["peak_rss_mb"],
    }  # fmt: skip


TASKS = {"model": task_model, "fill": task_fill, "ingest": task_ingest, "serve": task_serve,
         "baseline": task_baseline}  # fmt: skip

if __name__ == "__main__":
    task, params, result = sys.argv[1:4]
    res = TASKS[task](json.loads(Path(params).read_text()))
    Path(result).write_text(json.dumps(res, indent=2))
