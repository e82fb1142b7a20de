"""The ``/v1`` routes: OpenAI-compatible chat, ask, search, articles and feeds (docs/api.md).

Each route is a thin layer over `Assistant`, answering in the boundary's JSON forms
(`Answer.to_dict()`, `Hit.to_dict()`, `ArticleInfo`, `IngestReport`, `FeedState`). Routes are
plain ``def``s: FastAPI runs them in its worker threads, so answering (CPU-bound) never blocks
the event loop, and concurrent requests are as safe as concurrent UI chats.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..answer.models import LLMError
from ..assistant import Assistant
from ..index.contracts import StoreUnavailable
from ..ingest.readers import text_article
from ..periods import is_day
from ..types import AnswerJSON, Article, FeedState, Filters, HitJSON
from ..ui import library
from ..ui.chat import MAX_QUESTION_CHARS
from . import openai_chat
from .access import ApiError, error_body

MODEL = "articleqa"  # the model id of the collection a server answers from (GET /v1/models)
MAX_PAGE = 200  # the most rows one page of a list holds
# Proxies close a response that stays quiet too long (nginx's proxy_read_timeout: 60 s); an
# LLM's answer can take longer than that before its first validated word.
KEEPALIVE_S = 10.0


class FiltersIn(BaseModel):
    """What a search or answer is restricted to (all optional)."""

    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(default_factory=list, description="Outlets (an article's `source`).")
    since: str | None = Field(None, description="Published on or after this day (YYYY-MM-DD).")
    until: str | None = Field(None, description="Published on or before this day (YYYY-MM-DD).")
    article_ids: list[str] = Field(default_factory=list, description="Only these articles.")

    @field_validator("since", "until")
    @classmethod
    def _day(cls, v: str | None) -> str | None:
        if v and not is_day(v):
            raise ValueError(f"'{v}' is not a day as YYYY-MM-DD")
        return v or None

    def filters(self) -> Filters | None:
        f = Filters(list(self.sources), self.since or "", self.until or "", list(self.article_ids))
        return None if f.empty else f


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str


TopK = Annotated[int | None, Field(None, ge=1, le=50, description="Passages to use (default: the server's).")]
Question = Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Question
    history: list[Message] = Field(default_factory=list, description="Earlier turns, oldest first.")
    top_k: TopK = None
    filters: FiltersIn | None = None


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Question
    top_k: TopK = None
    filters: FiltersIn | None = None


class SearchOut(BaseModel):
    query: str
    results: list[HitJSON]


class ChatIn(BaseModel):
    """An OpenAI chat request; fields articleqa doesn't use (temperature, …) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    top_k: TopK = None
    filters: FiltersIn | None = None


class ArticleIn(BaseModel):
    """An article to add: its ``text`` (with metadata), or a page ``url`` to fetch, or a ``feed_url``."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, min_length=1)
    url: str | None = Field(None, description="With text: where it was published; alone: a page to fetch.")
    feed_url: str | None = Field(None, description="An RSS or Atom feed: each entry becomes an article.")
    title: str = ""
    source: str = Field("", description="The outlet.")
    author: str = ""
    published_at: str = Field("", description="YYYY-MM-DD")
    id: str | None = Field(None, description="With text: its id; posting it again updates the article.")

    @model_validator(mode="after")
    def _one(self) -> ArticleIn:
        given = [x for x in (self.text, self.feed_url) if x is not None]
        if self.text is None and self.url is not None:
            given.append(self.url)
        if len(given) != 1:
            raise ValueError("give exactly one of: text (with optional url, title…), url, feed_url")
        for name, url in (("url", self.url), ("feed_url", self.feed_url)):
            # Never a path: "url": "/etc/passwd" must not read the server's own files.
            if url is not None and urlsplit(url).scheme.lower() not in ("http", "https"):
                raise ValueError(f"{name} must be an http:// or https:// URL, not '{url[:80]}'")
        if self.published_at:
            FiltersIn(since=self.published_at)
        return self

    def article(self) -> Article:
        """The `Article` of a ``text`` body (`readers.text_article`: keyed by its id, else its
        URL, else its text, so posting it again updates or skips it, never doubles it)."""
        return text_article(self.text or "", title=self.title, source=self.source, url=self.url or "",
                            author=self.author, published_at=self.published_at, id_=self.id or "",
                            origin="api")  # fmt: skip


class ArticleOut(BaseModel):
    id: str
    title: str
    source: str
    url: str
    author: str
    published_at: str
    key: str
    origin: str
    chars: int
    text: str


class PollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] | None = Field(None, description="Feeds to poll (default: every feed known).")


class ApiRoute(APIRoute):
    """A ``/v1`` route whose failures all answer ``{"error": {"code", "message", "type"}}``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Any:
            try:
                return await handler(request)
            except ApiError as e:
                return JSONResponse(error_body(e.status, e.code, e.message), e.status, headers=e.headers)
            except RequestValidationError as e:
                return JSONResponse(error_body(422, "invalid_request", _validation_message(e)), 422)
            except LLMError as e:
                return JSONResponse(error_body(502, "llm_error", str(e)), 502)
            except StoreUnavailable as e:
                return JSONResponse(error_body(503, "store_unavailable", str(e)), 503)
            except ValueError as e:  # the Assistant's own checks: an empty question, bad history
                return JSONResponse(error_body(400, "invalid_request", str(e)), 400)

        return handle


