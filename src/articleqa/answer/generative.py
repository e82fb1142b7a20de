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
from ..index.store import Store
from ..resources import load_prompt, render
from ..types import Answer, Hit, Retrieved, StreamEvent
from . import citations
from .base import abstention, one_shot
from .evidence import OverlapEvidence, make_evidence
from .models import ChatModel, Message

CHARS_PER_TOKEN = 3.5  # English news text; only used to keep prompts inside n_ctx
PROMPT_OVERHEAD_TOKENS = 300  # system prompt, question, tags


class GenerativeAnswerer:
    """Answers with ``model()`` (called only when a model is needed: no passages, or the
    evidence gate closing, abstain without loading one)."""

    def __init__(self, store: Store, cfg: Config, model: Callable[[], ChatModel], evidence: OverlapEvidence | None = None):
        self.store, self.cfg, self._model = store, cfg, model
        self.name = cfg.answerer
        self.evidence = evidence or make_evidence(store, cfg)

    def events(
        self, question: str, retrieved: Retrieved, *, stream: bool = True, history: list[dict] | None = None
    ) -> Iterator[StreamEvent]:
        """``token`` events as the model writes, then one ``answer`` with the validated `Answer`.

        Abstains without calling the model when no passage was found or (``llm_evidence_gate``)
        the calibrated evidence score is under ``abstain_threshold``.
        """
        cfg, hits = self.cfg, retrieved.hits
        conf = self.evidence.best_confidence(question, retrieved)
        if not hits or (cfg.llm_evidence_gate and conf < cfg.threshold):
            yield from one_shot(abstention(question, hits, conf, self.name))
            return
        model = self._model()
        shown = fit_passages(hits, cfg)
        messages = answer_messages(question, shown, cfg)
        if stream:
            parts = []
            for text in model.stream(messages):
                parts.append(text)
                yield StreamEvent("token", text=text)
            raw = "".join(parts)
        else:
            raw = model.complete(messages)
            yield StreamEvent("token", text=raw)
        yield StreamEvent("answer", answer=self.finish(question, raw, shown, conf))

    def finish(self, question: str, raw: str, shown: list[Hit], conf: float) -> Answer:
        """The validated `Answer` for a model's raw output (see `citations.validate`)."""
        checked = citations.validate(
            raw, shown, embedder=self.store.sentence_embedder, idf=self.store.keywords.idf,
            threshold=self.cfg.llm_support_threshold, question=question,
        )  # fmt: skip
        return Answer(question, checked.text, checked.abstained, checked.citations, shown, conf, self.name)


# ---- prompts --------------------------------------------------------------------------------
# Anything in article text that could pass for our delimiters or a chat template's tokens.
_LOOKALIKE = re.compile(r"<\s*/?\s*passage|<\|", re.I)


def neutralise(text: str) -> str:
    """Article text that can't close its <passage> early or forge chat-template tokens."""
    return _LOOKALIKE.sub(lambda m: m.group(0).replace("<", "‹"), text)


def fit_passages(hits: list[Hit], cfg: Config) -> list[Hit]:
    """The first ``llm_top_k`` hits, fewer if they would crowd the answer out of ``llm_n_ctx``."""
    budget = (cfg.llm_n_ctx - cfg.llm_max_tokens - PROMPT_OVERHEAD_TOKENS) * CHARS_PER_TOKEN
    out: list[Hit] = []
    for h in hits[: cfg.llm_top_k]:
        budget -= len(h.chunk.text) + len(h.title) + 40
        if out and budget < 0:
            break
        out.append(h)
    return out


def format_passages(hits: list[Hit]) -> str:
    blocks = []
    for n, h in enumerate(hits, 1):
        title = neutralise(h.title).replace('"', "'")
        blocks.append(f'<passage id="{n}" title="{title}">\n{neutralise(h.chunk.text)}\n</passage>')
    return "\n\n".join(blocks)


def answer_messages(question: str, hits: list[Hit], cfg: Config) -> list[Message]:
    return [
        {"role": "system", "content": load_prompt("answer_system", cfg)},
        {"role": "user", "content": render("answer_user", cfg, passages=format_passages(hits),
                                           question=neutralise(question))},
    ]  # fmt: skip
