"""The HTTP API (service/): the real `openai` client and httpx against `articleqa serve`'s app on
loopback — citations in-band and exact, streaming, REST, access, limits, fetch refusals."""

from __future__ import annotations

import http.server as web_server
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from articleqa import Assistant, Config, service
from articleqa.answer import ABSTAIN_TEXT
from articleqa.index.local import Store
from articleqa.service.app import create_app
from articleqa.types import CITATION_MARKER

from .conftest import SAMPLES, TALKS_ID, VOV_ID

KEY = "test-key-0123456789abcdef"
KEY2 = "another-key-9876543210fedcba"
STORM = "Which storm did Japan express sympathy about?"
HANOI = "What is the population of Hanoi?"
# Answerable questions drawn on different passages (eval/datasets/sample_articles.jsonl).
QUESTIONS = [
    STORM,
    "How long ago had Ishiba previously been to Vietnam?",
    "In which city did Man and Sekiguchi hold their talks?",
    "For how many years of Japanese ODA support did Man express gratitude?",
    "What did the two sides want the committees to share more of?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    """`articleqa serve` with two API keys, the sample articles ingested, on loopback."""
    cfg = Config(data_dir=tmp_path_factory.mktemp("api-data"), api_keys=[KEY, KEY2], api_rate_limit=0)
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    server = service.launch(qa, port=_free_port(), sample=True, sample_dir=SAMPLES, block=False, quiet=True)
    yield server.local_url, qa
    server.close()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served[0] + "v1", api_key=KEY, max_retries=0)


@pytest.fixture
def http(served):
    with httpx.Client(base_url=served[0], headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def _article_text(http: httpx.Client, article_id: str) -> str:
    r = http.get(f"/v1/articles/{article_id}")
    assert r.status_code == 200, r.text
    return r.json()["text"]


def _check_in_band(http: httpx.Client, text: str, annotations: list[dict], extra: dict) -> None:
    """Every marker is annotated at its place, and each annotation's citation quotes its article."""
    full = {c["n"]: c for c in extra["articleqa"]["citations"]}
    marked = [
        (m.start(), m.end(), int(n)) for m in CITATION_MARKER.finditer(text) for n in m.group(1).split(",")
    ]
    assert [(a["url_citation"]["start_index"], a["url_citation"]["end_index"]) for a in annotations] == [
        (s, e) for s, e, _ in marked
    ]
    for a, (s, e, n) in zip(annotations, marked, strict=True):
        assert text[s:e] == text[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]]
        c = full[n]
        assert a["url_citation"]["title"] == c["title"]
        assert _article_text(http, c["article_id"])[c["start"] : c["end"]] == c["text"]
    # Perplexity's shapes: entry n - 1 is citation n.
    assert len(extra["citations"]) == len(extra["search_results"]) == len(full)
    for i, r in enumerate(extra["search_results"], 1):
        assert r["id"] == i and r["snippet"] == full[i]["text"] and extra["citations"][i - 1] == r["url"]


def test_openai_client_gets_the_answer_with_exact_citations_in_band(served, client, http):
    qa = served[1]
    resp = client.chat.completions.create(model="articleqa", messages=[{"role": "user", "content": STORM}])
    msg = resp.choices[0].message
    expected = qa.ask(STORM)
    assert msg.content == expected.text and "Typhoon Yagi" in msg.content
    assert resp.choices[0].finish_reason == "stop" and resp.object == "chat.completion"
    extra = resp.model_extra
    assert extra["articleqa"]["abstained"] is False
    assert extra["articleqa"]["citations"] == [c.to_dict() for c in expected.citations]
    annotations = [a.model_dump() for a in msg.annotations]
    assert annotations and all(a["type"] == "url_citation" for a in annotations)
    _check_in_band(http, msg.content, annotations, extra)


