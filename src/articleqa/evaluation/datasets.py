"""Evaluation datasets: hand-written JSONL question sets and SQuAD v1.1 files.

SQuAD is turned into a news-like corpus (one `Article` per Wikipedia page) plus questions.
Holding some pages out of the index turns their questions into unanswerable ones, which
is how abstention is measured at scale.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..ingest.readers import content_hash, slugify
from ..types import Article

UNANSWERABLE = "unanswerable"


@dataclass
class EvalItem:
    """One question with what a correct answer must contain and where the evidence is."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)  # [] = unanswerable from the corpus
    must_mention: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)  # ids of the articles holding the answer
    type: str = "factoid"
    gold_spans: list[tuple[str, int, int]] = field(default_factory=list)  # (article_id, start, end)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _str_list(v: object) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]  # type: ignore[union-attr]


def load_jsonl(path: str | Path) -> list[EvalItem]:
    """Items from a JSONL file: id, question, answers, must_mention, articles, type[, gold_spans]."""
    items: list[EvalItem] = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            answers = _str_list(obj.get("answers"))
            items.append(
                EvalItem(
                    id=str(obj.get("id") or f"{Path(path).stem}-{lineno}"),
                    question=str(obj["question"]),
                    answers=answers,
                    must_mention=_str_list(obj.get("must_mention")),
                    articles=_str_list(obj.get("articles")),
                    type=str(obj.get("type") or ("factoid" if answers else UNANSWERABLE)),
                    gold_spans=[(str(a), int(s), int(e)) for a, s, e in obj.get("gold_spans") or []],
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}:{lineno}: not a valid evaluation item ({e})") from e
    return items


def squad_article(title: str, contexts: list[str]) -> tuple[Article, list[tuple[int, int]]]:
    """One article from a SQuAD page, and each paragraph's (start, end) in its text."""
    spans, pos = [], 0
    for ctx in contexts:
        spans.append((pos, pos + len(ctx)))
        pos += len(ctx) + 2  # the "\n\n" joiner
    art = Article(
        id=slugify(title),
        text="\n\n".join(contexts),
        title=title.replace("_", " "),
        source="Wikipedia",
        key=f"squad:{title}",
    )
    art.content_hash = content_hash(art)
    return art, spans


def load_squad(
    path: str | Path,
    indexed_titles: set[str] | None = None,
    seed: int = 0,
    limit: int | None = None,
    holdout: int = 0,
) -> tuple[list[Article], list[EvalItem]]:
    """Articles to index and the evaluation items of a SQuAD v1.1 file.

    Pages not in ``indexed_titles`` (raw titles or article ids), or else ``holdout`` pages
    drawn with ``seed``, are left out of the returned articles; their questions come back
    unanswerable (``answers=[]``, ``type="unanswerable"``). ``limit`` keeps a seeded sample,
    about a third unanswerable when pages are held out.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    titles = [page["title"] for page in data]
    if indexed_titles is not None:
        keep = {t for t in titles if t in indexed_titles or slugify(t) in indexed_titles}
    else:
        if not 0 <= holdout < len(titles):
            raise ValueError(f"holdout must be between 0 and {len(titles) - 1}, not {holdout}")
        shuffled = sorted(titles)
        random.Random(seed).shuffle(shuffled)
        keep = set(shuffled[holdout:])

    articles: list[Article] = []
    items: list[EvalItem] = []
    for page in data:
        art, spans = squad_article(page["title"], [p["context"] for p in page["paragraphs"]])
        indexed = page["title"] in keep
        if indexed:
            articles.append(art)
        for para, (start, end) in zip(page["paragraphs"], spans, strict=True):
            for qa in para["qas"]:
                golds = list(dict.fromkeys(a["text"].strip() for a in qa["answers"]))
                items.append(
                    EvalItem(
                        id=qa["id"],
                        question=qa["question"].strip(),
                        answers=golds if indexed else [],
                        articles=[art.id] if indexed else [],
                        type="squad" if indexed else UNANSWERABLE,
                        gold_spans=[(art.id, start, end)] if indexed else [],
                    )
                )
    return articles, sample(items, limit, seed, mix=len(articles) < len(data))


def sample(items: list[EvalItem], limit: int | None, seed: int = 0, mix: bool = False) -> list[EvalItem]:
    """``limit`` items after a seeded shuffle; with ``mix``, about a third of them unanswerable."""
    if limit is None or limit >= len(items):
        return items
    rng = random.Random(seed)
    if not mix:
        return rng.sample(items, limit)
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    n_ans = min(len(answerable), limit - min(len(unanswerable), round(limit / 3)))
    n_un = min(len(unanswerable), limit - n_ans)  # tops up when answerable ones run short
    picked = answerable[:n_ans] + unanswerable[:n_un]
    rng.shuffle(picked)
    return picked
