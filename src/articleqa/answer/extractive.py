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

import re
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..index.store import Store
from ..text import (
    answer_type,
    coverage,
    has_answer_type,
    named_terms,
    passage_terms,
    question_parts,
    terms,
)
from ..types import Answer, Citation, Hit

ABSTAIN_TEXT = "The articles don't say. I found nothing in them that answers this question."

# Signal weights; fitted on held-out SQuAD articles (see docs/evaluation.md).
W_SEM, W_LEX, W_CTX, W_TYPE, W_PRIOR = 0.40, 0.30, 0.15, 0.10, 0.05
SECOND_SENTENCE_RATIO = 0.92  # a runner-up this close to the best is quoted too
# Asked "when"/"how many" and the sentence has no date/number: it can hardly be the answer.
# Person/place detection is looser (any capitalised name), so its absence weighs less.
TYPE_MISSING_FACTOR = {"date": 0.6, "number": 0.6, "person": 0.8, "place": 0.8}
# Scaled by the IDF share of the question's names (capitalised words, numbers) that occur
# in no article; ordinary words are left out: a reader's paraphrase is not a missing fact.
UNSEEN_TERM_WEIGHT = 0.6
MIN_WORDS = 4  # shorter "sentences" are captions' stubs or credit lines ("VOV"), not answers
TYPED_RATIO = 0.85  # a typed sentence this close to the best one is preferred
PART_COVERAGE = 0.3  # least coverage of a question part for its own sentence
# Only the lexically most promising sentences are embedded: that dominates query time, and
# on 600 SQuAD questions top-1 accuracy is the same with 6 as with all (0.705 vs 0.708).
MAX_EMBEDDED = 6
# ... and of those, only the ones whose lexical pre-score is at least this share of the best
# one's. On SQuAD (600 questions, seeds 0 and 7, and 4 pages held out) and the sample set,
# 0.5 gives the same answers, abstentions and citation precision as embedding all 6, with
# 5.1 sentences per answer instead of 6; 0.6 embeds 4.1 but loses a question per 600, 0.7
# loses 0.7% of answers.
EMBED_CUTOFF = 0.5
# A sentence in another copy of the story states the same fact when it holds this IDF share
# of the answer sentence's terms.
CORROBORATION = 0.5  # only the lexically most promising sentences are embedded (latency)


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


def _prelim(s: Scored) -> float:
    """Lexical pre-score: which sentences are worth embedding."""
    return s.lex + 0.5 * s.ctx + 0.3 * s.prior


def score_sentences(question: str, hits: list[Hit], store: Store, qvec: np.ndarray) -> list[Scored]:
    """Every distinct sentence of the hits, scored; best first."""
    q_terms = list(dict.fromkeys(terms(question)))
    idf = {t: store.keywords.idf(t) for t in q_terms}.__getitem__
    kind = answer_type(question)
    seen: set[tuple[str, int, int]] = set()
    cands: list[Scored] = []
    # Copies of a passage collapsed by retrieval are candidates too: another outlet's
    # telling may answer better (one says "fourth in tourism", the other "a key partner").
    for hit in [x for h in hits for x in (h, *h.also)]:
        ch = hit.chunk
        whole, sents = passage_terms(ch.text)
        ctx = coverage(q_terms, whole, idf)
        for a, b, s_terms in sents:
            key = (ch.article_id, ch.start + a, ch.start + b)
            if key in seen or len(ch.text[a:b].split()) < MIN_WORDS:  # repeats; credit lines
                continue
            seen.add(key)
            s = Scored(hit, ch.start + a, ch.start + b, ch.text[a:b], ctx=ctx, prior=1.0 / (1 + hit.rank))
            if hit.vector_score is None:  # a collapsed copy: it ranks where its twin ranked
                s.prior = 0.0
            s.lex = coverage(q_terms, s_terms, idf)
            s.type = 1.0 if has_answer_type(s.text, kind, question) else 0.0
            cands.append(s)
    if not cands:
        return []
    # Embedding every sentence costs most of a query's time: embed the promising ones.
    cands.sort(key=lambda s: -_prelim(s))
    floor = EMBED_CUTOFF * _prelim(cands[0])
    top = [s for s in cands[:MAX_EMBEDDED] if _prelim(s) >= floor]
    sims = store.sentence_embedder.embed([s.text for s in top]) @ qvec
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
    kind = answer_type(question)
    if kind and not best.type:
        conf *= TYPE_MISSING_FACTOR[kind]
    q_terms = list(dict.fromkeys(terms(question)))
    if q_terms:
        idf = store.keywords.idf
        names = set(terms(" ".join(named_terms(question))))
        unseen = sum(idf(t) for t in q_terms if t in names and store.keywords.df.get(t, 0) == 0)
        conf *= 1.0 - UNSEEN_TERM_WEIGHT * unseen / sum(idf(t) for t in q_terms)
    return conf


