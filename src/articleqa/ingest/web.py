"""Fetching pages over HTTP(S): `Fetcher` (timeouts, size cap, per-host delay, the address
policy of ingest/network.py) and the article of a fetched page.

Feeds (ingest/feeds.py) fetch with the same `Fetcher`; ingest/sources.py tells a feed from a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Article
from .network import FetchPolicy, FetchRefused, GuardedTransport
from .readers import ReadError, content_hash, parse_html, plain_article, slugify

HTML_TYPES = ("text/html", "application/xhtml+xml")
_USER_AGENT = "articleqa/0.1 (+article ingestion)"


@dataclass
class Response:
    """A fetched document: what `Fetcher.get` returns (304s included)."""

    url: str  # after redirects
    status: int
    ctype: str  # media type, lower case, no parameters
    body: bytes
    encoding: str
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body.decode(self.encoding or "utf-8", errors="replace")


@dataclass
class Fetcher:
    """HTTP GET with a timeout (each read, and the whole download), a size cap, a delay
    between two requests to the same host (``host_delay`` seconds), and the address policy
    (`FetchPolicy`: no internal address, every redirect checked; ingest/network.py)."""

    max_mb: float = 20.0
    timeout: float = 20.0
    host_delay: float = 0.0
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    _last: dict[str, float] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg) -> Fetcher:
        return cls(
            max_mb=cfg.max_file_mb, timeout=cfg.fetch_timeout, host_delay=cfg.fetch_host_delay,
            policy=FetchPolicy.from_config(cfg),
        )  # fmt: skip

    def _wait_for_host(self, host: str) -> None:
        """Sleep until ``host_delay`` has passed since the last request to ``host`` ended."""
        import time

        if self.host_delay > 0 and host in self._last:
            pause = self._last[host] + self.host_delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def get(self, url: str, headers: dict[str, str] | None = None, what: str = "page") -> Response:
        """GET ``url``; raises `ReadError` for HTTP errors (>= 400), timeouts, redirect loops,
        a body over the size cap and connection failures. A 304 comes back with no body."""
        import time

        import httpx

        cap = int(self.max_mb * 1024 * 1024)
        too_big = f"{what} is over the {self.max_mb:g} MB limit (max_file_mb)"
        from urllib.parse import urlsplit

        host = urlsplit(url).netloc.lower()
        self._wait_for_host(host)
        deadline = time.monotonic() + 3 * self.timeout  # a server trickling bytes can't hold us forever
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True, max_redirects=10,
                              transport=GuardedTransport(self.policy)) as client, \
                    client.stream("GET", url, headers={"User-Agent": _USER_AGENT, **(headers or {})}) as r:  # fmt: skip
                if r.status_code >= 400:
                    raise ReadError(url, f"HTTP {r.status_code} {r.reason_phrase}")
                ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
                if int(r.headers.get("content-length") or 0) > cap:
                    raise ReadError(url, too_big)
                body = bytearray()
                if r.status_code != 304:
                    for part in r.iter_bytes():
                        body += part
                        if len(body) > cap:
                            raise ReadError(url, too_big)
                        if time.monotonic() > deadline:
                            raise ReadError(
                                url, f"timed out: the {what} took over {3 * self.timeout:g}s to download"
                            )
                return Response(
                    str(r.url), r.status_code, ctype, bytes(body), r.encoding or "utf-8", dict(r.headers)
                )
        except FetchRefused as e:  # before connecting: to the URL itself or to a redirect
            via = "" if e.url == url else f"redirected to {e.url}: "
            raise ReadError(url, f"{via}{e}") from e
        except httpx.InvalidURL as e:
            raise ReadError(url, f"not a valid URL ({e})") from e
        except httpx.TooManyRedirects as e:
            raise ReadError(url, "redirect loop: more than 10 redirects") from e
        except httpx.TimeoutException as e:
            raise ReadError(url, f"timed out after {self.timeout:g}s") from e
        except httpx.HTTPError as e:
            raise ReadError(url, f"cannot fetch: {e}") from e
        finally:
            self._last[host] = time.monotonic()


def fetch_url(
    url: str, max_file_mb: float = 20.0, timeout: float = 20.0, fetcher: Fetcher | None = None
) -> Article:
    """Fetch an article page with httpx (timeouts, size cap, content-type check) and extract it."""
    r = (fetcher or Fetcher(max_mb=max_file_mb, timeout=timeout)).get(url)
    if r.ctype not in HTML_TYPES and r.ctype != "text/plain":
        raise ReadError(url, f"unsupported content type '{r.ctype or '(none)'}'; expected an HTML page")
    return article_from_response(url, r)


def article_from_response(url: str, r: Response) -> Article:
    """The article of a fetched HTML (or plain text) page."""
    text = r.text()
    if not text.strip():
        raise ReadError(url, "page is empty")
    slug = slugify(url.split("://", 1)[1].rstrip("/").rsplit("/", 1)[-1] or url.split("://", 1)[1])
    if r.ctype == "text/plain":
        art = plain_article(text.replace("\r\n", "\n"), url, slug)
        art.url = url
    else:
        art = parse_html(text, key=url, fallback_id=slug, url=url)
    art.content_hash = content_hash(art)
    art.origin = url
    return art
