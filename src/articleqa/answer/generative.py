"""The generative answerer: a chat model (answer/models.py) writes the answer from the passages.

The model sees the question and the top ``cfg.llm_top_k`` passages, each inside
``<passage id="n">`` tags as untrusted data; what it writes goes through
`citations.validate` before anyone sees it as an answer, so a weak or manipulated model
can make an answer shorter or an abstention, never a claim with a false citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from ..config import Config
from ..index.contracts import ArticleStore
from ..query import judged as judged_words
from ..query import period_said, query_for, time_form
from ..resources import load_prompt, render
from ..types import Answer, Hit, Query, Retrieved, StreamEvent
from . import citations
from .base import abstention, one_shot
from .evidence import OverlapEvidence, make_evidence
from .models import ChatModel, Message

CHARS_PER_TOKEN = 3.5  # English news text; only used to keep prompts inside n_ctx
PROMPT_OVERHEAD_TOKENS = 300  # system prompt, question, tags


class GenerativeAnswerer:
    """Answers with ``model()`` (called only when a model is needed: no passages, or the
    evidence gate closing, abstain without loading one)."""

    def __init__(
        self,
        store: ArticleStore,
        cfg: Config,
        model: Callable[[], ChatModel],
        evidence: OverlapEvidence | None = None,
    ):
        self.store, self.cfg, self._model = store, cfg, model
        self.name = cfg.answerer
        # The gate is the reader whatever ``cfg.evidence`` says: it only has to be sure when
        # nothing answers, and the reader is (config: llm_gate_threshold).
        self.evidence = evidence or make_evidence(store, cfg.model_copy(update={"evidence": "reader"}))

    def events(
        self, question: str, retrieved: Retrieved, *, stream: bool = True, history: list[dict] | None = None
    ) -> Iterator[StreamEvent]:
        """``token`` events as the model writes, then one ``answer`` with the validated `Answer`.

        Abstains without calling the model when no passage was found or (``llm_evidence_gate``)
        the answer model is near certain that none answers (confidence under
        ``llm_gate_threshold``); otherwise the model decides, and its "The articles don't
        say" is the abstention.
        """
        cfg, hits = self.cfg, retrieved.hits
        q = query_for(retrieved, question, cfg, self.store)
        judged = judged_words(q, retrieved)
        conf = self.evidence.best_confidence(judged, retrieved) if hits else 0.0
        if not hits or (cfg.llm_evidence_gate and conf < cfg.llm_gate_threshold):
            yield from one_shot(abstention(question, hits, conf, self.name))
            return
        model = self._model()
        shown = with_sightings(fit_passages(hits, cfg), retrieved)
        messages = answer_messages(question, shown, cfg, period_said(q, retrieved))
        if stream:
            parts = []
            for text in model.stream(messages):
                parts.append(text)
                yield StreamEvent("token", text=text)
            raw = "".join(parts)
        else:
            raw = model.complete(messages)
            yield StreamEvent("token", text=raw)
        answer = self.finish(question, raw, shown, conf)
        answer.form = answer_form(q, retrieved, answer)
        yield StreamEvent("answer", answer=answer)

    def finish(self, question: str, raw: str, shown: list[Hit], conf: float) -> Answer:
        """The validated `Answer` for a model's raw output (see `citations.validate`)."""
        checked = citations.validate(
            raw, shown, embedder=self.store.sentence_embedder, idf=self.store.idf,
            threshold=self.cfg.llm_support_threshold, question=question,
        )  # fmt: skip
        return Answer(question, checked.text, checked.abstained, checked.citations, shown, conf, self.name,
                      checks=checked.notes)  # fmt: skip


def with_sightings(shown: list[Hit], retrieved: Retrieved) -> list[Hit]:
    """``shown`` plus the first reports retrieval dated a question's event (and, for "Did A
    happen before B?", A) by, when not among them: the model needs both to compare."""
    anchor = retrieved.anchor
    out = list(shown)
    for s in (anchor.first, anchor.subject) if anchor else ():
        if s is not None and all(s.hit.chunk.id != h.chunk.id for h in out):
            out.append(s.hit)
    return out


def answer_form(q: Query, retrieved: Retrieved, answer: Answer) -> str:
    """`Answer.form` for a generated answer: the question's, when the answer cites reports of
    more than one date (the UI then draws a timeline as one)."""
    if answer.abstained or len({c.published_at for c in answer.citations if c.published_at}) < 2:
        return ""
    anchor = retrieved.anchor
    if anchor is not None:
        return "order" if anchor.relation.yes_no else anchor.relation.rel
    return time_form(q) or ""


# ---- prompts --------------------------------------------------------------------------------
# Anything in article text that could pass for our delimiters or a chat template's tokens.
_LOOKALIKE = re.compile(r"<\s*/?\s*passage|<\|", re.I)


def neutralise(text: str) -> str:
    """Article text that can't close its <passage> early or forge chat-template tokens."""
    return _LOOKALIKE.sub(lambda m: m.group(0).replace("<", "‹"), text)


def fit_passages(hits: list[Hit], cfg: Config) -> list[Hit]:
    """The first ``cfg.llm_passages`` hits, each followed by the copies of it that other
    outlets published (collapsed by retrieval; at most half as many as the hits: another
    outlet's telling often holds the detail asked for, and the model can cite both), fewer
    if they would crowd the answer out of the model's context (``cfg.llm_context``)."""
    budget = (cfg.llm_context - cfg.llm_max_tokens - PROMPT_OVERHEAD_TOKENS) * CHARS_PER_TOKEN
    copies = cfg.llm_passages // 2 if cfg.answerer != "local" else 0  # a 135M model reads 3 at most
    out: list[Hit] = []
    for h in hits[: cfg.llm_passages]:
        for x in (h, *h.also[:copies]):
            budget -= len(x.chunk.text) + len(x.title) + len(x.source) + 60
            if out and budget < 0:
                return out
            out.append(x)
            copies -= x is not h
    return out


def _attr(text: str) -> str:
    return neutralise(text).replace('"', "'")


def format_passages(hits: list[Hit]) -> str:
    """Each hit inside ``<passage id="n" outlet=… date=… title=…>`` (outlet and date only when
    known): the model needs them for comparisons across outlets and questions about time."""
    blocks = []
    for n, h in enumerate(hits, 1):
        attrs = f'id="{n}"'
        if h.source:
            attrs += f' outlet="{_attr(h.source)}"'
        if h.published_at:
            attrs += f' date="{_attr(h.published_at)}"'
        attrs += f' title="{_attr(h.title)}"'
        blocks.append(f"<passage {attrs}>\n{neutralise(h.chunk.text)}\n</passage>")
    return "\n\n".join(blocks)


def answer_messages(question: str, hits: list[Hit], cfg: Config, period_note: str = "") -> list[Message]:
    """The prompt: the small model's (``answer_*_small``) for ``local``, else the capable one's.
    ``period_note`` says how the question's period was read (the passages are from it)."""
    suffix = "_small" if cfg.answerer == "local" else ""
    period = f"\n(The passages are from that period: {period_note}.)" if period_note else ""
    return [
        {"role": "system", "content": load_prompt(f"answer_system{suffix}", cfg)},
        {"role": "user", "content": render(f"answer_user{suffix}", cfg, passages=format_passages(hits),
                                           question=neutralise(question), period=period)},
    ]  # fmt: skip
