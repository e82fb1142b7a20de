"""Feeds: RSS 2.0 and Atom (feedparser) → one `Article` per entry, its page fetched.

Each entry becomes the article of its page (fetched with the shared `Fetcher`: timeouts,
size caps, a per-host delay; extracted by trafilatura), or, when the page can't be had,
of the entry's own content or summary, with a warning saying why. An entry is known by
``feed:<guid>`` (else ``feed:<link>``) and dated by the entry (published, else updated).

Polling is conditional (ETag / Last-Modified from the last poll, `FeedState`), and an
entry whose feed item is unchanged since the last poll (same fingerprint) isn't fetched
again. A feed that is malformed, HTML or unreachable raises `ReadError`: nothing of it is
read, so nothing stored changes.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import re
import time
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from ..types import Article, FeedState
from .readers import ReadError, content_hash, first_line_title, slugify
from .web import HTML_TYPES, Fetcher, Response, fetch_url

FEED_TYPES = {
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
}  # fmt: skip
_FEED_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(rss|feed|rdf:RDF)[\s>]", re.S)


@dataclass
class FeedRead:
    """One read of a feed: its articles, and what to remember for the next poll."""

    url: str
    title: str = ""
    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # entries that could not be read
    not_modified: bool = False  # the server answered 304 to a conditional GET
    etag: str = ""
    last_modified: str = ""
    # entry key → fingerprint, for entries read in full (a page that failed is tried again next time)
    fingerprints: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # keys of entries unchanged since the last poll
    entries: int = 0

    @property
    def status(self) -> str:
        if self.not_modified:
            return "not modified"
        failed = f", {len(self.errors)} failed" if self.errors else ""
        return f"ok: {self.entries} entries{failed}"


@dataclass
class FeedOptions:
    """How URLs are read: the fetcher, the entry size cap, and what earlier polls left."""

    fetcher: Fetcher
    entry_max_mb: float = 1.0
    states: dict[str, FeedState] = field(default_factory=dict)  # for conditional GETs
    known: Callable[[str], dict[str, str]] = lambda url: {}  # feed url → {entry key: fingerprint}
    require_feed: bool = False  # watch: an HTML page is an error, not an article

    @classmethod
    def from_config(cls, cfg, **kw) -> FeedOptions:
        return cls(fetcher=Fetcher.from_config(cfg), entry_max_mb=cfg.feed_entry_max_mb, **kw)


def looks_like_feed(r: Response) -> bool:
    """By content type (RSS, Atom, XML), or by the document's first element."""
    return r.ctype in FEED_TYPES or bool(_FEED_START.match(r.body[:4096]))


