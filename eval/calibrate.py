"""Calibrate the extractive answerer's abstention threshold on held-out SQuAD data.

Runs the SQuAD evaluation with abstention switched off (threshold 0) on calibration
splits — different held-out pages and question samples from the ones reported in
docs/evaluation.md — and picks the evidence threshold that maximises Youden's J
(abstention recall − false-abstention rate). Prints the sweep and the chosen value; put it
in `Config.abstain_threshold` (or, with ``--evidence model``, `Config.model_abstain_threshold`).

    python eval/calibrate.py --seeds 101 102 103 --limit 300 --holdout 4 [--evidence model]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from articleqa import Config
from articleqa.evaluation import run_eval

SQUAD = Path(__file__).parent / "datasets" / "squad-v1.1-dev-subset.json"


def collect(seeds: list[int], limit: int, holdout: int, evidence: str = "overlap") -> list[tuple[float, bool]]:
    """(confidence, answerable) for every item of every calibration split."""
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            run_eval(SQUAD, fmt="squad", data_dir=Path(tmp) / "data", report_dir=Path(tmp) / "report",
                     limit=limit, seed=seed, holdout=holdout, baseline=False, progress=False,
                     config=Config(evidence=evidence, abstain_threshold=0.0, model_abstain_threshold=0.0))  # fmt: skip
            for line in (Path(tmp) / "report" / "results.jsonl").read_text().splitlines():
                r = json.loads(line)
                rows.append((r["confidence"], r["answerable"]))
    return rows


def sweep(rows: list[tuple[float, bool]]) -> list[dict]:
    pos = [c for c, a in rows if not a]  # should be abstained
    neg = [c for c, a in rows if a]
    out = []
    for t in [i / 100 for i in range(5, 96)]:
        recall = sum(c < t for c in pos) / max(1, len(pos))
        false_rate = sum(c < t for c in neg) / max(1, len(neg))
        out.append({"threshold": t, "recall": recall, "false_rate": false_rate, "j": recall - false_rate})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--evidence", choices=["overlap", "model"], default="overlap")
    args = ap.parse_args()
    rows = collect(args.seeds, args.limit, args.holdout, args.evidence)
    table = sweep(rows)
    for r in table[::5]:
        print(f"threshold {r['threshold']:.2f}  recall {r['recall']:.3f}  false_rate {r['false_rate']:.3f}")
    best = max(table, key=lambda r: (r["j"], -r["threshold"]))
    name = "model_abstain_threshold" if args.evidence == "model" else "abstain_threshold"
    print(f"\nchosen {name} = {best['threshold']:.2f} "
          f"(recall {best['recall']:.3f}, false_rate {best['false_rate']:.3f}, n={len(rows)})")  # fmt: skip


if __name__ == "__main__":
    main()
