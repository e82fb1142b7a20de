"""The extractive answerer: quote the sentence(s) that answer, or say the articles don't.

No LLM. Each sentence of the retrieved passages is scored on several signals:

- ``sem``: cosine similarity of sentence and question embeddings (meaning);
- ``lex``: share of the question's content terms, weighted by IDF, that the sentence has;
- ``ctx``: the same share over the whole passage around it (support nearby);
- ``type``: the sentence holds the kind of thing asked for (date, number, person, place)
  that the question doesn't already name;
- ``prior``: how high retrieval ranked its passage.

The answer is the best sentence, plus a runner-up when it scores almost as well. The
evidence score (``confidence``) decides abstention against ``cfg.abstain_threshold``,
which is calibrated on held-out data (eval/calibrate.py), not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..index.store import Store
from ..text import answer_type, has_answer_type, named_terms, sentence_spans, terms
from ..types import Answer, Citation, Hit

ABSTAIN_TEXT = "The articles don't say. I found nothing in them that answers this question."

# Signal weights; fitted on held-out SQuAD articles (see docs/evaluation.md).
W_SEM, W_LEX, W_CTX, W_TYPE, W_PRIOR = 0.40, 0.30, 0.15, 0.10, 0.05
SECOND_SENTENCE_RATIO = 0.92  # a runner-up this close to the best is quoted too
TYPE_MISSING_FACTOR = 0.85  # asked "when"/"how many"... and the sentence has no date/number
# Scaled by the IDF share of the question's names (capitalised words, numbers) that occur
# in no article; ordinary words are left out: a reader's paraphrase is not a missing fact.
UNSEEN_TERM_WEIGHT = 0.6
MAX_EMBEDDED = 16  # only the lexically most promising sentences are embedded (latency)


@dataclass
class Scored:
    hit: Hit
    start: int
    end: int
    text: str
    sem: float = 0.0
    lex: float = 0.0
    ctx: float = 0.0
    type: float = 0.0
    prior: float = 0.0
    score: float = 0.0


def coverage(q_terms: list[str], text_terms: set[str], idf) -> float:
    """IDF-weighted share of the question's terms present in the text."""
    if not q_terms:
        return 0.0
    total = sum(idf(t) for t in q_terms)
    return sum(idf(t) for t in q_terms if t in text_terms) / total


def score_sentences(question: str, hits: list[Hit], store: Store, qvec: np.ndarray) -> list[Scored]:
    """Every distinct sentence of the hits, scored; best first."""
    idf = store.keywords.idf
    q_terms = list(dict.fromkeys(terms(question)))
    kind = answer_type(question)
    seen: set[tuple[str, int, int]] = set()
    cands: list[Scored] = []
    for hit in hits:
        ch = hit.chunk
        ctx = coverage(q_terms, set(terms(ch.text)), idf)
        for a, b in sentence_spans(ch.text):
            key = (ch.article_id, ch.start + a, ch.start + b)
            if key in seen:  # overlapping chunks repeat sentences
                continue
            seen.add(key)
            s = Scored(hit, ch.start + a, ch.start + b, ch.text[a:b], ctx=ctx, prior=1.0 / (1 + hit.rank))
            s.lex = coverage(q_terms, set(terms(s.text)), idf)
            s.type = 1.0 if has_answer_type(s.text, kind, question) else 0.0
            cands.append(s)
    if not cands:
        return []
    # Embedding every sentence costs most of a query's time: embed the promising ones.
    cands.sort(key=lambda s: -(s.lex + 0.5 * s.ctx + 0.3 * s.prior))
    top = cands[:MAX_EMBEDDED]
    sims = store.embedder.embed([s.text for s in top]) @ qvec
    for s, sim in zip(top, sims, strict=True):
        s.sem = float(sim)
    for s in cands:
        s.score = W_SEM * s.sem + W_LEX * s.lex + W_CTX * s.ctx + W_TYPE * s.type + W_PRIOR * s.prior
    cands.sort(key=lambda s: -s.score)
    return cands


def evidence(question: str, best: Scored | None, store: Store) -> float:
    """How sure we are the articles answer this: the best sentence's score, discounted when
    the question asks for a kind of thing the sentence lacks, or names terms that occur
    nowhere in the collection (a question about Hanoi can't be answered by articles that
    never mention it)."""
    if best is None:
        return 0.0
    conf = best.score
    if answer_type(question) and not best.type:
        conf *= TYPE_MISSING_FACTOR
    q_terms = list(dict.fromkeys(terms(question)))
    if q_terms:
        idf = store.keywords.idf
        names = set(terms(" ".join(named_terms(question))))
        unseen = sum(idf(t) for t in q_terms if t in names and store.keywords.df.get(t, 0) == 0)
        conf *= 1.0 - UNSEEN_TERM_WEIGHT * unseen / sum(idf(t) for t in q_terms)
    return conf


def answer(question: str, hits: list[Hit], store: Store, cfg: Config, qvec: np.ndarray) -> Answer:
    scored = score_sentences(question, hits, store, qvec)
    confidence = evidence(question, scored[0] if scored else None, store)
    if not scored or confidence < cfg.abstain_threshold:
        return Answer(question, ABSTAIN_TEXT, True, [], hits, confidence, "extractive")
    chosen = [scored[0]]
    for s in scored[1 : cfg.max_answer_sentences]:
        if s.score >= SECOND_SENTENCE_RATIO * scored[0].score:
            chosen.append(s)
    # Read in document order when the sentences come from the same article.
    lead = chosen[0].hit.chunk.article_id
    chosen.sort(key=lambda s: (s.hit.rank if s.hit.chunk.article_id != lead else -1, s.start))
    citations, parts = [], []
    for n, s in enumerate(chosen, 1):
        h = s.hit
        citations.append(
            Citation(
                n=n, article_id=h.chunk.article_id, title=h.title, source=h.source, text=s.text,
                start=s.start, end=s.end, url=h.url, published_at=h.published_at, chunk_id=h.chunk.id,
            )  # fmt: skip
        )
        parts.append(f"{s.text} [{n}]")
    return Answer(question, " ".join(parts), False, citations, hits, confidence, "extractive")