def _validation_message(e: RequestValidationError) -> str:
    """Pydantic's errors as one plain line: ``body.filters.since: 'May 3' is not a day …``."""
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def _not_found(article_id: str) -> ApiError:
    return ApiError(404, "article_not_found", f"no article with id '{article_id}' (see GET /v1/articles)")


def _ingested(report: Any) -> JSONResponse:
    """201 when something was added, 200 otherwise; 422 with the report when nothing was stored
    and something failed (a refused URL, a file that can't be read)."""
    body = report.to_dict()
    if report.errors and not (report.added or report.updated or report.unchanged):
        raise ApiError(422, "ingest_failed", "; ".join(report.errors))
    return JSONResponse(body, status_code=201 if report.added else 200)


def build_router(assistant: Assistant) -> APIRouter:
    """The ``/v1`` routes over ``assistant`` (access checks are the caller's dependency)."""
    router = APIRouter(route_class=ApiRoute)
    cfg = assistant.config

    @router.get("/models", tags=["chat"], summary="The model of this collection (OpenAI's shape)")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "articleqa",
                                            "collection": cfg.collection}]}  # fmt: skip

    @router.post("/chat/completions", tags=["chat"], summary="Answer the last user message, with citations")
    def chat_completions(body: ChatIn) -> Any:
        if body.model not in (MODEL, cfg.collection):
            raise ApiError(404, "model_not_found", f"no model '{body.model}'; this server has '{MODEL}'")
        question, history = openai_chat.question_and_history(body.messages)
        if len(question) > MAX_QUESTION_CHARS:
            raise ApiError(400, "question_too_long", f"the question is over {MAX_QUESTION_CHARS} characters")
        filters = body.filters.filters() if body.filters else None
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.stream:
            ans = assistant.ask(question, top_k=body.top_k, filters=filters, history=history or None)
            return openai_chat.completion(ans, body.model, cid, created)
        # Retrieval runs now, so a bad request fails with its status before the stream starts.
        events = assistant.ask_stream(question, top_k=body.top_k, filters=filters, history=history or None)
        return StreamingResponse(_sse(events, body.model, cid, created), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    @router.post("/ask", tags=["answers"], summary="Answer a question (the `ask --json` object)")
    def ask(body: AskIn) -> AnswerJSON:
        history = [m.model_dump() for m in body.history] or None
        filters = body.filters.filters() if body.filters else None
        return assistant.ask(body.question, top_k=body.top_k, filters=filters, history=history).to_dict()

    @router.post("/search", tags=["answers"], summary="The passages a question retrieves, with scores")
    def search(body: SearchIn) -> SearchOut:
        filters = body.filters.filters() if body.filters else None
        hits = assistant.retrieve(body.query.strip(), body.top_k or cfg.top_k, filters)
        return SearchOut(query=body.query, results=[h.to_dict() for h in hits])

    @router.get("/articles", tags=["articles"], summary="The articles, a page at a time")
    def list_articles(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        source: Annotated[str | None, Query(description="Only this outlet.")] = None,
        since: Annotated[str | None, Query(description="Published on or after (YYYY-MM-DD).")] = None,
        until: Annotated[str | None, Query(description="Published on or before (YYYY-MM-DD).")] = None,
        q: Annotated[str | None, Query(description="Words the title contains (any case).")] = None,
    ) -> dict[str, Any]:
        f = FiltersIn(since=since, until=until)
        rows = [
            r for r in assistant.articles()
            if (not source or r.source == source) and (not q or q.lower() in r.title.lower())
            and (not f.since or r.published_at[:10] >= f.since) and (not f.until or r.published_at[:10] <= f.until)
        ]  # fmt: skip
        page = rows[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(rows) else None
        return {"data": [r.to_dict() for r in page], "total": len(rows), "offset": offset, "limit": limit,
                "next_offset": nxt}  # fmt: skip

    @router.post(
        "/articles", tags=["articles"], status_code=201, summary="Add articles: text, a page URL, a feed, or files",
        openapi_extra={"requestBody": {"content": {
            "application/json": {"schema": ArticleIn.model_json_schema(ref_template="#/components/schemas/{model}")},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}},
    )  # fmt: skip
    async def add_articles(request: Request) -> Any:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            async with request.form(max_files=100, max_fields=10) as form:
                files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
                if not files:
                    raise ApiError(400, "no_file", "a multipart upload needs one or more 'file' parts")
                return await run_in_threadpool(_ingest_files, assistant, files)
        try:
            raw = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(
                400, "invalid_json", "the body is not JSON (or use multipart/form-data for files)"
            ) from None
        try:
            body = ArticleIn.model_validate(raw)
        except ValidationError as e:
            raise RequestValidationError(e.errors(include_url=False)) from None
        if body.text is not None:
            report = await run_in_threadpool(assistant.ingest, [], articles=[body.article()])
        elif body.feed_url is not None:
            report = (await run_in_threadpool(assistant.poll_feeds, [body.feed_url]))[0][1]
        else:
            report = await run_in_threadpool(assistant.ingest, [body.url])
        return _ingested(report)

    @router.get("/articles/{article_id}", tags=["articles"], summary="One article with its full text")
    def get_article(article_id: str) -> ArticleOut:
        art = assistant.article(article_id)
        if art is None:
            raise _not_found(article_id)
        return ArticleOut(id=art.id, title=art.title, source=art.source, url=art.url, author=art.author,
                          published_at=art.published_at, key=art.key, origin=art.origin, chars=len(art.text),
                          text=art.text)  # fmt: skip

    @router.delete("/articles/{article_id}", tags=["articles"], summary="Remove an article")
    def delete_article(article_id: str) -> dict[str, Any]:
        if not assistant.remove(article_id):
            raise _not_found(article_id)
        return {"id": article_id, "deleted": True}

    @router.get("/feeds", tags=["feeds"], summary="Every feed ingested or polled")
    def feeds() -> dict[str, list[FeedState]]:
        return {"data": assistant.feeds()}

    @router.post("/feeds/poll", tags=["feeds"], summary="Poll feeds once (conditional GET)")
    def poll(body: PollIn | None = None) -> dict[str, Any]:
        urls = body.urls if body and body.urls is not None else [f.url for f in assistant.feeds()]
        return {"results": [{"url": u, "report": r.to_dict()} for u, r in assistant.poll_feeds(urls)]}

    return router


def _ingest_files(assistant: Assistant, files: list[UploadFile]) -> JSONResponse:
    """Uploaded files ingested as the UI's uploads are (ui/library.py: known by name and bytes;
    a different file of a known name is another article, never a replacement)."""
    with tempfile.TemporaryDirectory(prefix="articleqa-upload-") as tmp:
        paths = []
        for i, f in enumerate(files):
            folder = Path(tmp) / str(i)  # each in its own folder: two uploads may share a name
            folder.mkdir()
            path = folder / library.safe_name(f.filename or "upload")
            with path.open("wb") as out:
                shutil.copyfileobj(f.file, out)
            paths.append(str(path))
        report, errors = library.ingest_uploads(assistant, paths)
    if report is None:
        raise ApiError(422, "ingest_failed", "; ".join(errors))
    return _ingested(report)


async def _sse(events: Iterator[Any], model: str, cid: str, created: int) -> AsyncIterator[str]:
    """The stream: the role chunk at once, then (the answer finished and checked, in a worker
    thread) its chunks, then [DONE]. While an answer is being written, an SSE comment every
    `KEEPALIVE_S` keeps proxies from closing the quiet connection (clients skip comments). An
    error after the stream began arrives as an ``error`` object, which OpenAI clients raise."""
    yield _data(openai_chat.chunk(cid, created, model, {"role": "assistant", "content": ""}))
    pending = asyncio.ensure_future(run_in_threadpool(lambda: next(e.answer for e in events if e.answer)))
    while not (await asyncio.wait({pending}, timeout=KEEPALIVE_S))[0]:
        yield ": keep-alive\n\n"
    try:
        answer = pending.result()
    except (LLMError, ValueError) as e:
        yield _data({"error": {"code": "llm_error", "message": str(e), "type": "api_error"}})
        return
    for c in openai_chat.stream_chunks(answer, model, cid, created):
        yield _data(c)
    yield "data: [DONE]\n\n"


def _data(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


__all__ = ["MODEL", "build_router"]
