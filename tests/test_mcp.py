"""The MCP server (service/mcp.py, `articleqa mcp`) through the real ``mcp`` client: over stdio
against the CLI in a subprocess, and over streamable HTTP mounted in a FastAPI app."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from .conftest import SAMPLES, VOV_ID

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {
    "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
}
ANSWERED = "Which storm did Japan express sympathy about?"
NOT_ANSWERED = "What is the population of Hanoi?"
URI = re.compile(r"article://(?P<id>[^#]+)#char=(?P<start>\d+),(?P<end>\d+)")
TOOLS = {"ask", "search", "list_articles", "get_article"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder) -> Path:
    """The sample articles in a data dir of this module's own (the server subprocess opens it)."""
    from articleqa import Assistant, Config
    from articleqa.index.local import Store

    cfg = Config(data_dir=tmp_path_factory.mktemp("mcp-store"))
    assert Assistant(cfg, store=Store(cfg, embedder=embedder)).ingest([SAMPLES]).ok
    return cfg.data_dir


@contextmanager
def _stderr_file(tmp_path: Path) -> Iterator[Any]:
    with (tmp_path / "server-stderr.txt").open("w+") as f:
        yield f


def _stdio(data_dir: Path, errlog: Any, *args: str) -> Client:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "articleqa.cli", "mcp", "--data-dir", str(data_dir), *args],
        env=ENV,
    )
    return Client(stdio_client(params, errlog=errlog), read_timeout_seconds=120)


async def _call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    r = await client.call_tool(tool, arguments)
    assert not r.is_error, r.content
    return r.structured_content


async def _error(client: Client, tool: str, **arguments: Any) -> str:
    r = await client.call_tool(tool, arguments)
    assert r.is_error and r.structured_content is None
    return r.content[0].text


def _check_span(item: dict[str, Any], text: str) -> None:
    """``item`` (a citation or passage) is the exact span its offsets and uri name."""
    assert item["text"] == text[item["start"] : item["end"]] and item["text"]
    m = URI.fullmatch(item["uri"])
    assert m and (m["id"], int(m["start"]), int(m["end"])) == (item["article_id"], item["start"], item["end"])


def test_stdio_tools_answer_with_checkable_citations(data_dir, tmp_path):
    async def main() -> None:
        with _stderr_file(tmp_path) as errlog:
            async with _stdio(data_dir, errlog) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert set(tools) == TOOLS  # no ingest unless --allow-ingest
                assert all(t.output_schema and t.description for t in tools.values())
                texts = {}

                async def text_of(article_id: str) -> str:
                    if article_id not in texts:
                        art = await _call(client, "get_article", article_id=article_id)
                        texts[article_id] = art["text"]
                    return texts[article_id]

                ans = await _call(client, "ask", question=ANSWERED)
                assert not ans["abstained"] and "Yagi" in ans["answer"] and ans["citations"]
                for c in ans["citations"]:
                    assert f"[{c['n']}]" in ans["answer"]
                    _check_span(c, await text_of(c["article_id"]))
                    part = await _call(client, "get_article", article_id=c["article_id"], start=c["start"],
                                       end=c["end"])  # fmt: skip
                    assert part["text"] == c["text"] and part["uri"] == c["uri"]

                found = await _call(client, "search", query="typhoon damage sympathy", top_k=3)
                assert 0 < len(found["passages"]) <= 3
                assert any("Yagi" in p["text"] for p in found["passages"])
                for p in found["passages"]:
                    _check_span(p, await text_of(p["article_id"]))
                only_vov = await _call(client, "search", query="Japan", sources=["VOV"])
                assert only_vov["passages"] and {p["article_id"] for p in only_vov["passages"]} == {VOV_ID}

                first = await _call(client, "list_articles", limit=1)
                second = await _call(client, "list_articles", offset=first["next_offset"], limit=1)
                assert first["total"] == second["total"] == 2 and second["next_offset"] is None
                ids = [a["id"] for a in first["articles"] + second["articles"]]
                assert len(set(ids)) == 2 and VOV_ID in ids
                vov = await _call(client, "list_articles", source="VOV")
                assert [a["id"] for a in vov["articles"]] == [VOV_ID] and vov["total"] == 1

                assert "no article with id 'no-such-article'" in await _error(
                    client, "get_article", article_id="no-such-article"
                )
                assert "outside the article" in await _error(
                    client, "get_article", article_id=VOV_ID, start=10, end=10**7
                )
                assert "no date" in await _error(client, "ask", question=ANSWERED, since="2025-01-02",
                                                 until="2025-01-01")  # fmt: skip

                none = await _call(client, "ask", question=NOT_ANSWERED)
                assert none["abstained"] is True and none["citations"] == []

                res = await client.read_resource(f"article://{VOV_ID}")
                assert res.contents[0].text == await text_of(VOV_ID)

    anyio.run(main)


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body><article><p>An internal page.</p></article></body></html>")

    def log_message(self, *args: object) -> None:
        pass


