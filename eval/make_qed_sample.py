"""Make `eval/datasets/qed_dev_*.jsonl` from QED's dev split (Natural Questions, held out from
training: train/reader_model.py reads only the ``nq-train-*`` files).

    python eval/make_qed_sample.py ../shared/training/qed/qed-dev.jsonlines

300 questions, seeded: real search-engine questions, written without seeing the paragraph
(type ``paraphrased``). The paragraphs of 60 of them are left out of the corpus, so those 60
become unanswerable over the 240 paragraphs kept (their wording differs from any kept
paragraph's, as a reader's question about something the articles don't cover does).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "datasets"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("qed_dev", type=Path)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--unanswerable", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rows = [json.loads(x) for x in args.qed_dev.read_text().splitlines() if x.strip()]
    for r in rows:  # the dev file gives each annotator's answer spans
        spans = [a["string"] for ans in r.get("original_nq_answers") or [] for a in ans]
        r["answer_text"] = list(dict.fromkeys(s for s in spans if s and len(s) <= 200))
    rows = [r for r in rows if r["answer_text"]]
    seen, unique = set(), []
    for r in rows:  # one question per paragraph: a left-out paragraph is really gone
        if r["paragraph_text"] not in seen:
            seen.add(r["paragraph_text"])
            unique.append(r)
    rng = random.Random(args.seed)
    picked = rng.sample(unique, args.n)
    gone = {id(r) for r in picked[: args.unanswerable]}
    corpus, questions = [], []
    for k, r in enumerate(picked):
        aid = f"qed-{r['example_id']}"
        q = r["question_text"].strip()
        q = q[:1].upper() + q[1:] + ("" if q.endswith("?") else "?")
        answerable = id(r) not in gone
        if answerable:
            corpus.append({"id": aid, "title": r["title_text"], "text": r["paragraph_text"]})
        questions.append({"id": f"q{k + 1:03d}", "question": q, "answers": r["answer_text"] if answerable else [],
                          "must_mention": [], "articles": [aid] if answerable else [],
                          "type": "paraphrased"})  # fmt: skip
    (HERE / "qed_dev_corpus.jsonl").write_text(
        "".join(json.dumps(a) + "\n" for a in corpus), encoding="utf-8"
    )
    (HERE / "qed_dev.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    print(f"{len(corpus)} paragraphs, {len(questions)} questions ({args.unanswerable} unanswerable)")


if __name__ == "__main__":
    main()