def test_streaming_sends_only_the_validated_text_then_one_event_per_citation(served, client, http):
    whole = client.chat.completions.create(model="articleqa", messages=[{"role": "user", "content": STORM}])
    chunks = list(
        client.chat.completions.create(
            model="articleqa", messages=[{"role": "user", "content": STORM}], stream=True
        )
    )
    assert all(ch.choices for ch in chunks)  # Open WebUI reads events only from chunks with a choice
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert text == whole.choices[0].message.content  # nothing streamed that the answer doesn't keep
    events = [ch.model_extra["event"] for ch in chunks if "event" in (ch.model_extra or {})]
    cites = whole.model_extra["articleqa"]["citations"]
    assert [e["type"] for e in events] == ["citation"] * len(cites)
    assert [e["data"]["document"] for e in events] == [[c["text"]] for c in cites]
    assert [e["data"]["metadata"][0]["start"] for e in events] == [c["start"] for c in cites]
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and all(
        ch.choices[0].finish_reason is None for ch in chunks[:-1]
    )
    extra = final.model_extra
    assert extra["articleqa"]["citations"] == cites
    _check_in_band(http, text, final.choices[0].delta.model_extra["annotations"], extra)
    # The raw stream: SSE data lines ending with [DONE].
    with http.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "articleqa", "stream": True, "messages": [{"role": "user", "content": STORM}]},
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]" and all(ln.startswith("data: ") for ln in lines)


def test_an_abstention_is_an_ordinary_answer_marked_abstained(client):
    for stream in (False, True):
        resp = client.chat.completions.create(
            model="articleqa", messages=[{"role": "user", "content": HANOI}], stream=stream
        )
        if stream:
            chunks = list(resp)
            text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
            extra = chunks[-1].model_extra
        else:
            text, extra = resp.choices[0].message.content, resp.model_extra
            assert resp.choices[0].message.annotations == []
        assert text == ABSTAIN_TEXT and text.startswith("The articles don't say")
        assert extra["articleqa"]["abstained"] is True
        assert extra["citations"] == [] and extra["articleqa"]["citations"] == []


def test_history_is_condensed_and_filters_apply(client):
    resp = client.chat.completions.create(
        model="articleqa",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who is Tran Thanh Man?"},
            {"role": "assistant", "content": "The chairman of Vietnam's National Assembly [1]."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Which storm did Japan express sympathy about?"}],
            },
        ],
    )
    assert "Typhoon Yagi" in resp.choices[0].message.content
    assert resp.model_extra["articleqa"]["standalone_question"]
    # An outlet no article has: nothing to answer from.
    none = client.chat.completions.create(
        model="articleqa",
        messages=[{"role": "user", "content": STORM}],
        extra_body={"filters": {"sources": ["No Such Outlet"]}},
    )
    assert none.model_extra["articleqa"]["abstained"] is True
    only = client.chat.completions.create(
        model="articleqa",
        messages=[{"role": "user", "content": STORM}],
        extra_body={"filters": {"article_ids": [VOV_ID]}, "top_k": 2},
    )
    assert {c["article_id"] for c in only.model_extra["articleqa"]["citations"]} == {VOV_ID}


def test_models_and_bad_chat_requests(client):
    assert [m.id for m in client.models.list().data] == ["articleqa"]
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": STORM}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        client.chat.completions.create(model="articleqa", messages=[{"role": "assistant", "content": "Hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="since"):
        client.chat.completions.create(
            model="articleqa",
            messages=[{"role": "user", "content": STORM}],
            extra_body={"filters": {"since": "last May"}},
        )


def test_fifty_concurrent_chats_each_get_their_own_answer(served):
    qa = served[1]
    expected = {q: qa.ask(q) for q in QUESTIONS}
    assert len({tuple(c.chunk_id for c in a.citations) for a in expected.values()}) == len(QUESTIONS)
    asks = [QUESTIONS[i % len(QUESTIONS)] for i in range(50)]

    def one(i: int) -> tuple[str, dict]:
        c = openai.OpenAI(base_url=served[0] + "v1", api_key=KEY if i % 2 else KEY2, max_retries=0)
        r = c.chat.completions.create(
            model="articleqa", messages=[{"role": "user", "content": asks[i]}], stream=bool(i % 3 == 0)
        )
        if i % 3 == 0:
            chunks = list(r)
            return "".join(ch.choices[0].delta.content or "" for ch in chunks), chunks[-1].model_extra
        return r.choices[0].message.content, r.model_extra

    with ThreadPoolExecutor(50) as pool:
        got = list(pool.map(one, range(50)))
    for q, (text, extra) in zip(asks, got, strict=True):
        assert text == expected[q].text
        assert extra["articleqa"]["citations"] == [c.to_dict() for c in expected[q].citations]


