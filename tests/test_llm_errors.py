"""Issue 21 (3a): an LLM that can't answer (nothing listening, a refused key, no such model, a
timeout, a missing GGUF file) is one plain line naming the server and what to check, in the
CLI (`ask`, `ask --json`, `chat`, `eval`), the UI chat and the API: never a traceback.

The servers are on loopback: a closed port (connection refused) and a stub that answers 401,
404, 429 and 500 in OpenAI's error shape, or sleeps past the timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from articleqa import Assistant, Config, LLMError
from articleqa.answer.models import LocalChat, OpenAIChat
from articleqa.ui import chat, render

from .conftest import ROOT

QUESTION = "On what terms did Man want Japan's new-generation ODA to be provided?"
MESSAGES = [{"role": "user", "content": "Say hello."}]
ROUTES = {
    "auth": (401, {"error": {"message": "Incorrect API key provided: sk-bad", "type": "invalid_request_error",
                             "code": "invalid_api_key"}}),
    "missing": (404, {"error": {"message": "model not found"}}),
    "limited": (429, {"error": {"message": "Rate limit reached for requests"}}),
    "broken": (500, {"error": {"message": "internal error"}}),
}  # fmt: skip
SLOW_S = 3.0  # the "slow" route answers after this; the tests' llm_timeout is 0.5 s


class _Stub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = self.path.strip("/").split("/")[0]
        if route == "slow":
            time.sleep(SLOW_S)
            status, body = 200, {"choices": []}
        else:
            status, body = ROUTES.get(route, (404, {"error": {"message": "no such route"}}))
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (the timeout case)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stub_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def closed_url() -> str:
    """A loopback port nothing listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _url(route: str | None, stub_url: str, closed_url: str) -> str:
    return closed_url if route is None else f"{stub_url}/{route}/v1"


def _run(*args: str, data_dir, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "articleqa.cli", *args], capture_output=True, text=True, env=env, timeout=300,
        input=stdin, cwd=ROOT,
    )  # fmt: skip


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip()]


# ---- the chat-model layer ---------------------------------------------------------------------
CASES = [
    (None, "llm_unreachable", ["cannot reach the LLM server at", "(connection refused): is it running?",
                               "--llm-base-url / ARTICLEQA_LLM_BASE_URL"]),
    ("auth", "llm_auth", ["refused the API key (HTTP 401: Incorrect API key provided", "OPENAI_API_KEY"]),
    ("missing", "llm_model_not_found", ["has no model 'smollm2' (HTTP 404: model not found)", "--llm-model"]),
    ("slow", "llm_timeout", ["did not answer within 0.5 s", "ARTICLEQA_LLM_TIMEOUT"]),
    ("limited", "llm_rate_limited", ["is limiting requests (HTTP 429: Rate limit reached"]),
    ("broken", "llm_server_error", ["failed (HTTP 500: internal error)"]),
]  # fmt: skip


@pytest.mark.parametrize("route, kind, says", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("call", ["complete", "stream"])
def test_openai_client_failures_become_one_plain_llm_error(stub_url, closed_url, route, kind, says, call):
    url = _url(route, stub_url, closed_url)
    model = OpenAIChat(Config(answerer="openai", llm_base_url=url, llm_model="smollm2", llm_timeout=0.5))
    t0 = time.monotonic()
    with pytest.raises(LLMError) as info:
        model.complete(MESSAGES) if call == "complete" else list(model.stream(MESSAGES))
    # No retries: a refusal fails at once, a timeout after llm_timeout (not 4 s of retrying).
    assert time.monotonic() - t0 < (1.5 if route == "slow" else 1.0)
    e = info.value
    assert e.kind == kind and e.url == url and url in e.message and "\n" not in e.message
    for s in says:
        assert s in e.message
    assert e.to_dict() == {"type": kind, "message": e.message, "url": url}


def test_a_missing_or_unreadable_gguf_file_is_one_plain_llm_error(tmp_path):
    gone = tmp_path / "nope.gguf"
    with pytest.raises(LLMError) as info:
        LocalChat(Config(answerer="local", llm_gguf_path=gone))
    assert info.value.kind == "llm_model_missing" and info.value.url == str(gone)
    assert (
        str(info.value) == f"the GGUF model {gone} does not exist: check --llm-gguf / ARTICLEQA_LLM_GGUF_PATH"
    )

    pytest.importorskip("llama_cpp", reason="loading a GGUF file needs llama-cpp-python")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    with pytest.raises(LLMError, match=r"could not load the GGUF model .*junk\.gguf .*check --llm-gguf"):
        LocalChat(Config(answerer="local", llm_gguf_path=junk))


# ---- the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "route, says",
    [
        (
            None,
            "cannot reach the LLM server at {url} (connection refused): is it running? check --llm-base-url",
        ),
        ("missing", "the LLM server at {url} has no model 'gpt-4o-mini' (HTTP 404: model not found)"),
    ],
    ids=["unreachable", "model_not_found"],
)
def test_ask_with_a_failing_llm_prints_one_line_and_exits_1(sample_dir, stub_url, closed_url, route, says):
    url = _url(route, stub_url, closed_url)
    r = _run("ask", QUESTION, "--answerer", "openai", "--llm-base-url", url, data_dir=sample_dir)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    (line,) = _error_lines(r.stderr)
    assert line.startswith("error: " + says.format(url=url))


