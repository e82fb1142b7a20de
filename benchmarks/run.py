"""Ingestion and query benchmarks, articleqa side by side with the plain llama-index pipeline.

    python benchmarks/run.py --sizes 1k,10k,100k --out benchmarks/results
    python benchmarks/run.py --sizes 1k,10k --store postgres   # the postgres backend beside local

For each size: build a corpus of about that many chunks (benchmarks/corpus.py), then in a
fresh process each: the embedding model alone on a sample (the ceiling), articleqa's
ingestion, the llama-index baseline's ingestion and retrieval, and an articleqa serving
process answering questions. Writes results.json, results.md and results.png to --out.

With ``--store postgres`` articleqa's ingestion and serving are also run on the postgres
backend, in the same run: a local PostgreSQL (articleqa.postgres_server) started in the
work dir, one database per size.

Sizes at or above --cache-above reuse cached embeddings for ingestion (both pipelines):
every text either pipeline will embed is embedded once into --cache-dir (and kept for
later runs), then ingestion replays those vectors, so it measures everything but the
model. The model ceiling and all query latencies are always measured live.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ENV = {"ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
os.environ.update(ENV)

import corpus as corpus_mod  # noqa: E402
import report  # noqa: E402

from articleqa.config import Config  # noqa: E402
from articleqa.index.embeddings import pick_runtime  # noqa: E402


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("km")) * mult)


def label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def machine() -> dict:
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), platform.processor(),
    )  # fmt: skip
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(), "platform": platform.platform(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def ver(p: str) -> str | None:
        try:
            return version(p)
        except PackageNotFoundError:
            return None

    pkgs = ["articleqa", "chromadb", "llama-index-core", "onnxruntime", "PyStemmer", "tokenizers", "numpy"]
    return {p: ver(p) for p in pkgs}


# llama-index's SentenceSplitter counts tiktoken tokens; at 200 of them its nodes stay within
# the 256 word-pieces MiniLM reads (the report gives the share that doesn't: truncated_share).
FIT_CHUNK_SIZE = 200


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path):
        self.args = args
        self.work = work
        self.pg = None

    def postgres(self):
        """The run's PostgreSQL (started on first use, stopped by `close`)."""
        if self.pg is None:
            from articleqa.postgres_server import LocalPostgres

            self.pg = LocalPostgres.temporary("articleqa-bench-pg-")
        return self.pg

    def close(self) -> None:
        if self.pg is not None:
            self.pg.discard()

    def child(self, task: str, params: dict, name: str) -> dict:
        """Run one worker task in a fresh interpreter; its JSON result."""
        pfile, rfile = self.work / f"{name}.params.json", self.work / f"{name}.result.json"
        if self.args.profile:
            params["profile"] = str(self.args.out / "profiles" / f"{name}.txt")
        pfile.write_text(json.dumps(params))
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(HERE / "worker.py"), task, str(pfile), str(rfile)], env=os.environ.copy()
        )
        if proc.returncode != 0:
            raise SystemExit(f"benchmark step {name} failed (exit {proc.returncode})")
        res = json.loads(rfile.read_text())
        res["wall_s"] = round(time.perf_counter() - t, 2)
        return res

    def fill(self, lab: str, corp, texts_file: Path) -> dict:
        """Embed into the cache every text either pipeline will embed that it lacks."""
        log(f"[{lab}] filling the embedding cache {self.args.cache_dir} (only texts it lacks are embedded)")
        return self.child(
            "fill", {"texts": str(texts_file), "corpus": str(corp.dir), "cache_dir": str(self.args.cache_dir),
                     "batch_size": self.args.batch_size, "synthetic": self.args.synthetic_vectors}, f"{lab}-fill",
        )  # fmt: skip

    def size(self, n: int) -> dict:
        a, lab = self.args, label(n)
        cached = n >= a.cache_above
        log(f"[{lab}] building the corpus")
        t = time.perf_counter()
        corp = corpus_mod.build(self.work / f"corpus-{lab}", n, seed=a.seed)
        gen_s = time.perf_counter() - t
        texts_file = self.work / f"chunks-{lab}.json"
        texts_file.write_text(json.dumps(corp.chunk_texts))
        sample = random.Random(a.seed).sample(corp.chunk_texts, min(a.model_sample, corp.n_chunks))
        sample_file = self.work / f"sample-{lab}.json"
        sample_file.write_text(json.dumps(sample))
        # Two samples: one for retrieval (both pipelines), one for full answers.
        both = corpus_mod.questions(2 * a.questions, a.seed)
        qs, ask_qs = both[: a.questions], both[a.questions :]
        out: dict = {
            "label": lab, "target_chunks": n,
            "corpus": {"articles": corp.n_articles, "chunks": corp.n_chunks, "jsonl_bytes": corp.n_bytes,
                       "shards": len(list(corp.dir.glob("*.jsonl"))), "generate_s": round(gen_s, 2)},
            "embeddings_reused": cached,
        }  # fmt: skip
        log(f"[{lab}] {corp.n_articles} articles, {corp.n_chunks} chunks; the model alone on {len(sample)}")
        out["model"] = self.child(
            "model", {"texts": str(sample_file), "batch_size": a.batch_size}, f"{lab}-model"
        )
        cache_dir = None
        if cached:
            cache_dir = str(a.cache_dir)
            out["cache_fill"] = self.fill(lab, corp, texts_file)
        common = {"corpus": str(corp.dir), "cache_dir": cache_dir}
        ours_dir, base_dir = self.work / f"data-{lab}", self.work / f"baseline-{lab}"
        for d in (ours_dir, base_dir):
            shutil.rmtree(d, ignore_errors=True)
        log(f"[{lab}] articleqa ingestion")
        out["articleqa_ingest"] = self.child("ingest", {**common, "data_dir": str(ours_dir)}, f"{lab}-ingest")
        log(f"[{lab}] llama-index baseline ingestion and retrieval")
        out["baseline"] = self.child(
            "baseline", {**common, "data_dir": str(base_dir), "questions": qs}, f"{lab}-baseline"
        )
        if not cached and n <= a.fit_up_to:  # live only: the cache holds the default splitter's nodes
            log(f"[{lab}] llama-index baseline with chunks fitted to the model ({FIT_CHUNK_SIZE} tokens)")
            fit_dir = self.work / f"baseline-fit-{lab}"
            shutil.rmtree(fit_dir, ignore_errors=True)
            out["baseline_fit"] = self.child(
                "baseline", {**common, "data_dir": str(fit_dir), "questions": qs, "chunk_size": FIT_CHUNK_SIZE},
                f"{lab}-baseline-fit",
            )  # fmt: skip
            shutil.rmtree(fit_dir, ignore_errors=True)
        log(f"[{lab}] articleqa serving: {len(qs)} + {len(ask_qs)} questions")
        out["articleqa_serve"] = self.child(
            "serve", {"data_dir": str(ours_dir), "questions": qs, "ask_questions": ask_qs}, f"{lab}-serve"
        )
        if "postgres" in a.store:
            pg = {
                "store": "postgres",
                "database_url": self.postgres().new_database(f"bench_{lab}"),
                "data_dir": str(ours_dir) + "-pg",
            }
            log(f"[{lab}] articleqa ingestion, postgres store")
            out["postgres_ingest"] = self.child("ingest", {**common, **pg}, f"{lab}-ingest-pg")
            log(f"[{lab}] articleqa serving, postgres store")
            out["postgres_serve"] = self.child(
                "serve", {**pg, "questions": qs, "ask_questions": ask_qs}, f"{lab}-serve-pg"
            )
        out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
        report.derive(out)
        if not a.keep:
            for d in (ours_dir, base_dir, corp.dir):
                shutil.rmtree(d, ignore_errors=True)
        return out


