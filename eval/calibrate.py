"""Calibrate abstention on held-out data: the threshold, and the answer model's stacking weights.

Threshold (default): runs the SQuAD evaluation with abstention switched off (threshold 0)
on calibration splits — different held-out pages and question samples from the ones
reported in docs/evaluation.md — and picks the threshold that maximises Youden's J
(abstention recall − false-abstention rate). Put it in `Config.abstain_threshold` (or,
with ``--evidence model``, `Config.model_abstain_threshold`).

    python eval/calibrate.py --seeds 101 102 103 --limit 300 --holdout 4 [--evidence model]

Stacking (``--fit``, with ``--evidence reader`` for `ReaderEvidence`, else the answer model's
`LearnedEvidence`): records the evidence's ``signals`` for every question of the same
SQuAD splits and of the written calibration set (``train/data/news_calib_*.jsonl``: made-up
news, every question style; never used for training or testing), fits the logistic weights
of `evidence.STACK` / `evidence.READER_STACK` (each group — SQuAD, and each style of the written set — weighs the
same), and picks the threshold that maximises the mean J over those groups; for the reader,
also `Config.short_answer_margin`: the highest span margin at which a short answer is still
shown on 65% of the answered SQuAD questions (or the lowest that makes 75% of them exactly
right, if one does).

    python eval/calibrate.py --fit --seeds 101 102 103 --limit 300 --holdout 4

With ``--select``, it first ranks every subset of the recorded signals by their
out-of-fold AUC in each group (which signals are worth weighing; docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from articleqa import Config
from articleqa.evaluation import run_eval

HERE = Path(__file__).resolve().parent
SQUAD = HERE / "datasets" / "squad-v1.1-dev-subset.json"
NEWS_CALIB = HERE.parent / "train" / "data" / "news_calib"
# The signals each trained evidence's confidence weighs (`signals`, plus products).
FEATURES = {
    "model": ["p_best", "p_max", "overlap", "unseen", "long", "p_max*long"],
    "reader": ["a_best", "a_max", "margin", "overlap", "unseen", "long"],
}
# ``--select``: out-of-fold AUC of every subset of them (docs/evaluation.md, "Which signals").
SELECT_FOLDS, SELECT_REPEATS = 5, 5
STACK_NAME = {
    "model": ("STACK", "model_abstain_threshold"),
    "reader": ("READER_STACK", "reader_abstain_threshold"),
}
SHORT_PRECISION = 0.75  # a short answer shown must be exactly right this often (issue 25)
SHORT_SHOWN = 0.65  # ... and shown on this share of answered questions (issue 25: 0.60, plus room)
L2 = 0.01
FALSE_ABSTENTION_CAP = 0.15  # most answerable questions (mean over groups) the threshold may abstain on
GATE_FALSE_RATE = 0.005  # the LLM gate may abstain on at most this share of answerable ones (docs/llm.md)


def collect(
    seeds: list[int], limit: int, holdout: int, evidence: str = "overlap"
) -> list[tuple[float, bool]]:
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


# ---- stacking weights (--fit) ------------------------------------------------------------
def signal_rows(articles, items, corpus: list[Path], evidence: str = "model") -> list[dict]:
    """The evidence's ``signals`` of each item's ranked sentences, with its group and label
    (and, for the reader, the best sentence's span, its answerability and the gold answers)."""
    from articleqa import Assistant
    from articleqa.answer.base import cite
    from articleqa.answer.extractive import short_answer
    from articleqa.retrieve import retrieve

    features = FEATURES[evidence]
    with tempfile.TemporaryDirectory() as tmp:
        qa = Assistant(Config(data_dir=Path(tmp), evidence=evidence))
        rep = qa.ingest(corpus, articles=articles)
        if rep.errors:
            raise SystemExit("; ".join(rep.errors))
        answerer = qa.answerer
        rows = []
        for it in items:
            got = retrieve(qa.store, it.question, None, None, expand_parts=True)
            ranked = answerer.ranked(it.question, got)
            sig = answerer.evidence.signals(it.question, ranked) if ranked else {}
            sig = {f: sig.get(f, 0.0) for f in features if "*" not in f}
            for f in features:
                if "*" in f:
                    a, b = f.split("*")
                    sig[f] = sig[a] * sig[b]
            row = {**sig, "answerable": it.answerable, "type": it.type, "answers": list(it.answers)}
            best = ranked[0] if ranked else None
            if best is not None and getattr(best, "span", None):
                art = qa.store.article(best.hit.chunk.article_id)
                row["span"] = art.text[best.span[0] : best.span[1]] if art else ""
                row["read"] = best.read
                row["span_margin"] = best.margin
                # what the answer would show, under any answerability and margin
                short = short_answer(best, [cite(1, best.hit, best.start, best.end)], 0.0)
                row["short"] = short.text if short else None
            rows.append(row)
        return rows


def fit_rows(seeds: list[int], limit: int, holdout: int, evidence: str = "model") -> list[dict]:
    from articleqa.evaluation.datasets import load_jsonl, load_squad

    rows = []
    for seed in seeds:
        articles, items = load_squad(SQUAD, seed=seed, limit=limit, holdout=holdout)
        rows += [{**r, "group": "squad"} for r in signal_rows(articles, items, [], evidence)]
    news = signal_rows([], load_jsonl(f"{NEWS_CALIB}_questions.jsonl"), [Path(f"{NEWS_CALIB}_corpus.jsonl")],
                       evidence)  # fmt: skip
    rows += [{**r, "group": r["type"]} for r in news]
    return rows


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = L2, iters: int = 50) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; returns [bias, *coef]."""
    x = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-x @ beta))
        grad = x.T @ (w * (p - y)) + reg @ beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + reg
        beta -= np.linalg.solve(hess, grad)
    return beta


def _labels_and_weights(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's label (answerable) and weight: every group weighs the same in the fit."""
    size: dict[str, int] = {}
    for r in rows:
        size[r["group"]] = size.get(r["group"], 0) + 1
    y = np.array([float(r["answerable"]) for r in rows])
    w = np.array([len(rows) / (len(size) * size[r["group"]]) for r in rows])
    return y, w


