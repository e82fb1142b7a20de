"""The MCP server: articleqa's answers, passages and articles as tools for an LLM agent.

`build_mcp(assistant)` returns an `mcp.server.mcpserver.MCPServer` (the official ``mcp``
SDK, 2.x) over the `Assistant` façade only, with these tools, each with an output schema
(its result comes back as ``structuredContent``):

- ``ask``: a cited answer (or an abstention) with each citation's exact span and its ``uri``
  ``article://{article_id}#char={start},{end}``;
- ``search``: the passages retrieval finds for a query, with the same offsets and ``uri``;
- ``list_articles``: a page of the collection (`ArticleInfo` rows);
- ``get_article``: an article's text, or the slice ``[start:end]`` of it, so a client can
  check a citation: ``get_article(c.article_id, c.start, c.end).text == c.text``;
- ``ingest`` (only with ``allow_ingest=True``): an http(s) URL, fetched under the fetch
  policy (public addresses, plus ``Config.fetch_allow``), or a text given whole.

Each article is also the resource ``article://{article_id}`` (its text). The tools are plain
functions: the SDK runs them in a worker thread, so answering never blocks the event loop.

Transports:

- stdio: ``articleqa mcp --data-dir DIR`` (``server.run("stdio")``); nothing but the protocol
  goes to stdout, logs go to stderr.
- streamable HTTP, mounted in a parent ASGI app (FastAPI or Starlette). A mounted app's own
  lifespan never runs, so the parent's lifespan must enter `mcp_lifespan` (it runs the
  session manager that `mcp_http_app` created)::

      from contextlib import asynccontextmanager
      from fastapi import FastAPI
      from articleqa.service.mcp import build_mcp, mcp_http_app, mcp_lifespan

      server = build_mcp(assistant)
      mcp_app = mcp_http_app(server)  # first: it creates the session manager

      @asynccontextmanager
      async def lifespan(app: FastAPI):
          async with mcp_lifespan(server):
              yield

      app = FastAPI(lifespan=lifespan)
      app.mount("/mcp", mcp_app)  # the endpoint is /mcp/ (a POST to /mcp is redirected there)

  The session manager runs once per server: a second lifespan needs a fresh `build_mcp`.
  Behind a host name other than localhost, pass ``host="0.0.0.0"`` (no Host check) or a
  ``TransportSecuritySettings`` naming the allowed hosts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from .. import __version__
from ..answer.models import LLMError
from ..ingest.pipeline import IngestReport
from ..ingest.readers import is_url, text_article
from ..periods import is_day
from ..types import Article, ArticleInfo, ClaimCheck, Filters, Hit, span_uri

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from ..assistant import Assistant

INSTRUCTIONS = """\
Answers questions about a collection of news articles, citing the exact passages used.
Use `ask` for a cited answer: it abstains (abstained=true) when the articles don't say, so
don't answer from elsewhere then. Use `search` for the raw passages, `list_articles` and
`get_article` to browse. Every citation and passage gives article_id, start and end:
get_article(article_id, start, end).text is exactly its text."""


# ---- the tools' results (their JSON Schemas are the tools' output schemas) -------------------
class CitationRef(BaseModel):
    """A numbered source of an answer: the exact span of an article it quotes."""

    n: int = Field(description="the number of its [n] marker in the answer")
    article_id: str
    title: str
    source: str = Field(description="the outlet")
    url: str
    published_at: str = Field(description="YYYY-MM-DD, or empty when unknown")
    start: int = Field(description="offset of the span in the article's text")
    end: int
    text: str = Field(description="the article's text[start:end]")
    uri: str = Field(description="article://{article_id}#char={start},{end}")


class AskResult(BaseModel):
    """A cited answer, or an abstention."""

    question: str
    answer: str = Field(description="the answer, with [n] markers pointing at citations")
    abstained: bool = Field(description="true: the articles don't answer the question")
    confidence: float
    backend: str = Field(description="the answerer: extractive, openai or local")
    form: str = Field(description='how a news question was answered ("latest", "timeline", ...), or ""')
    citations: list[CitationRef]
    checks: list[ClaimCheck] = Field(description="claims the citation check removed, cut or re-cited")


class Passage(BaseModel):
    """A retrieved passage: an exact span of an article."""

    article_id: str
    chunk_id: str
    title: str
    source: str
    url: str
    published_at: str
    start: int
    end: int
    text: str = Field(description="the article's text[start:end]")
    score: float = Field(description="fused retrieval score (higher is better)")
    uri: str = Field(description="article://{article_id}#char={start},{end}")


class SearchResult(BaseModel):
    query: str
    passages: list[Passage]


class ArticlePage(BaseModel):
    """A page of the collection, in `articleqa list` order."""

    articles: list[ArticleInfo]
    total: int = Field(description="articles matching, over all pages")
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


class ArticleText(BaseModel):
    """An article's metadata and its text (or the slice [start:end] of it)."""

    id: str
    title: str
    source: str
    url: str
    published_at: str
    chars: int = Field(description="length of the whole text")
    start: int
    end: int
    text: str = Field(description="the article's text[start:end]")
    uri: str


