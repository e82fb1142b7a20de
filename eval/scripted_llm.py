"""A scripted OpenAI-compatible chat server: plays a *capable* model from fixtures.

Each fixture (one JSON object per line, see ``tests/fixtures/capable_llm.jsonl``) holds a
``question`` and an ``answer`` template in which markers are written as phrases, not numbers,
because which passages a question gets, and in what order, is retrieval's business:

- ``{cite:some phrase}`` becomes ``[n]``, n the first shown passage whose text contains the
  phrase (case-insensitive, whitespace and curly quotes normalised). If no shown passage
  contains it, ``[1]`` is written and a ``not_shown`` miss is recorded (`ScriptedLLM.misses`):
  the passage the model would have needed was not among those it was shown.
- ``{wrong:some phrase}`` becomes ``[m]``, m the first shown passage that does NOT contain
  the phrase: a correct claim with a wrong marker. When every shown passage contains it, a
  number naming no passage is written and a ``no_wrong_passage`` miss is recorded.
- Markers written next to each other (``{cite:a}{cite:b}``) become ``[1][2]``, a number
  given once.

The fixture answering a request is the one whose ``question`` occurs in the last user message
(the longest such question, should one contain another). A prompt matching none is answered
"The articles don't say." and logged in `ScriptedLLM.unmatched`; the follow-up condensing
prompt is answered with its last message unchanged.

Library::

    with ScriptedLLM("tests/fixtures/capable_llm.jsonl") as llm:   # or .start() / .stop()
        Config(answerer="openai", llm_base_url=llm.base_url, ...)
        llm.requests, llm.misses

CLI: ``python eval/scripted_llm.py --fixtures F [--port N]`` prints the base URL and serves
until killed. It serves GET /v1/models and POST /v1/chat/completions, streamed (server-sent
events ending ``data: [DONE]``) or not.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "scripted"
NOT_SAID = "The articles don't say."

# <passage id="n" title="..."> (and any other attributes, in any order: outlet=, date=, ...)
PASSAGE = re.compile(r"<passage\b(?P<attrs>[^>]*)>\n?(?P<text>.*?)\n?</passage>", re.S)
ATTR = re.compile(r'(?P<k>[\w-]+)="(?P<v>[^"]*)"')
MARK = re.compile(r"\{(?P<kind>cite|wrong):(?P<phrase>[^{}]+)\}")
MARK_RUN = re.compile(rf"(?:{MARK.pattern})+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def norm(text: str) -> str:
    """Lower case, straight quotes and dashes, single spaces: how phrases and keys are compared."""
    return re.sub(r"\s+", " ", text.translate(_QUOTES)).strip().lower()


@dataclass
class Shown:
    """One passage as the model saw it in the prompt."""

    n: int
    title: str
    text: str
    attrs: dict[str, str] = field(default_factory=dict)  # every attribute of its tag (outlet, date, ...)


def parse_passages(prompt: str) -> list[Shown]:
    """The ``<passage id="n" title="...">text</passage>`` blocks of an answer prompt, whatever
    other attributes their tags carry and in whatever order; blocks without a numeric id are
    skipped."""
    out = []
    for m in PASSAGE.finditer(prompt):
        attrs = {a["k"]: a["v"] for a in ATTR.finditer(m["attrs"])}
        if attrs.get("id", "").isdigit():
            out.append(Shown(int(attrs["id"]), attrs.get("title", ""), m["text"], attrs))
    return out


def render(template: str, passages: list[Shown], misses: list[dict] | None = None, **about) -> str:
    """``template`` with its ``{cite:...}``/``{wrong:...}`` markers turned into ``[n]`` against
    ``passages``; each miss is appended to ``misses`` as a dict (with ``about`` merged in)."""

    def number(kind: str, phrase: str) -> int:
        p = norm(phrase)
        having = [s.n for s in passages if p in norm(s.text)]
        if kind == "cite":
            if having:
                return having[0]
            miss = "not_shown"
            n = 1
        else:
            lacking = [s.n for s in passages if s.n not in having]
            if lacking:
                return lacking[0]
            miss = "no_wrong_passage"
            n = max((s.n for s in passages), default=0) + 1
        if misses is not None:
            misses.append({**about, "miss": miss, "marker": kind, "phrase": phrase,
                           "shown": [s.title for s in passages]})  # fmt: skip
        return n

    def run(m: re.Match) -> str:
        nums: list[int] = []
        for mark in MARK.finditer(m.group(0)):
            n = number(mark["kind"], mark["phrase"])
            if n not in nums:
                nums.append(n)
        return "".join(f"[{n}]" for n in nums)

    return MARK_RUN.sub(run, template)


def load_fixtures(path: str | Path) -> list[dict]:
    """The fixtures of a JSONL file (blank lines and ``#`` comments skipped)."""
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}:{i}: not JSON: {e}") from e
    return out