def group_rates(rows: list[dict], conf, t: float) -> dict[str, dict]:
    """Per group at threshold ``t``: its size, the share of answerable questions abstained
    (false abstention) and of unanswerable ones abstained (recall); None where it has none."""
    out = {}
    for g in sorted({r["group"] for r in rows}):
        ans = [c for c, r in zip(conf, rows, strict=True) if r["group"] == g and r["answerable"]]
        una = [c for c, r in zip(conf, rows, strict=True) if r["group"] == g and not r["answerable"]]
        out[g] = {
            "n": len(ans) + len(una),
            "false_abstention": sum(c < t for c in ans) / len(ans) if ans else None,
            "recall": sum(c < t for c in una) / len(una) if una else None,
        }
    return out


def _mean_j(rows: list[dict], conf, t: float) -> tuple[float, float]:
    """Mean over groups of J (abstention recall − false abstention), and of false abstention
    (over the groups with answerable questions), at ``t``."""
    per = group_rates(rows, conf, t).values()
    j = np.mean([(v["recall"] or 0.0) - (v["false_abstention"] or 0.0) for v in per])
    fa = np.mean([v["false_abstention"] for v in per if v["false_abstention"] is not None])
    return float(j), float(fa)


def fit(rows: list[dict], features: list[str]) -> tuple[dict[str, float], float, dict[str, dict]]:
    """STACK weights, the threshold with the best mean J over groups, and per-group rates there."""
    x = np.array([[r[f] for f in features] for r in rows])
    y, w = _labels_and_weights(rows)
    beta = logistic(x, y, w)
    conf = 1.0 / (1.0 + np.exp(-(beta[0] + x @ beta[1:])))

    # Where a style's questions are not separated (AUC under 0.5 on some written styles),
    # J is best when everything is abstained; the cap keeps the answerer answering.
    allowed = [i / 100 for i in range(5, 96) if _mean_j(rows, conf, i / 100)[1] <= FALSE_ABSTENTION_CAP] or [
        0.05
    ]
    best = max(allowed, key=lambda t: (_mean_j(rows, conf, t)[0], -abs(t - 0.5)))
    stack = {
        "bias": round(float(beta[0]), 3),
        **{f: round(float(b), 3) for f, b in zip(features, beta[1:], strict=True)},
    }
    return stack, best, group_rates(rows, conf, best)