# ---- argument types ---------------------------------------------------------------------------
Sources = Annotated[list[str] | None, Field(description="only these outlets (see list_articles' source)")]
Day = Annotated[str | None, Field(description="YYYY-MM-DD", pattern=r"^\d{4}-\d{2}-\d{2}$")]
TopK = Annotated[int | None, Field(ge=1, le=50, description="passages to consider (default: configured)")]


def _check_day(name: str, value: str | None) -> None:
    """A tool error unless ``value`` is empty or a real date written YYYY-MM-DD."""
    if value and not is_day(value):
        raise ToolError(f"{name} '{value}' is not a date; use YYYY-MM-DD")


def _filters(sources: list[str] | None, since: str | None, until: str | None) -> Filters | None:
    _check_day("since", since)
    _check_day("until", until)
    if since and until and since > until:
        raise ToolError(f"since {since} is after until {until}: no date is in that range")
    f = Filters(sources=list(sources or []), since=since or "", until=until or "")
    return None if f.empty else f


def _passage(h: Hit) -> Passage:
    c = h.chunk
    return Passage(
        article_id=c.article_id, chunk_id=c.id, title=h.title, source=h.source, url=h.url,
        published_at=h.published_at, start=c.start, end=c.end, text=c.text, score=h.score,
        uri=span_uri(c.article_id, c.start, c.end),
    )  # fmt: skip


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_mcp(assistant: Assistant, *, allow_ingest: bool = False) -> MCPServer:
    """The MCP server over ``assistant``; ``allow_ingest`` adds the ``ingest`` tool (which
    writes to the collection and, for a URL, fetches it)."""
    # WARNING: the SDK calls logging.basicConfig with this level; at its default (INFO) every
    # request would log a line, httpx's included, in the whole process.
    server = MCPServer(name="articleqa", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    qa = assistant

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def ask(
        question: str,
        sources: Sources = None,
        since: Day = None,
        until: Day = None,
        top_k: TopK = None,
    ) -> AskResult:
        """Answer a question from the articles, citing the exact passages used. Abstains
        (abstained=true) when they don't answer it. Optional filters: outlets, a date range."""
        try:
            ans = qa.ask(question, top_k=top_k, filters=_filters(sources, since, until))
        except (ValueError, LLMError) as e:  # an empty question; an LLM that could not answer
            raise ToolError(getattr(e, "message", str(e))) from e
        cites = [
            CitationRef(**c.to_dict(), uri=span_uri(c.article_id, c.start, c.end)) for c in ans.citations
        ]
        return AskResult(
            question=ans.question, answer=ans.text, abstained=ans.abstained,
            confidence=round(ans.confidence, 4), backend=ans.backend, form=ans.form, citations=cites,
            checks=ans.checks,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def search(
        query: str,
        top_k: Annotated[int, Field(ge=1, le=50)] = 5,
        sources: Sources = None,
        since: Day = None,
        until: Day = None,
    ) -> SearchResult:
        """The passages that best match a query (hybrid vector + keyword search), best first;
        no answer is written. Each is an exact span: article_id, start, end."""
        if not query.strip():
            raise ToolError("the query is empty")
        hits = qa.retrieve(query, top_k=top_k, filters=_filters(sources, since, until))
        return SearchResult(query=query, passages=[_passage(h) for h in hits])

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def list_articles(
        offset: Annotated[int, Field(ge=0)] = 0,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        source: Annotated[str | None, Field(description="only this outlet")] = None,
    ) -> ArticlePage:
        """The articles in the collection, a page at a time: id, title, outlet, date, URL,
        passages, length. Follow next_offset for the next page."""
        rows = [r for r in qa.articles() if source is None or r.source == source]
        page = rows[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(rows) else None
        return ArticlePage(articles=page, total=len(rows), offset=offset, next_offset=nxt)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    def get_article(
        article_id: str,
        start: Annotated[int | None, Field(ge=0, description="slice start (default 0)")] = None,
        end: Annotated[int | None, Field(ge=0, description="slice end (default: the end)")] = None,
    ) -> ArticleText:
        """An article's text and metadata; with start/end, just text[start:end] (a citation's
        span, to check it or read around it)."""
        art = qa.article(article_id)
        if art is None:
            raise ToolError(f"no article with id '{article_id}' (list_articles gives the ids)")
        n = len(art.text)
        s, e = start or 0, n if end is None else end
        if s > e or e > n:
            raise ToolError(f"span [{s}:{e}] is outside the article (0 ≤ start ≤ end ≤ {n})")
        return ArticleText(
            id=art.id, title=art.title, source=art.source, url=art.url, published_at=art.published_at,
            chars=n, start=s, end=e, text=art.text[s:e], uri=span_uri(art.id, s, e),
        )  # fmt: skip

    @server.resource("article://{article_id}", name="article", mime_type="text/plain")
    def article_text(article_id: str) -> str:
        """An article's full text (offsets of citations and passages index into it)."""
        art = qa.article(article_id)
        if art is None:
            raise ResourceNotFoundError(f"no article with id '{article_id}'")
        return art.text

    if allow_ingest:
        server.add_tool(
            _ingest_tool(qa),
            name="ingest",
            annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True),
            structured_output=True,
        )
    return server


def _ingest_tool(qa: Assistant) -> Callable[..., IngestReport]:
    """The ``ingest`` tool over ``qa`` (registered only when ingesting is allowed)."""

    def ingest(
        url: Annotated[str | None, Field(description="an http(s) article page or RSS/Atom feed")] = None,
        text: Annotated[
            str | None, Field(description="an article's whole text, given instead of fetched")
        ] = None,
        title: Annotated[str, Field(description="with text: its title (default: its first line)")] = "",
        source: Annotated[str, Field(description="with text: its outlet")] = "",
        published_at: Annotated[str, Field(description="with text: YYYY-MM-DD")] = "",
    ) -> IngestReport:
        """Add an article to the collection: fetch an http(s) page or feed (public addresses
        only), or store a given text (url is then its address, not fetched). Re-adding an
        unchanged article does nothing; a changed one replaces the old version."""
        if text is not None:
            report = qa.ingest(articles=[_text_article(text, url or "", title, source, published_at)])
        elif url:
            if not is_url(url.strip()):
                raise ToolError(f"'{url}' is not an http(s) URL; only http(s) pages and feeds are fetched")
            report = qa.ingest([url.strip()])
        else:
            raise ToolError("give a url to fetch or the text of an article")
        if report.errors and not (report.added or report.updated or report.unchanged):
            raise ToolError("; ".join(report.errors))
        return report

    return ingest


def _text_article(text: str, url: str, title: str, source: str, published_at: str) -> Article:
    """A text handed to ``ingest`` as an `Article` (`readers.text_article`), its inputs checked."""
    if not text.strip():
        raise ToolError("the text is empty")
    if url and not is_url(url):
        raise ToolError(f"'{url}' is not an http(s) URL")
    _check_day("published_at", published_at)
    return text_article(text, title=title, source=source, url=url, published_at=published_at)


def mcp_http_app(
    server: MCPServer,
    *,
    host: str = "127.0.0.1",
    transport_security: TransportSecuritySettings | None = None,
    json_response: bool = False,
    stateless: bool = False,
) -> Starlette:
    """The streamable-HTTP ASGI app of ``server``, to mount (``app.mount("/mcp", ...)``: its
    endpoint is the mount point's ``/``). Its session manager must run in the parent's
    lifespan: `mcp_lifespan`. ``host``: where the parent listens; on localhost (the default)
    only localhost Host and Origin headers are accepted (DNS-rebinding protection), as the SDK
    does; ``transport_security`` sets them explicitly."""
    return server.streamable_http_app(
        streamable_http_path="/", host=host, transport_security=transport_security,
        json_response=json_response, stateless_http=stateless,
    )  # fmt: skip


@asynccontextmanager
async def mcp_lifespan(server: MCPServer) -> AsyncIterator[None]:
    """Run the streamable-HTTP session manager of ``server`` (made by `mcp_http_app`) for the
    parent app's lifetime: enter it in the parent's lifespan."""
    async with server.session_manager.run():
        yield
