"""The answer model at run time: a MiniLM-L6 cross-encoder (int8 ONNX, onnxruntime) that gives
the probability that a sentence answers a question.

Trained by ``train/answer_model.py`` (see its model card, ``data/models/README.md``); it
uses the embedding model's own vocabulary (``index/minilm/tokenizer.json``), so no second
tokenizer ships. Loaded on first use; no torch at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..index.embeddings import TOKENIZER_PATH, onnx_session
from ..resources import data

MODEL_FILE = "answer-minilm-l6-int8.onnx"
MAX_LEN = 128  # the training length (train/answer_model.py)
BATCH = 16


def model_path() -> Path:
    return Path(str(data("models", MODEL_FILE)))


class AnswerModel:
    """``probabilities(question, sentences)``: P(sentence answers question), one per sentence."""

    def __init__(self, path: Path | None = None, threads: int = 0):
        self.path = path or model_path()
        self.threads = threads
        self._session = None
        self._tok = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        from tokenizers import Tokenizer

        if not self.path.is_file():
            raise FileNotFoundError(f"answer model not found at {self.path}")
        self._session = onnx_session(self.path, self.threads)
        tok = Tokenizer.from_file(str(TOKENIZER_PATH))
        tok.enable_truncation(MAX_LEN)
        tok.no_padding()
        self._tok = tok

    def probabilities(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            if self._session is None:
                self._load()
            enc = self._tok.encode_batch([(question, s) for s in sentences])
            out = np.zeros(len(sentences), dtype=np.float32)
            for s in range(0, len(enc), BATCH):
                part = enc[s : s + BATCH]
                width = max(len(e.ids) for e in part)
                ids = np.zeros((len(part), width), dtype=np.int64)
                mask = np.zeros_like(ids)
                types = np.zeros_like(ids)
                for i, e in enumerate(part):
                    n = len(e.ids)
                    ids[i, :n], mask[i, :n], types[i, :n] = e.ids, e.attention_mask, e.type_ids
                feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
                logits = self._session.run(None, feeds)[0].reshape(-1)
                out[s : s + len(part)] = 1.0 / (1.0 + np.exp(-logits))
        return out