def test_rest_ask_search_and_articles(served, http):
    qa = served[1]
    ask = http.post("/v1/ask", json={"question": STORM})
    assert ask.status_code == 200
    body = ask.json()
    assert body["answer"] == qa.ask(STORM).text and body["citations"]
    c = body["citations"][0]
    assert _article_text(http, c["article_id"])[c["start"] : c["end"]] == c["text"]
    search = http.post("/v1/search", json={"query": "typhoon damage", "top_k": 3}).json()
    assert 1 <= len(search["results"]) <= 3
    scores = [h["score"] for h in search["results"]]
    assert scores == sorted(scores, reverse=True)
    for h in search["results"]:
        assert _article_text(http, h["article_id"])[h["start"] : h["end"]] == h["text"]
    only = http.post("/v1/search", json={"query": "typhoon", "filters": {"article_ids": [TALKS_ID]}}).json()
    assert {h["article_id"] for h in only["results"]} == {TALKS_ID}
    page1 = http.get("/v1/articles", params={"limit": 1}).json()
    page2 = http.get("/v1/articles", params={"limit": 1, "offset": page1["next_offset"]}).json()
    assert page1["total"] == 2 and page1["next_offset"] == 1 and page2["next_offset"] is None
    assert {page1["data"][0]["id"], page2["data"][0]["id"]} == {VOV_ID, TALKS_ID}
    assert http.get("/v1/articles", params={"q": "parliamentary"}).json()["total"] == 1
    assert http.get("/v1/articles", params={"limit": 1000}).status_code == 422
    missing = http.get("/v1/articles/no-such-article")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "article_not_found"
    bad = http.post("/v1/ask", json={"question": STORM, "topk": 3})  # a typo is refused, not ignored
    assert bad.status_code == 422 and "topk" in bad.json()["error"]["message"]
    assert http.get("/v1/nothing-here").json()["error"]["code"] == "not_found"


def test_rest_adds_updates_and_deletes_articles(served, http):
    text = (
        "The Riverside council approved a new harbour bridge on Monday. The bridge will cost 40 million "
        "euros and open in 2027, the mayor said."
    )
    article = {"text": text, "title": "Harbour bridge approved", "source": "Riverside Post",
               "published_at": "2026-11-30", "id": "harbour-bridge"}  # fmt: skip
    r = http.post("/v1/articles", json=article)
    assert r.status_code == 201 and r.json()["added"] == ["harbour-bridge"]
    assert http.post("/v1/articles", json=article).json()["unchanged"] == ["harbour-bridge"]
    r = http.post("/v1/articles", json={**article, "text": text.replace("40", "45")})
    assert r.status_code == 200 and r.json()["updated"] == ["harbour-bridge"]
    got = http.get("/v1/articles/harbour-bridge").json()
    assert got["text"] == text.replace("40", "45") and got["source"] == "Riverside Post"
    ans = http.post("/v1/ask", json={"question": "How much will the harbour bridge cost?"}).json()
    assert "45 million" in ans["answer"] and ans["citations"][0]["article_id"] == "harbour-bridge"
    # A file upload, as the UI takes it.
    up = http.post(
        "/v1/articles", files={"file": ("ferry.txt", b"The ferry strike ended on Friday after 3 days.")}
    )
    assert up.status_code == 201, up.text
    (ferry,) = up.json()["added"]
    bad = http.post("/v1/articles", files={"file": ("notes.exe", b"MZ")})
    assert bad.status_code == 422 and "can't be ingested" in bad.json()["error"]["message"]
    for aid in ("harbour-bridge", ferry):
        assert http.delete(f"/v1/articles/{aid}").json() == {"id": aid, "deleted": True}
        assert http.get(f"/v1/articles/{aid}").status_code == 404
    assert http.delete("/v1/articles/harbour-bridge").status_code == 404
    assert http.get("/v1/articles").json()["total"] == 2
    for body, what in (({}, "exactly one"), ({"text": "x", "feed_url": "https://a.example/f"}, "exactly one"),
                       ({"url": "/etc/passwd"}, "http:// or https://"),
                       ({"url": "file:///etc/passwd"}, "http:// or https://")):  # fmt: skip
        r = http.post("/v1/articles", json=body)
        assert r.status_code == 422 and what in r.json()["error"]["message"], r.text
    assert http.get("/v1/feeds").json() == {"data": []}