def test_stdio_ingest_only_when_allowed_and_under_the_fetch_policy(tmp_path):
    internal = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=internal.serve_forever, daemon=True).start()
    empty = tmp_path / "data"

    async def main() -> None:
        with _stderr_file(tmp_path) as errlog:
            async with _stdio(empty, errlog, "--allow-ingest") as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS | {"ingest"}
                url = f"http://127.0.0.1:{internal.server_port}/story.html"
                refused = await _error(client, "ingest", url=url)
                assert "refused" in refused and "loopback" in refused
                assert "not an http(s) URL" in await _error(client, "ingest", url="file:///etc/passwd")
                assert "is not a date" in await _error(
                    client, "ingest", text="Some news.", published_at="20240506"
                )

                text = "Harbour reopens\n\nThe harbour of Saltby reopened on Monday after the storm.\n"
                meta = {"source": "Saltby Wire", "published_at": "2024-05-06"}
                report = await _call(client, "ingest", text=text, **meta)
                assert len(report["added"]) == 1 and report["errors"] == []
                again = await _call(client, "ingest", text=text, **meta)
                assert again["unchanged"] == report["added"]
                (art,) = (await _call(client, "list_articles"))["articles"]
                assert (art["title"], art["source"], art["published_at"]) == (
                    "Harbour reopens", "Saltby Wire", "2024-05-06",
                )  # fmt: skip
                (hit, *_) = (await _call(client, "search", query="When did the harbour reopen?"))["passages"]
                assert hit["article_id"] == art["id"] and "Monday" in hit["text"]
            errlog.seek(0)
            assert f"No articles in {empty}" in errlog.read()  # the hint, on stderr

    try:
        anyio.run(main)
    finally:
        internal.shutdown()
    assert _Counting.hits == 0  # refused before connecting


def test_stdout_carries_only_the_protocol(tmp_path):
    """Raw JSON-RPC over the CLI's pipes: every stdout line is a protocol message."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "articleqa.cli", "mcp", "--data-dir", str(tmp_path / "data")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **ENV},
    )  # fmt: skip
    killer = threading.Timer(90, proc.kill)  # a hung server fails the test instead of hanging it
    killer.start()
    try:
        client = {"name": "t", "version": "0"}
        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}
        for msg in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        ):
            proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()
        lines = []
        while not any(json.loads(ln).get("id") == 2 for ln in lines):
            line = proc.stdout.readline()
            assert line, "the server closed stdout before answering"
            lines.append(line)
        proc.stdin.close()
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait()
    finally:
        killer.cancel()
    lines += rest.splitlines()
    assert all(json.loads(ln)["jsonrpc"] == "2.0" for ln in lines)
    (tools,) = [json.loads(ln)["result"]["tools"] for ln in lines if json.loads(ln).get("id") == 2]
    assert {t["name"] for t in tools} == TOOLS
    assert "No articles in" in err and "articleqa ingest" in err


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.parametrize("stateless", [False, True], ids=["sessions", "stateless-json"])
def test_streamable_http_mounted_in_fastapi(sample_qa, stateless):
    import uvicorn
    from fastapi import FastAPI

    from articleqa.service.mcp import build_mcp, mcp_http_app, mcp_lifespan

    server = build_mcp(sample_qa)
    mcp_app = mcp_http_app(server, stateless=stateless, json_response=stateless)

    async def lifespan(app: FastAPI):
        async with mcp_lifespan(server):
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/mcp", mcp_app)
    sock = _free_socket()
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    async def main() -> None:
        with anyio.fail_after(60):
            while not web.started:
                await anyio.sleep(0.05)
        for url in (f"http://127.0.0.1:{port}/mcp/", f"http://127.0.0.1:{port}/mcp"):  # /mcp: redirected
            async with Client(url, read_timeout_seconds=60) as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                found = await _call(client, "search", query="Typhoon Yagi", top_k=2)
                assert found["passages"] and any("Yagi" in p["text"] for p in found["passages"])
                for p in found["passages"]:
                    _check_span(p, sample_qa.article(p["article_id"]).text)

    try:
        anyio.run(main)
    finally:
        web.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive()
