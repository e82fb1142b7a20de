"""The reader's own held-out metrics, window by window, for any ONNX file of it: how well the
answerability separates answering windows from no-answer ones (AUC, accuracy at 0.5, per
no-answer kind), the span's exact match and F1 on the answering windows, and — with
``--reference`` — how far its answerability is from a reference file's (the fp32 export).

The windows are built as ``train/reader_model.py`` builds its training windows (same kinds,
seed 0), from data the reader never trains on: QED dev (``qed-dev.jsonlines``) and the
SQuAD v1.1 dev subset (``eval/datasets``). Runs on onnxruntime through `SpanReader`, the
run-time path (one window per call), so no torch is needed:

    python train/reader_eval.py --model src/articleqa/data/models/reader-minilm-l6-int8.onnx \
        --reference train/runs/reader-v1/reader.onnx --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reader_model import SHARED, Window, qed_windows, squad_windows  # noqa: E402

from articleqa.answer.reader import SpanReader  # noqa: E402
from articleqa.evaluation.metrics import auc, exact_match, f1  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SQUAD_DEV = ROOT / "eval" / "datasets" / "squad-v1.1-dev-subset.json"


def held_out(limit: int, seed: int = 0) -> dict[str, list[Window]]:
    """The held-out windows of each source, ``limit`` questions of each."""
    rng = random.Random(seed)
    return {
        "qed_dev": qed_windows(SHARED / "qed", rng, limit, pattern="qed-dev.jsonlines"),
        "squad_dev": squad_windows(SQUAD_DEV, rng, limit),
    }


def _auc(pos: list[float], neg: list[float]) -> float | None:
    return auc(pos + neg, [True] * len(pos) + [False] * len(neg))


def metrics(reader: SpanReader, data: list[Window], reference: SpanReader | None = None) -> dict:
    """Answerability AUC / accuracy (overall and per no-answer kind) and span EM / F1."""
    readings = [reader.read(w.question, [w.text])[0] for w in data]
    pos = [r.answerable for w, r in zip(data, readings, strict=True) if w.start >= 0]
    out: dict = {"windows": len(data), "answering": len(pos)}
    neg_by_kind: dict[str, list[float]] = {}
    for w, r in zip(data, readings, strict=True):
        if w.start < 0:
            neg_by_kind.setdefault(w.kind, []).append(r.answerable)
    neg = [a for v in neg_by_kind.values() for a in v]
    out["auc"] = _auc(pos, neg)
    out["accuracy"] = (sum(a >= 0.5 for a in pos) + sum(a < 0.5 for a in neg)) / len(data)
    out["auc_by_kind"] = {k: _auc(pos, v) for k, v in sorted(neg_by_kind.items())}
    em, f1s = [], []
    for w, r in zip(data, readings, strict=True):
        if w.start >= 0:
            gold, got = w.text[w.start : w.end], w.text[r.start : r.end] if r.start >= 0 else ""
            em.append(exact_match(got, [gold]))
            f1s.append(f1(got, [gold]))
    out["span_em"], out["span_f1"] = float(np.mean(em)), float(np.mean(f1s))
    if reference is not None:
        ref = [reference.read(w.question, [w.text])[0].answerable for w in data]
        diff = np.abs(np.asarray(ref) - np.asarray([r.answerable for r in readings]))
        out["vs_reference"] = {"mean_abs": float(diff.mean()), "max_abs": float(diff.max())}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="the reader's ONNX file")
    p.add_argument("--reference", type=Path, help="an ONNX file to compare the answerability with")
    p.add_argument("--limit", type=int, default=400, help="questions of each held-out source")
    p.add_argument("--json", type=Path, help="write the metrics here")
    args = p.parse_args()
    reader = SpanReader(args.model, threads=0)
    ref = SpanReader(args.reference) if args.reference else None
    res = {name: metrics(reader, data, ref) for name, data in held_out(args.limit).items()}
    res["model"] = str(args.model)
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