class _Counting(web_server.ThreadingHTTPServer):
    daemon_threads = True


def _site(routes: dict[str, tuple[int, str]]):
    """A local server: path → (status, Location or page); records each request."""
    seen: list[str] = []

    class H(web_server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(self.path)
            status, what = routes.get(self.path, (404, "not found"))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", what)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = what.encode()
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = _Counting(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1], seen


def test_urls_the_server_is_asked_to_fetch_are_checked_first(served, http, monkeypatch):
    secret = "<html><body><article><h1>Admin</h1><p>The password is hunter2.</p></article></body></html>"
    srv, port, seen = _site({"/secret.html": (200, secret)})
    front, fport, front_seen = _site({"/story": (302, f"http://127.0.0.1:{port}/secret.html")})
    # news.test is allowed by name (and resolves to loopback here); 127.0.0.1 itself is not.
    monkeypatch.setattr("articleqa.ingest.network.system_resolver", lambda host, p: ["127.0.0.1"])
    qa = served[1]
    monkeypatch.setattr(qa, "config", qa.config.model_copy(update={"fetch_allow": ["news.test"]}))
    monkeypatch.setattr(qa.store, "cfg", qa.config)
    try:
        for body in ({"url": f"http://127.0.0.1:{port}/secret.html"}, {"feed_url": f"http://127.0.0.1:{port}/secret.html"},
                     {"url": f"http://localhost:{port}/secret.html"}):  # fmt: skip
            r = http.post("/v1/articles", json=body)
            assert r.status_code == 422 and "is a loopback address" in r.json()["error"]["message"], r.text
        r = http.post("/v1/articles", json={"url": f"http://news.test:{fport}/story"})
        assert r.status_code == 422
        assert f"redirected to http://127.0.0.1:{port}/secret.html: refused" in r.json()["error"]["message"]
        assert seen == [] and front_seen == ["/story"]  # no connection to the secret, ever
        assert http.get("/v1/articles").json()["total"] == 2
    finally:
        srv.shutdown()
        front.shutdown()


def _v1_routes(app) -> list[tuple[str, str]]:
    """Every documented /v1 route (from the app's own schema, so a new route can't be missed),
    plus the schema and docs routes themselves."""
    paths = app.openapi()["paths"]
    out = [
        (m.upper(), p.replace("{article_id}", "x"))
        for p, ops in paths.items()
        if p.startswith("/v1/")
        for m in ops
    ]
    return out + [("GET", "/v1/openapi.json"), ("GET", "/v1/docs")]


def test_every_v1_route_needs_a_valid_key(served):
    url = served[0]
    routes = _v1_routes(create_app(served[1], api_keys=[KEY], ui=False))
    assert len(routes) >= 12 and ("GET", "/v1/openapi.json") in routes
    for method, path in routes + [("GET", "/v1/anything"), ("POST", "/mcp/")]:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-key-0000000000000"},
            {"Authorization": f"Basic {KEY}"},
        ):
            r = httpx.request(method, url + path.lstrip("/"), headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.json()["error"]["code"] in ("missing_api_key", "invalid_api_key")
    assert httpx.get(url + "health").json()["status"] == "ok"  # no key needed, says nothing stored
    schema = httpx.get(url + "v1/openapi.json", headers={"Authorization": f"Bearer {KEY2}"}).json()
    assert {"/v1/chat/completions", "/v1/ask", "/v1/search", "/v1/articles", "/v1/articles/{article_id}",
            "/v1/feeds", "/v1/feeds/poll", "/v1/models"} <= set(schema["paths"])  # fmt: skip
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "v1", api_key="nope-nope-nope-nope", max_retries=0).models.list()


def test_the_ui_is_mounted_and_takes_a_key_as_its_password(served):
    url = served[0]
    page = httpx.get(url)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    bad = httpx.post(url + "login", data={"username": "me", "password": "not-a-key"})
    assert bad.status_code in (400, 401)
    good = httpx.post(url + "login", data={"username": "me", "password": KEY})
    assert good.status_code == 200