def select(
    rows: list[dict], recorded: list[str], seed: int = 0
) -> list[tuple[tuple[str, ...], dict[str, float]]]:
    """Every subset of the recorded signals with its AUC (answerable vs not) in each group,
    out of fold: fitted as `fit` fits (groups weighing the same) on the other folds of
    ``SELECT_FOLDS``, the mean over ``SELECT_REPEATS`` random splits. Best mean first."""
    from itertools import combinations

    from articleqa.evaluation.metrics import auc

    groups = sorted({r["group"] for r in rows})
    members = {g: [i for i, r in enumerate(rows) if r["group"] == g] for g in groups}
    y, w = _labels_and_weights(rows)
    rng = np.random.default_rng(seed)
    splits = [rng.integers(0, SELECT_FOLDS, len(rows)) for _ in range(SELECT_REPEATS)]
    out = []
    for k in range(1, len(recorded) + 1):
        for subset in combinations(recorded, k):
            x = np.array([[r[f] for f in subset] for r in rows])
            per = {g: [] for g in groups}
            for fold in splits:
                z = np.zeros(len(rows))
                for f in range(SELECT_FOLDS):
                    beta = logistic(x[fold != f], y[fold != f], w[fold != f])
                    z[fold == f] = beta[0] + x[fold == f] @ beta[1:]
                for g, idx in members.items():
                    per[g].append(auc(list(z[idx]), list(y[idx] > 0)))
            out.append((subset, {g: float(np.mean(v)) for g, v in per.items()}))
    return sorted(out, key=lambda t: -np.mean(list(t[1].values())))


def _confidence(stack: dict[str, float], features: list[str], row: dict) -> float:
    """The answerer's confidence for a recorded row under ``stack`` (`evidence.stacked`)."""
    from articleqa.answer.evidence import stacked

    return stacked(stack, {f: row[f] for f in features})


def hand_veto(
    rows: list[dict], stack: dict[str, float], features: list[str], threshold: float
) -> tuple[float, dict[float, tuple[float, float]]]:
    """`evidence.READER_VETO`: the reader's answerability (``a_max``) under which the hand-tuned
    score may not answer on its own (`evidence.with_hand_path`, at `Config.abstain_threshold`),
    by the best mean J over groups; with (mean J, mean false abstention) at every veto tried
    (1.01: the stacked confidence alone)."""
    from articleqa.answer.evidence import with_hand_path

    hand = Config().abstain_threshold
    table = {}
    for v in [i / 20 for i in range(20)] + [1.01]:
        conf = [with_hand_path(_confidence(stack, features, r), r, hand, threshold, v) for r in rows]
        table[v] = _mean_j(rows, conf, threshold)
    best = max(table, key=lambda v: (round(table[v][0], 6), v))
    return best, table


def gate_threshold(
    rows: list[dict], stack: dict[str, float], features: list[str], most: float = GATE_FALSE_RATE
) -> tuple[float, dict]:
    """The highest threshold at which at most ``most`` of the answerable questions of every
    group would be abstained before an LLM sees them; its per-group rates."""
    conf = [_confidence(stack, features, r) for r in rows]

    def rates(t: float) -> dict[str, tuple[float | None, float | None]]:
        return {g: (v["false_abstention"], v["recall"]) for g, v in group_rates(rows, conf, t).items()}

    ok = [
        t / 1000
        for t in range(1, 500)
        if max(fa for fa, _ in rates(t / 1000).values() if fa is not None) <= most
    ]
    t = max(ok, default=0.0)
    return t, rates(t)


