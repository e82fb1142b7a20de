"""The claim-support check of LLM answers on WiCE (dev, oracle chunks): claims labelled
supported / partially supported / not supported by their cited evidence.

    python eval/wice.py ../shared/benchmarks/wice/oracle_chunks-claim-dev.jsonl

Reports, for `evidence.support` (what `citations.validate` uses, with embeddings, at
``Config.llm_support_threshold``) and for the reader's answerability with the claim read as
the question: the share of supported claims accepted, of not-supported ones accepted, and
the AUC of supported vs not supported.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from articleqa import Config
from articleqa.answer.evidence import Passage, support
from articleqa.answer.reader import SpanReader
from articleqa.evaluation import metrics as m
from articleqa.index.embeddings import MiniLMEmbedder
from articleqa.types import Chunk, Hit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", type=Path)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args()
    rows = [json.loads(x) for x in args.path.read_text().splitlines() if x.strip()][: args.limit]
    cfg = Config()
    emb, reader = MiniLMEmbedder(), SpanReader()
    scores = {"support": [], "reader": []}
    labels = []
    for k, r in enumerate(rows):
        text = "\n".join(r["evidence"])
        hit = Hit(Chunk(f"c{k}", f"a{k}", 0, 0, len(text), text))
        passage = Passage(hit)
        passage.vecs = emb.embed([s for _, _, s in passage.sentences]) if passage.sentences else None
        vec = emb.embed([r["claim"]])[0]
        scores["support"].append(support(r["claim"], passage, None, vec).score)
        windows = [text[i : i + 600] for i in range(0, max(len(text), 1), 500)]
        scores["reader"].append(max(x.answerable for x in reader.read(r["claim"], windows)))
        labels.append(r["label"])
    out = {}
    for name, s in scores.items():
        t = cfg.llm_support_threshold
        sup = [x for x, lab in zip(s, labels, strict=True) if lab == "supported"]
        nos = [x for x, lab in zip(s, labels, strict=True) if lab == "not_supported"]
        part = [x for x, lab in zip(s, labels, strict=True) if lab == "partially_supported"]
        pairs = [
            (x, lab == "supported") for x, lab in zip(s, labels, strict=True) if lab != "partially_supported"
        ]
        out[name] = {
            "supported_accepted": m.mean(x >= t for x in sup),
            "partial_accepted": m.mean(x >= t for x in part),
            "not_supported_accepted": m.mean(x >= t for x in nos),
            "auc": m.auc([x for x, _ in pairs], [y for _, y in pairs]),
            "n": {"supported": len(sup), "partial": len(part), "not_supported": len(nos)},
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