def fill_only(a: argparse.Namespace, sizes: list[int]) -> int:
    """Fill the cache ahead of a measured run (the fill is the model's time, so it needs no quiet machine)."""
    with tempfile.TemporaryDirectory(prefix="articleqa-fill-") as tmp:
        runner, work = Runner(a, Path(tmp)), Path(tmp)
        for n in sizes:
            lab = label(n)
            log(f"[{lab}] building the corpus")
            corp = corpus_mod.build(work / f"corpus-{lab}", n, seed=a.seed)
            texts_file = work / f"chunks-{lab}.json"
            texts_file.write_text(json.dumps(corp.chunk_texts))
            log(f"[{lab}] cache: {runner.fill(lab, corp, texts_file)}")
    return 0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1k,10k,100k", help="chunk counts, e.g. 300,1k,10k,100k")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="where results.{json,md,png} go")
    ap.add_argument("--work-dir", type=Path, help="corpora and stores (default: a temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep corpora and stores in --work-dir")
    ap.add_argument("--questions", type=int, default=50, help="SQuAD questions timed per size")
    ap.add_argument("--model-sample", type=int, default=2000, help="chunks embedded for the ceiling")
    ap.add_argument("--batch-size", type=int, default=8, help="embedding batch for the ceiling")
    ap.add_argument("--cache-above", type=parse_size, default=50_000,
                    help="sizes >= this replay cached embeddings during ingestion")  # fmt: skip
    ap.add_argument("--cache-dir", type=Path, default=HERE / ".cache" / "minilm-vectors")
    ap.add_argument("--fit-up-to", type=parse_size, default=10_000,
                    help="also run llama-index with chunks fitted to the model at sizes up to this")  # fmt: skip
    ap.add_argument("--store", default="local", help="backends to measure: local, or local,postgres")
    ap.add_argument("--synthetic-vectors", action="store_true",
                    help="fill the cache with hashed stand-in vectors, not the model's (speed and memory only)")  # fmt: skip
    ap.add_argument("--embed-runtime", default="auto", choices=["auto", "int8", "fp32"],
                    help="MiniLM's runtime for every pipeline (index/embeddings.py RUNTIMES)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="pyinstrument each step into OUT/profiles/")
    ap.add_argument("--fill-only", action="store_true",
                    help="only build the cached sizes' corpora and fill the embedding cache, measure nothing")  # fmt: skip
    a = ap.parse_args(argv)
    if a.synthetic_vectors and a.cache_dir == HERE / ".cache" / "minilm-vectors":
        a.cache_dir = HERE / ".cache" / "synthetic-vectors"  # never mixed with the model's
    sizes = [parse_size(s) for s in a.sizes.split(",") if s.strip()]
    if a.fill_only:
        return fill_only(a, [n for n in sizes if n >= a.cache_above])
    a.out.mkdir(parents=True, exist_ok=True)
    if a.profile:
        (a.out / "profiles").mkdir(exist_ok=True)
    tmp = None
    if a.work_dir is None:
        tmp = tempfile.mkdtemp(prefix="articleqa-bench-")
        a.work_dir = Path(tmp)
    a.work_dir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    os.environ["ARTICLEQA_EMBED_RUNTIME"] = a.embed_runtime  # the workers' (worker.minilm)
    cfg = Config()
    knobs = ("chunk_size", "chunk_overlap", "embed_batch_size", "embed_threads", "top_k", "candidate_k")
    results = {"command": command.strip(), "machine": machine(), "versions": versions(),
               "synthetic_vectors": a.synthetic_vectors,
               "config": {k: getattr(cfg, k) for k in knobs} | {"embed_runtime": pick_runtime(a.embed_runtime)},
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "sizes": []}  # fmt: skip
    t0 = time.perf_counter()
    runner = Runner(a, a.work_dir)
    try:
        for n in sizes:
            results["sizes"].append(runner.size(n))
            results["total_s"] = round(time.perf_counter() - t0, 1)
            report.write(results, a.out)  # after each size: a long run leaves partial results
    finally:
        runner.close()
        if tmp and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"done in {results['total_s']:.0f}s: {a.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