@pytest.mark.parametrize("route, kind", [("auth", "llm_auth"), ("slow", "llm_timeout")])
def test_ask_json_with_a_failing_llm_prints_an_error_object(sample_dir, stub_url, closed_url, route, kind):
    url = _url(route, stub_url, closed_url)
    r = _run("ask", QUESTION, "--json", "--answerer", "openai", "--llm-base-url", url, data_dir=sample_dir,
             ARTICLEQA_LLM_TIMEOUT="0.5")  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    out = json.loads(r.stdout)
    assert out["question"] == QUESTION and set(out) == {"question", "error"}
    assert out["error"]["type"] == kind and out["error"]["url"] == url and url in out["error"]["message"]
    assert _error_lines(r.stderr) == [f"error: {out['error']['message']}"]


def test_chat_with_nothing_listening_prints_one_line_and_exits_1(sample_dir, closed_url):
    r = _run("chat", "--no-sample", "--answerer", "openai", "--llm-base-url", closed_url, data_dir=sample_dir,
             stdin=QUESTION + "\n")  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    (line,) = _error_lines(r.stderr)
    assert line.startswith(f"error: cannot reach the LLM server at {closed_url} (connection refused)")


def test_ask_local_with_a_missing_gguf_prints_one_line(sample_dir, tmp_path):
    gone = tmp_path / "missing.gguf"
    r = _run("ask", QUESTION, "--answerer", "local", "--llm-gguf", str(gone), data_dir=sample_dir)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert _error_lines(r.stderr) == [f"error: the GGUF model {gone} does not exist: check --llm-gguf / "
                                      "ARTICLEQA_LLM_GGUF_PATH"]  # fmt: skip


def test_eval_with_nothing_listening_fails_with_the_one_line(tmp_path, closed_url):
    dataset = tmp_path / "one.jsonl"
    item = {"id": "q1", "question": QUESTION, "answers": ["simplified procedures"], "must_mention": [],
            "articles": ["vietnam-japan-parliamentary-agreement-vov"], "type": "single_article"}  # fmt: skip
    dataset.write_text(json.dumps(item) + "\n")
    r = _run("eval", str(dataset), "--no-baseline", "--report-dir", str(tmp_path / "report"), "--answerer", "openai",
             "--llm-base-url", closed_url, data_dir=tmp_path / "data")  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"error: cannot reach the LLM server at {closed_url} (connection refused)" in r.stderr


# ---- the UI -----------------------------------------------------------------------------------
def test_ui_chat_shows_why_the_llm_failed_in_the_chat(sample_dir, sample_qa, closed_url):
    qa = Assistant(
        Config(data_dir=sample_dir, answerer="openai", llm_base_url=closed_url), store=sample_qa.store
    )
    kind, turn = list(chat.stream_turn(qa, QUESTION))[-1]
    assert kind == "error" and turn["status"] == "error" and turn["error_type"] == "llm_unreachable"
    assert turn["error"].startswith(f"cannot reach the LLM server at {closed_url} (connection refused)")
    html = render.conversation_html([turn])
    assert "bubble error" in html and f"cannot reach the LLM server at {closed_url}" in html


class _Down:
    """A chat model whose server is gone."""

    name = "down"

    def _fail(self, *args: object, **kwargs: object):
        raise LLMError("cannot reach the LLM server at http://127.0.0.1:9/v1 (connection refused): is it running?",
                       kind="llm_unreachable", url="http://127.0.0.1:9/v1")  # fmt: skip

    complete = stream = _fail


def test_ui_chat_and_api_with_a_chat_model_that_raises(sample_dir, sample_qa):
    from articleqa.ui import app as ui

    qa = Assistant(Config(data_dir=sample_dir, answerer="openai"), store=sample_qa.store, chat_model=_Down())
    history = [{"role": "user", "content": "Who met Ishiba?"}, {"role": "assistant", "content": "Man did."}]
    kind, turn = list(chat.stream_turn(qa, QUESTION, history))[-1]
    assert kind == "error" and turn["error"].startswith(
        "cannot reach the LLM server at http://127.0.0.1:9/v1"
    )

    import gradio as gr

    demo = ui.build_app(qa, examples=[])
    (api,) = [f.fn for f in demo.fns.values() if getattr(f, "api_name", None) == "chat"]
    with pytest.raises(gr.Error, match="cannot reach the LLM server at http://127.0.0.1:9/v1"):
        api(QUESTION, history)