def short_margin(rows: list[dict], stack: dict[str, float], features: list[str], threshold: float):
    """`Config.short_answer_margin`: the lowest span margin at which the short answers shown
    (of the answered, answerable SQuAD items, at `Config.short_answer_threshold`) are exactly
    right (normalised EM) ``SHORT_PRECISION`` of the time, else the highest that still shows
    one on ``SHORT_SHOWN`` of them; with the share shown and their precision, for SQuAD and
    for the news calibration set."""
    from articleqa.evaluation.metrics import normalize

    least = Config().short_answer_threshold

    answered = {
        g: [
            r
            for r in rows
            if (r["group"] == "squad") == (g == "squad")
            and r["answerable"]
            and _confidence(stack, features, r) >= threshold
        ]
        for g in ("squad", "news")
    }

    def rates(group: str, m: float) -> tuple[float, float | None]:
        shown = [
            r for r in answered[group] if r.get("short") and r["read"] >= least and r["span_margin"] >= m
        ]
        exact = [normalize(r["short"]) in {normalize(a) for a in r["answers"]} for r in shown]
        return len(shown) / max(1, len(answered[group])), (sum(exact) / len(exact) if exact else None)

    squad = {m: rates("squad", m) for m in [i / 2 for i in range(-4, 25)]}
    ok = [m for m, (shown, _) in squad.items() if shown >= SHORT_SHOWN]
    precise = [m for m in ok if (squad[m][1] or 0.0) >= SHORT_PRECISION]
    m = min(precise) if precise else max(ok, default=min(squad))
    return m, {g: rates(g, m) for g in ("squad", "news")}


def _r(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--evidence", choices=["overlap", "model", "reader"], default="overlap")
    ap.add_argument(
        "--fit", action="store_true", help="fit the answer model's stacking weights (evidence.STACK)"
    )
    ap.add_argument(
        "--rows", type=Path, help="with --fit: save (or reuse, if it exists) the recorded signals here"
    )
    ap.add_argument(
        "--select",
        action="store_true",
        help="with --fit: rank every subset of the recorded signals by out-of-fold AUC per group",
    )
    args = ap.parse_args()
    if args.fit:
        evidence = "model" if args.evidence == "overlap" else args.evidence
        features = FEATURES[evidence]
        if args.rows and args.rows.exists():
            rows = json.loads(args.rows.read_text())
        else:
            rows = fit_rows(args.seeds, args.limit, args.holdout, evidence)
            if args.rows:
                args.rows.write_text(json.dumps(rows))
        if args.select:
            ranked = select(rows, features)
            full = dict(ranked)[tuple(features)]
            print("out-of-fold AUC per group (* = at least the full set's in every group)")
            print(f"{'':5s} {'signals':40s} " + " ".join(f"{g[:8]:>8s}" for g in full))
            for subset, per in ranked[:12] + [(tuple(features), full)]:
                mark = "*" if all(per[g] >= full[g] for g in full) else " "
                mean = np.mean(list(per.values()))
                print(
                    f"{mean:.3f}{mark} {','.join(subset):40s} " + " ".join(f"{v:8.2f}" for v in per.values())
                )
        stack, threshold, per_group = fit(rows, features)
        stack_name, threshold_name = STACK_NAME[evidence]
        print(f"{stack_name} = {stack}\n{threshold_name} = {threshold:.2f}")
        for g, v in per_group.items():
            print(
                f"  {g:18s} n={v['n']:4d}  false abstention {_r(v['false_abstention'])}  recall {_r(v['recall'])}"
            )
        if evidence == "reader":
            veto, table = hand_veto(rows, stack, features, threshold)
            print(f"READER_VETO = {veto:.2f}")
            for v, (j, fa) in table.items():
                print(f"  veto {v:4.2f}  mean J {j:.3f}  mean false abstention {fa:.3f}")
            margin, short_rates = short_margin(rows, stack, features, threshold)
            print(f"short_answer_margin = {margin:.1f}")
            for g, (shown, exact) in short_rates.items():
                print(f"  {g:18s} short answer shown {shown:.3f}  exactly right {_r(exact)}")
        gate, gate_rates = gate_threshold(rows, stack, features)
        print(f"llm_gate_threshold = {gate:.3f}")
        for g, (fa, rec) in gate_rates.items():
            print(f"  {g:18s} false abstention {_r(fa)}  recall {_r(rec)}")
        return
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