def conditional_headers(state: FeedState | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from what the last poll of a feed left."""
    h = {}
    if state and state.etag:
        h["If-None-Match"] = state.etag
    if state and state.last_modified:
        h["If-Modified-Since"] = state.last_modified
    return h


def not_a_feed(r: Response) -> str:
    """Why a fetched document that should be a feed isn't one (naming the page's own feed)."""
    if r.ctype in HTML_TYPES or re.match(rb"\s*(<!doctype html|<html)", r.body[:512], re.I):
        alt = _alternate_feed(r.text(), r.url)
        hint = f"; the page names its feed: {alt}" if alt else "; give the URL of its RSS or Atom feed"
        return f"not a feed: the server sent an HTML page ({r.ctype or 'no content type'}){hint}"
    return f"not a feed: content type '{r.ctype or '(none)'}' and no <rss> or <feed> element"


def _alternate_feed(page: str, base: str) -> str:
    for tag in re.findall(r"<link\b[^>]*>", page[:200_000], re.I):
        if re.search(r"rel=[\"']?alternate", tag, re.I) and re.search(r"(rss|atom)\+xml", tag, re.I):
            href = re.search(r"href=[\"']([^\"']+)", tag, re.I)
            if href:
                return urljoin(base, html.unescape(href.group(1)))
    return ""


def read_feed_response(url: str, r: Response, opts: FeedOptions) -> FeedRead:
    """The entries of a fetched feed document, each read into an article."""
    import feedparser

    parsed = feedparser.parse(r.body)  # bytes: feedparser never fetches anything itself
    exc = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(exc, xml.sax.SAXParseException):
        raise ReadError(
            url,
            f"malformed feed XML at line {exc.getLineNumber()}, column {exc.getColumnNumber()} "
            f"({exc.getMessage()}); the feed was not read and nothing stored changed",
        )
    if not parsed.get("version"):
        raise ReadError(url, "not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> element)")
    fr = FeedRead(url, title=_clean(parsed.feed.get("title", "")), etag=r.headers.get("etag", ""),
                  last_modified=r.headers.get("last-modified", ""), entries=len(parsed.entries))  # fmt: skip
    if parsed.get("bozo") and exc is not None:
        fr.warnings.append(f"{url}: {exc}")
    if not parsed.entries:
        fr.warnings.append(f"{url}: the feed has no entries")
    known = opts.known(url)
    for n, entry in enumerate(parsed.entries, 1):
        try:
            art = _entry_article(url, r.url, fr, n, entry, known, opts)
        except ReadError as e:
            fr.errors.append(str(e))
            continue
        if art is not None:
            fr.articles.append(art)
    return fr


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(s or "")).strip()


def _entry_article(
    feed_url: str, base: str, fr: FeedRead, n: int, e, known: dict[str, str], opts: FeedOptions
) -> Article | None:
    """The article of entry ``n``; None when it is unchanged since the last poll."""
    title = _clean(e.get("title", ""))
    label = f"entry {n} ('{title[:60]}')" if title else f"entry {n}"
    link = urljoin(base, e["link"]) if e.get("link") else ""
    if not link.lower().startswith(("http://", "https://")):  # feedparser copies a guid like "urn:x" here
        link = ""
    guid = (e.get("id") or "").strip()
    own = _entry_text(e)
    if guid or link:
        key = f"feed:{guid or link}"
    else:
        key = f"feed:{feed_url}#{hashlib.sha256((title + own).encode()).hexdigest()[:16]}"
        fr.warnings.append(f"{feed_url}: {label} has no guid or link; it is known by its title and text")
    fp = _fingerprint(e)
    if known.get(key) == fp:
        fr.skipped.append(key)
        fr.fingerprints[key] = fp
        return None
    size = len(own.encode("utf-8"))
    if size > opts.entry_max_mb * 2**20:
        raise ReadError(
            feed_url,
            f"{label}: the entry is {_size(size)}, over the {opts.entry_max_mb:g} MB limit "
            "(feed_entry_max_mb); skipped",
        )
    art = None
    if link:
        try:
            art = fetch_url(link, fetcher=opts.fetcher)
        except ReadError as err:
            if own.strip():
                fr.warnings.append(
                    f"{feed_url}: {label}: article page {link}: {err.reason}; used the entry's own text"
                )
            else:
                raise ReadError(
                    feed_url,
                    f"{label}: article page {link}: {err.reason}, and the entry has no text of its own",
                ) from err
    elif own.strip():
        fr.warnings.append(f"{feed_url}: {label} has no link; used the entry's own text")
    else:
        raise ReadError(feed_url, f"{label} has no link and no text")
    if art is None:
        art = Article(id="", text=own, title=title or first_line_title(own), url=link)
    if art.origin or not link:  # read as well as it can be: not fetched again until the entry changes
        fr.fingerprints[key] = fp
    day = entry_date(e)
    if not day:
        kept = (
            f"; the page's date {art.published_at} was used"
            if art.published_at
            else "; published_at left empty"
        )
        fr.warnings.append(f"{feed_url}: {label} has no date{kept}")
    src = e.get("source") or {}
    if not art.id:
        art.id = slugify(link.rstrip("/").rsplit("/", 1)[-1] if link else title)
    art.key, art.origin = key, feed_url
    art.title = title or art.title
    art.source = _clean(src.get("title", "")) or fr.title or art.source
    art.url = link or art.url
    art.author = _clean(e.get("author", "")) or art.author
    art.published_at = day or art.published_at
    art.content_hash = content_hash(art)
    return art


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def _fingerprint(e) -> str:
    """What the feed says about an entry; a change means it was edited."""
    h = hashlib.sha256()
    content = "".join(c.get("value", "") for c in e.get("content") or [])
    for k in ("id", "link", "title", "published", "updated", "summary"):
        h.update(str(dict.get(e, k) or "").encode() + b"\x00")
    h.update(content.encode())
    return h.hexdigest()


def entry_date(e) -> str:
    """The entry's date as YYYY-MM-DD: published, else updated, as written (the publisher's
    own day, not converted to UTC); "" when it has none that parses."""
    for k in ("published", "updated", "created"):
        raw = (dict.get(e, k) or "").strip()  # dict.get: feedparser's own maps updated → published, warning
        if not raw:
            continue
        if m := re.match(r"(\d{4})-(\d{2})-(\d{2})", raw):
            return m.group(0)
        try:
            return email.utils.parsedate_to_datetime(raw).date().isoformat()
        except (TypeError, ValueError, IndexError):
            pass
        if parsed := dict.get(e, f"{k}_parsed"):
            return time.strftime("%Y-%m-%d", parsed)
    return ""


def _entry_text(e) -> str:
    """The entry's own text: its full content if it has one, else its summary, as plain text."""
    parts = e.get("content") or []
    best = max(parts, key=lambda c: len(c.get("value", "")), default=None)
    value, ctype = (
        (best.get("value", ""), best.get("type", "")) if best else (e.get("summary", ""), "text/html")
    )
    if "html" not in (ctype or "text/html") or "<" not in value:
        return html.unescape(value).strip()
    return html_to_text(value)


class _Text(HTMLParser):
    _BLOCKS = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "tr",
        "section",
        "article",
    }
    _SKIP = {"script", "style"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data):
        if not self._skip:
            self.out.append(data)


def html_to_text(fragment: str) -> str:
    """An HTML fragment (a feed entry's content) as paragraphs of plain text."""
    p = _Text()
    p.feed(fragment)
    p.close()
    paras = [re.sub(r"[ \t\r\n]+", " ", x).strip() for x in "".join(p.out).split("\n\n")]
    return "\n\n".join(x for x in paras if x)