def answer(question: str, hits: list[Hit], store: Store, cfg: Config, qvec: np.ndarray) -> Answer:
    scored = score_sentences(question, hits, store, qvec)
    if scored and answer_type(question) and not scored[0].type:
        # Prefer a near-best sentence that holds the kind of thing asked for.
        typed = next((s for s in scored[1:] if s.type and s.score >= TYPED_RATIO * scored[0].score), None)
        if typed is not None:
            scored.remove(typed)
            scored.insert(0, typed)
    confidence = evidence(question, scored[0] if scored else None, store)
    if not scored or confidence < cfg.abstain_threshold:
        return Answer(question, ABSTAIN_TEXT, True, [], hits, confidence, "extractive")
    chosen = [scored[0]]
    q_parts = question_parts(question)
    if len(q_parts) == 2:
        # Two questions in one: quote the best sentence for the part the first one misses.
        idf = store.keywords.idf
        p_terms = [list(dict.fromkeys(terms(p))) for p in q_parts]
        first = set(terms(chosen[0].text))
        missed = min(p_terms, key=lambda t: coverage(t, first, idf))
        rest = [s for s in scored[1:] if coverage(missed, set(terms(s.text)), idf) >= PART_COVERAGE]
        if rest:
            chosen.append(max(rest, key=lambda s: coverage(missed, set(terms(s.text)), idf) + s.score))
    for s in scored[1 : cfg.max_answer_sentences]:
        if len(chosen) < cfg.max_answer_sentences and s not in chosen and s.score >= SECOND_SENTENCE_RATIO * scored[0].score:
            chosen.append(s)
    best = chosen[0]
    # Read in document order when the sentences come from the same article.
    chosen.sort(key=lambda s: (s.hit.rank if s.hit.chunk.article_id != best.hit.chunk.article_id else -1, s.start))
    citations: list[Citation] = []
    parts = []
    for s in chosen:
        citations.append(_cite(len(citations) + 1, s.hit, s.start, s.end, s.text))
        parts.append(f"{s.text} [{citations[-1].n}]")
    # Copies of the same story: name every outlet that carries the best sentence's fact.
    same_fact = [next(c for c in citations if c.start == best.start and c.article_id == best.hit.chunk.article_id)]
    for h, (a, b), text in corroborate(best, hits, store):
        c = next((c for c in citations if (c.article_id, c.start, c.end) == (h.chunk.article_id, a, b)), None)
        if c is None:
            c = _cite(len(citations) + 1, h, a, b, text)
            citations.append(c)
        same_fact.append(c)
    if len({c.article_id for c in same_fact}) > 1:
        outlets: dict[str, tuple[str, list[Citation]]] = {}
        for c in same_fact:
            h = _hit_of(c, hits)
            outlets.setdefault(c.article_id, (_outlet(h) if h else c.article_id, []))[1].append(c)
        refs = [f"{name} {''.join(f'[{c.n}]' for c in cs)}" for name, cs in outlets.values()]
        differ = len({frozenset(_figures(c.text)) for c in same_fact}) > 1
        verb = "Reported, with different details, by" if differ else "Reported by"
        parts.append(f"{verb} {', '.join(refs[:-1])} and {refs[-1]}.")
    return Answer(question, " ".join(parts), False, citations, hits, confidence, "extractive")


def _cite(n: int, h: Hit, start: int, end: int, text: str) -> Citation:
    return Citation(
        n=n, article_id=h.chunk.article_id, title=h.title, source=h.source, text=text,
        start=start, end=end, url=h.url, published_at=h.published_at, chunk_id=h.chunk.id,
    )  # fmt: skip


def _hit_of(c: Citation, hits: list[Hit]) -> Hit | None:
    return next((x for h in hits for x in (h, *h.also) if x.chunk.id == c.chunk_id), None)


def _outlet(h: Hit) -> str:
    if h.source:
        return h.source
    t = h.title or h.chunk.article_id
    return f"“{t[:60].rstrip()}…”" if len(t) > 60 else f"“{t}”"


def _figures(text: str) -> set[str]:
    """Numbers and ordinals: where two tellings of one fact can disagree."""
    return set(re.findall(r"\b(?:\d[\d,.]*|first|second|third|fourth|fifth|sixth|largest|top)\b", text.lower()))


def corroborate(best: Scored, hits: list[Hit], store: Store) -> list[tuple[Hit, tuple[int, int], str]]:
    """In other copies of the best sentence's story, the sentence that states the same fact."""
    group = best.hit.group_id
    if not group:
        return []
    idf = store.keywords.idf
    s_terms = list(dict.fromkeys(terms(best.text)))
    pool = [x for h in hits for x in (h, *h.also)]
    found: dict[str, tuple[float, Hit, tuple[int, int], str]] = {}
    for h in pool:
        aid = h.chunk.article_id
        if h.group_id != group or aid == best.hit.chunk.article_id:
            continue
        for a, b, t_set in passage_terms(h.chunk.text)[1]:  # cached: retrieval split it already
            # Either telling may carry extra detail: take the better-covered direction.
            cov = max(coverage(s_terms, t_set, idf), coverage(list(t_set), set(s_terms), idf))
            if cov >= CORROBORATION and cov > found.get(aid, (0.0,))[0]:
                found[aid] = (cov, h, (h.chunk.start + a, h.chunk.start + b), h.chunk.text[a:b])
    return [(h, span, text) for _, h, span, text in found.values()]