def test_open_only_on_loopback_and_keys_must_be_long(tmp_path, embedder):
    cfg = Config(data_dir=tmp_path)
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    with pytest.raises(ValueError, match="refusing to serve on 0.0.0.0 without --auth or API keys"):
        service.launch(qa, host="0.0.0.0", port=_free_port(), sample=False, block=False, quiet=True)
    with pytest.raises(ValueError, match="too short"):
        create_app(qa, api_keys=["short"], ui=False)
    keys = tmp_path / "keys"
    keys.write_text(f"# team keys\n{KEY}\n\n{KEY2}\n")
    app = create_app(Assistant(cfg.model_copy(update={"api_keys_file": keys}), store=qa.store), ui=False)
    with TestClient(app) as tc:
        assert tc.get("/v1/models", headers={"Authorization": f"Bearer {KEY2}"}).status_code == 200
        assert tc.get("/v1/models").status_code == 401
    # --auth without keys: the UI signs in, the API stays closed.
    with TestClient(create_app(qa, auth=("ann", "s3cret"), ui=False)) as tc:
        r = tc.get("/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "api_keys_required"


def test_rate_limits_body_limits_and_cors(tmp_path, embedder):
    cfg = Config(
        data_dir=tmp_path, api_keys=[KEY, KEY2], api_rate_limit=3, api_max_body_mb=0.01, max_file_mb=0.01
    )
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    h1, h2 = ({"Authorization": f"Bearer {k}"} for k in (KEY, KEY2))
    with TestClient(create_app(qa, ui=False)) as tc:
        assert [tc.get("/v1/models", headers=h1).status_code for _ in range(3)] == [200] * 3
        r = tc.get("/v1/models", headers=h1)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        assert tc.get("/v1/models", headers=h2).status_code == 200  # per key
        big = {"text": "word " * 5000, "title": "Big"}
        r = tc.post("/v1/articles", headers=h2, json=big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
        r = tc.post("/v1/articles", headers=h2, content=_chunked(json.dumps(big).encode()))
        assert r.status_code == 413  # streamed without a Content-Length: counted as it comes
        assert tc.get("/v1/articles", headers=h2).json()["total"] == 0
        pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        assert "access-control-allow-origin" not in tc.options("/v1/ask", headers=pre).headers
    cors = cfg.model_copy(update={"cors_origins": ["https://news.example"], "api_rate_limit": 0})
    with TestClient(create_app(Assistant(cors, store=qa.store), ui=False)) as tc:
        ok = {"Origin": "https://news.example", "Access-Control-Request-Method": "POST",
              "Access-Control-Request-Headers": "authorization"}  # fmt: skip
        r = tc.options("/v1/ask", headers=ok)
        assert r.headers["access-control-allow-origin"] == "https://news.example"
        r = tc.options("/v1/ask", headers={**ok, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def _chunked(data: bytes):
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


def test_mcp_is_served_in_the_same_process_behind_the_keys(served):
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, qa = served

    async def main() -> dict:
        auth = {"Authorization": f"Bearer {KEY}"}
        async with (
            httpx2.AsyncClient(headers=auth, timeout=60) as http_client,
            Client(streamable_http_client(url + "mcp/", http_client=http_client)) as client,
        ):
            tools = {t.name for t in (await client.list_tools()).tools}
            assert {"ask", "search", "list_articles", "get_article"} <= tools and "ingest" not in tools
            with anyio.fail_after(120):
                r = await client.call_tool("ask", {"question": STORM})
            assert not r.is_error
            return r.structured_content

    ans = anyio.run(main)
    assert ans["answer"] == qa.ask(STORM).text and ans["citations"]
    for c in ans["citations"]:
        assert c["uri"] == f"article://{c['article_id']}#char={c['start']},{c['end']}"
        assert qa.article(c["article_id"]).text[c["start"] : c["end"]] == c["text"]


class _ScriptedLLM:
    """A chat model with a fixed draft (beside the real ones: the exact draft is the point),
    or one that fails the way an unreachable server does."""

    name = "scripted"

    def __init__(self, reply: str = "", fail: bool = False, delay: float = 0.0):
        self.reply, self.fail, self.delay = reply, fail, delay

    def complete(self, messages, max_tokens=None) -> str:
        return "".join(self.stream(messages, max_tokens))

    def stream(self, messages, max_tokens=None):
        from articleqa import LLMError

        if self.fail:
            raise LLMError("the LLM server at http://127.0.0.1:9/v1 did not answer", kind="llm_unreachable")
        time.sleep(self.delay)
        yield from (w + " " for w in self.reply.split())


def test_an_llm_answer_streams_only_what_its_citation_check_keeps(sample_dir, embedder):
    draft = (
        "Masakazu extended his sympathy for the damage recently caused by Typhoon Yagi in Vietnam [1]. "
        "The two sides also signed a treaty on fisheries in Osaka [2]."
    )
    cfg = Config(data_dir=sample_dir, answerer="openai")
    store = Store(cfg, embedder=embedder)
    qa = Assistant(cfg, store=store, chat_model=_ScriptedLLM(draft))
    raw = "".join(e.text for e in qa.ask_stream(STORM) if e.kind == "token")
    assert "fisheries" in raw  # the model's own tokens hold the invented claim
    server = service.Server(create_app(qa, ui=False, mcp=False), "127.0.0.1", _free_port()).start()
    broken = Assistant(cfg, store=store, chat_model=_ScriptedLLM(fail=True))
    server2 = service.Server(create_app(broken, ui=False, mcp=False), "127.0.0.1", _free_port()).start()
    try:
        client = openai.OpenAI(base_url=server.local_url + "v1", api_key="unused", max_retries=0)
        chunks = list(
            client.chat.completions.create(
                model="articleqa", messages=[{"role": "user", "content": STORM}], stream=True
            )
        )
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
        assert "Typhoon Yagi" in text and "fisheries" not in text and "Osaka" not in text
        extra = chunks[-1].model_extra["articleqa"]
        assert text == qa.ask(STORM).text and extra["backend"] == "openai"
        assert any(k["action"] == "dropped" for k in extra["checks"])
        bad = openai.OpenAI(base_url=server2.local_url + "v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as e:
            bad.chat.completions.create(model="articleqa", messages=[{"role": "user", "content": STORM}])
        assert e.value.status_code == 502 and e.value.body["code"] == "llm_error"
        with pytest.raises(openai.APIError, match="did not answer"):
            list(
                bad.chat.completions.create(
                    model="articleqa", messages=[{"role": "user", "content": STORM}], stream=True
                )
            )
    finally:
        server.close()
        server2.close()


def test_a_slow_answer_keeps_the_stream_alive(sample_dir, embedder, monkeypatch):
    monkeypatch.setattr("articleqa.service.api.KEEPALIVE_S", 0.1)
    cfg = Config(data_dir=sample_dir, answerer="openai")
    slow = _ScriptedLLM(
        "Masakazu extended his sympathy for the damage recently caused by Typhoon Yagi in Vietnam [1].",
        delay=0.5,
    )
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder), chat_model=slow)
    server = service.Server(create_app(qa, ui=False, mcp=False), "127.0.0.1", _free_port()).start()
    try:
        body = {"model": "articleqa", "stream": True, "messages": [{"role": "user", "content": STORM}]}
        with httpx.stream("POST", server.local_url + "v1/chat/completions", json=body, timeout=60) as r:
            lines = [ln for ln in r.iter_lines() if ln]
        assert lines.count(": keep-alive") >= 2 and lines[-1] == "data: [DONE]"
        client = openai.OpenAI(base_url=server.local_url + "v1", api_key="unused", max_retries=0)
        chunks = list(client.chat.completions.create(**body))  # comments are skipped by clients
        assert "Typhoon Yagi" in "".join(ch.choices[0].delta.content or "" for ch in chunks)
    finally:
        server.close()


def test_serve_refuses_every_interface_without_keys_or_login(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from articleqa.cli import app

    monkeypatch.delenv("ARTICLEQA_API_KEYS", raising=False)
    monkeypatch.delenv("ARTICLEQA_AUTH", raising=False)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--no-sample", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without --auth or API keys" in " ".join(r.output.split())
    short = tmp_path / "keys"
    short.write_text("abc\n")
    r = CliRunner().invoke(
        app, ["serve", "--api-keys-file", str(short), "--no-sample", "--data-dir", str(tmp_path)]
    )
    assert r.exit_code == 2 and "too short" in r.output
