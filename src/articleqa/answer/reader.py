"""The trained models that judge answers, at run time (int8 ONNX, onnxruntime; no torch):

- `SpanReader`, the reader (``evidence = "reader"``, and the short answer with any
  evidence): MiniLM-L6 that reads a question with a window of a passage and gives the answer
  span in it and the probability that the window answers at all (trained by
  ``train/reader_model.py``);
- `AnswerModel` (``evidence = "model"``): a MiniLM-L6 cross-encoder giving the probability
  that one sentence answers a question (``train/answer_model.py``).

Their model cards are in ``data/models/README.md``. Both use the embedding model's own
vocabulary (``index/minilm/tokenizer.json``), so no second tokenizer ships. Loaded on first
use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..index.embeddings import QUERY_SPIN, TOKENIZER_PATH, onnx_session
from ..resources import data

MODEL_FILE = "answer-minilm-l6-int8.onnx"
MAX_LEN = 128  # the training length (train/answer_model.py)


def model_path() -> Path:
    return Path(str(data("models", MODEL_FILE)))


def _load(path: Path, what: str, threads: int, max_len: int, strategy: str = "longest_first"):
    """An onnxruntime session of ``path`` and the vocabulary's tokenizer, truncating pairs."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise FileNotFoundError(f"{what} not found at {path}")
    tok = Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.enable_truncation(max_len, strategy=strategy)
    tok.no_padding()
    return onnx_session(path, threads, spin=QUERY_SPIN), tok


def _feeds(part) -> dict[str, np.ndarray]:
    """A batch of encodings padded to its longest, as the models' inputs."""
    width = max(len(e.ids) for e in part)
    ids = np.zeros((len(part), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(part):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], types[i, :n] = e.ids, e.attention_mask, e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class AnswerModel:
    """``probabilities(question, sentences)``: P(sentence answers question), one per sentence."""

    def __init__(self, path: Path | None = None, threads: int = 0):
        self.path = path or model_path()
        self.threads = threads
        self._session = None
        self._tok = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        self._session, self._tok = _load(self.path, "answer model", self.threads, MAX_LEN)

    def probabilities(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            if self._session is None:
                self._load()
            enc = self._tok.encode_batch([(question, s) for s in sentences])
            out = np.zeros(len(sentences), dtype=np.float32)
            # One sentence per run, as the reader (`SpanReader.read`): batched, a sentence's
            # probability moved by up to 0.18 with its batch mates (the sample article's 19
            # sentences, 2026-12-06).
            for i, e in enumerate(enc):
                logit = float(self._session.run(None, _feeds([e]))[0].reshape(-1)[0])
                out[i] = 1.0 / (1.0 + np.exp(-logit))
        return out


# ---- the reader: answer span and answerability over a passage window ---------------------------
READER_FILE = "reader-minilm-l6-int8.onnx"
READER_MAX_LEN = 192  # question + window word-pieces (train/reader_model.py MAX_LEN)
# Only the window is cut when a pair is too long, so a longer question is cut to its first
# READER_MAX_QUESTION word-pieces first (a 2,000-character question left no room and the
# tokenizer raised). 64: SQuAD readers' usual max_query_length.
READER_MAX_QUESTION = 64
# Longest answer span, in word-pieces. SQuAD-style readers use 30; news answers (a name, a
# figure, a short phrase) are shorter.
MAX_SPAN = 30


@dataclass
class Reading:
    """What the reader found in one window: P(the window answers), the best span (character
    offsets in the window; (-1, -1) when it has none) and the span's margin over "no answer"
    (start + end logit of the span minus those of ``[CLS]``)."""

    answerable: float
    start: int
    end: int
    margin: float


class SpanReader:
    """``read(question, windows)``: one `Reading` per window (int8 ONNX, onnxruntime)."""

    def __init__(self, path: Path | None = None, threads: int = 0):
        self.path = path or Path(str(data("models", READER_FILE)))
        self.threads = threads
        self._session = None
        self._tok = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        # Only the window is cut when too long: the question is read whole.
        self._session, self._tok = _load(
            self.path, "reader model", self.threads, READER_MAX_LEN, "only_second"
        )

    def read(self, question: str, windows: Sequence[str]) -> list[Reading]:
        if not windows:
            return []
        with self._lock:
            if self._session is None:
                self._load()
            question = self._clipped(question)
            enc = self._tok.encode_batch([(question, w) for w in windows])
            out: list[Reading] = []
            # One window per run: dynamic int8 quantises activations with one scale per run,
            # so a batched window's reading depends on its batch mates (the sample's
            # "Typhoon Yagi" window: answerability 0.57 alone, 0.65 among the article's other
            # paragraphs); unpadded, it is also faster (19 windows: 209 ms against 307 ms).
            for e in enc:
                starts, ends, answerable = self._session.run(None, _feeds([e]))
                out.append(_decode(e, starts[0], ends[0], float(answerable[0])))
        return out

    def _clipped(self, question: str) -> str:
        """``question`` cut after its first ``READER_MAX_QUESTION`` word-pieces."""
        trunc = self._tok.truncation
        self._tok.no_truncation()
        try:
            offsets = self._tok.encode(question, add_special_tokens=False).offsets
        finally:
            self._tok.enable_truncation(trunc["max_length"], strategy=trunc["strategy"])
        return (
            question
            if len(offsets) <= READER_MAX_QUESTION
            else question[: offsets[READER_MAX_QUESTION - 1][1]]
        )


def _decode(enc, start_logits: np.ndarray, end_logits: np.ndarray, answerable: float) -> Reading:
    """The best span of the window's word-pieces (start <= end, at most MAX_SPAN long)."""
    prob = 1.0 / (1.0 + np.exp(-answerable))
    ctx = [t for t, sid in enumerate(enc.sequence_ids) if sid == 1]
    if not ctx:
        return Reading(float(prob), -1, -1, float("-inf"))
    lo, hi = ctx[0], ctx[-1] + 1
    st, en = start_logits[lo:hi], end_logits[lo:hi]
    # score[i, j] = start i + end j, for j in [i, i + MAX_SPAN)
    n = hi - lo
    grid = st[:, None] + en[None, :]
    i_idx, j_idx = np.indices((n, n))
    grid = np.where((j_idx >= i_idx) & (j_idx < i_idx + MAX_SPAN), grid, -np.inf)
    k = int(np.argmax(grid))
    i, j = divmod(k, n)
    null = float(start_logits[0] + end_logits[0])
    a, b = enc.offsets[lo + i][0], enc.offsets[lo + j][1]
    return Reading(float(prob), int(a), int(b), float(grid[i, j]) - null)