def _text(content) -> str:
    """A message's content as text (a string, or OpenAI's list of parts)."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


class ScriptedLLM:
    """The server, run in a background thread; ``requests``, ``misses`` and ``unmatched``
    grow as it answers (each request dict: path, body, fixture id, template, reply)."""

    def __init__(self, fixtures: str | Path | list[dict], host: str = "127.0.0.1", port: int = 0):
        self.fixtures = load_fixtures(fixtures) if isinstance(fixtures, str | Path) else list(fixtures)
        # Longest question first: one question containing another must not be mistaken for it.
        self._by_question = sorted(
            ((norm(f["question"]), f) for f in self.fixtures), key=lambda t: len(t[0]), reverse=True
        )
        self.host, self.port = host, port
        self.requests: list[dict] = []
        self.misses: list[dict] = []
        self.unmatched: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- what it answers -------------------------------------------------------------------
    def find(self, prompt: str) -> dict | None:
        p = norm(prompt)
        return next((f for q, f in self._by_question if q in p), None)

    def reply(self, messages: list[dict]) -> tuple[str, dict]:
        """The scripted reply to a chat, and what to log about it."""
        users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        prompt = users[-1] if users else ""
        if "Standalone question:" in prompt or "Last message:" in prompt or system.startswith("You rewrite"):
            m = re.search(r"Last message:\s*(.*?)\s*(?:\n|Standalone question:|$)", prompt, re.S)
            return (m.group(1).strip() if m else NOT_SAID), {"role": "condense"}
        fixture = self.find(prompt)
        shown = parse_passages(prompt)
        if fixture is None:
            q = re.search(r"Question:\s*(.*?)\s*(?:\n|$)", prompt)
            info = {"role": "answer", "fixture": None, "question": q.group(1) if q else prompt[-200:]}
            with self._lock:
                self.unmatched.append(info)
            return NOT_SAID, info
        misses: list[dict] = []
        text = render(
            fixture["answer"], shown, misses, fixture=fixture.get("id"), question=fixture["question"]
        )
        with self._lock:
            self.misses.extend(misses)
        info = {"role": "answer", "fixture": fixture.get("id"), "template": fixture["answer"],
                "shown": [{"n": s.n, **s.attrs} for s in shown], "misses": misses}  # fmt: skip
        return text, info

    # ---- serving ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running: call start() first")
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL (``http://127.0.0.1:PORT/v1``)."""
        if self._server is None:
            self._server = _Server((self.host, self.port), _Handler, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self) -> ScriptedLLM:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, llm: ScriptedLLM):
        super().__init__(address, handler)
        self.llm = llm


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):  # keep callers' output clean
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            return self._json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "scripted"}]})  # fmt: skip
        self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self):
        llm = self.server.llm
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json(
                400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}
            )
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        content, info = llm.reply(body.get("messages") or [])
        with llm._lock:
            llm.requests.append({"path": self.path, "body": body, **info, "reply": content})
            ident = f"chatcmpl-scripted-{len(llm.requests)}"
        created, model = int(time.time()), body.get("model") or MODEL
        usage = {"prompt_tokens": 100, "completion_tokens": max(1, len(content.split())), "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            return self._json(200, {
                "id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": usage,
            })  # fmt: skip
        # Server-sent events, one delta per word, as OpenAI streams them.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        base = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}

        def send(choices: list, **extra) -> None:
            self.wfile.write(f"data: {json.dumps({**base, 'choices': choices, **extra})}\n\n".encode())

        send(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ]
        )
        for piece in re.findall(r"\S+\s*|\s+", content):
            send([{"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}])
        send([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            send([], usage=usage)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--fixtures", default=str(Path(__file__).resolve().parents[1] / "tests/fixtures/capable_llm.jsonl")
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    llm = ScriptedLLM(args.fixtures, host=args.host, port=args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # killed: stop cleanly, say what it served
    print(llm.start(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        llm.stop()
        print(f"{len(llm.requests)} requests, {len(llm.misses)} misses, {len(llm.unmatched)} unmatched",
              file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
