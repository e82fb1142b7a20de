"""Sources: each path or URL given to ingest → its reader, and one `ReadResult` for them all.

Files and folders go to ingest/readers.py; a URL is fetched (ingest/web.py) and read as a
feed (ingest/feeds.py) or as an article page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..types import Article
from .feeds import FeedOptions, FeedRead, conditional_headers, looks_like_feed, not_a_feed, read_feed_response
from .readers import ReadError, expand_paths, is_url, read_file
from .web import HTML_TYPES, Fetcher, article_from_response


class _EntryError(ReadError):
    """A feed entry that could not be read: its message is already whole."""

    def __init__(self, message: str):
        Exception.__init__(self, message)
        self.path, self.reason = message.split(": ", 1)[0], message

    def __str__(self) -> str:
        return self.args[0]


@dataclass
class ReadResult:
    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    feeds: list[FeedRead] = field(default_factory=list)  # each feed URL read (ingest/feeds.py)


def read_paths(
    paths: list[str | Path], max_file_mb: float = 20.0, web: FeedOptions | None = None
) -> ReadResult:
    """Read every path; collect articles, warnings and per-file errors. A URL is an article
    page or a feed (RSS, Atom: one article per entry); ``web`` says how to fetch them."""
    out = ReadResult()
    web = web or FeedOptions(Fetcher(max_mb=max_file_mb))
    for url in (p for p in paths if is_url(p)):
        try:
            arts, warns, feed = read_url(str(url), web)
        except ReadError as e:
            out.errors.append(e)
            continue
        out.articles.extend(arts)
        out.warnings.extend(warns)
        if feed is not None:
            out.errors.extend(_EntryError(m) for m in feed.errors)
            out.feeds.append(feed)
    for path in expand_paths(paths, skipped=out.warnings):
        try:
            arts, warns = read_file(path, max_file_mb)
        except ReadError as e:
            out.errors.append(e)
            continue
        out.articles.extend(arts)
        out.warnings.extend(warns)
    return out


def read_url(url: str, opts: FeedOptions) -> tuple[list[Article], list[str], FeedRead | None]:
    """An http(s) URL: a feed's articles, or the one article of a page. Raises `ReadError`."""
    state = opts.states.get(url)
    r = opts.fetcher.get(
        url, headers=conditional_headers(state), what="feed" if opts.require_feed else "page"
    )
    if r.status == 304:
        return [], [], FeedRead(url, title=state.title if state else "", not_modified=True,
                                etag=state.etag if state else "", last_modified=state.last_modified if state else "")  # fmt: skip
    if looks_like_feed(r):
        fr = read_feed_response(url, r, opts)
        return fr.articles, fr.warnings, fr
    if opts.require_feed:
        raise ReadError(url, not_a_feed(r))
    if r.ctype not in HTML_TYPES and r.ctype != "text/plain":
        raise ReadError(
            url, f"unsupported content type '{r.ctype or '(none)'}'; expected an HTML page or a feed"
        )
    return [article_from_response(url, r)], [], None
