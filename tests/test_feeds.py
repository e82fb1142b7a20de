"""Feeds: RSS and Atom ingestion and polling against a local site whose feed changes between
polls, with real fetching, embedding and retrieval."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import pytest

from articleqa import Assistant, Config
from articleqa.index.local import Store


@dataclass
class Route:
    body: bytes
    ctype: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str = ""
    last_modified: str = ""
    stall: float = 0.0
    location: str = ""


@dataclass
class Site:
    """What the local server serves (changed by the tests between polls) and what it was asked."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, title: str, *paras: str, date: str = "") -> None:
        meta = f'<meta property="article:published_time" content="{date}">' if date else ""
        body = "".join(f"<p>{escape(p)}</p>" for p in paras)
        html = f"<html><head><title>{escape(title)}</title>{meta}</head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>"
        self.routes[path] = Route(html.encode())

    def rss(
        self,
        path: str,
        items: list[dict],
        etag: str = "",
        last_modified: str = "",
        title: str = "Harbour Gazette",
    ) -> None:
        parts = []
        for it in items:
            tags = "".join(
                f"<{k}>{escape(v)}</{k}>"
                for k, v in it.items()
                if k in ("guid", "title", "link", "pubDate", "description")
            )
            parts.append(f"<item>{tags}</item>")
        xml = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
               f"<link>{self.base}/</link>{''.join(parts)}</channel></rss>")  # fmt: skip
        self.routes[path] = Route(xml.encode(), "application/rss+xml", etag=etag, last_modified=last_modified)

    def asked(self, path: str) -> list[dict[str, str]]:
        return [h for p, h, _ in self.requests if p == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args):
        pass

    def do_GET(self):
        site = self.site
        site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
        r = site.routes.get(self.path)
        if r is None:
            return self._send(404, b"not found", "text/plain")
        if r.stall:
            time.sleep(r.stall)
        if r.location:
            self.send_response(r.status)
            self.send_header("Location", r.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if r.etag and self.headers.get("If-None-Match") == r.etag:
            return self._send(304, b"", r.ctype, r)
        if r.last_modified and not r.etag and self.headers.get("If-Modified-Since") == r.last_modified:
            return self._send(304, b"", r.ctype, r)
        return self._send(r.status, r.body, r.ctype, r)

    def _send(self, status: int, body: bytes, ctype: str, r: Route | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if r and r.etag:
            self.send_header("ETag", r.etag)
        if r and r.last_modified:
            self.send_header("Last-Modified", r.last_modified)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


@pytest.fixture
def site():
    s = Site()
    handler = type("H", (_Handler,), {"site": s})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.handle_error = lambda *a: None  # a stalled reply to a client that gave up: a broken pipe
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    s.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield s
    srv.shutdown()


@pytest.fixture
def qa(tmp_path, embedder):
    """An empty assistant with short timeouts and no per-host delay."""
    cfg = Config(
        data_dir=tmp_path / "data", fetch_timeout=1.0, fetch_host_delay=0.0, fetch_allow=["127.0.0.1"]
    )
    return Assistant(cfg, store=Store(cfg, embedder=embedder))


def two_entries(site: Site, etag: str = '"v1"') -> None:
    site.page("/a.html", "Port reopens", "The port of Haiphong reopened on Monday after repairs to the main pier.",
              "Container ships were expected back by Friday, the harbour master said.", date="2020-01-01")  # fmt: skip
    site.page("/b.html", "Ferry strike", "Ferry crews in Danang began a two-day strike over pay on Tuesday.")
    site.rss("/feed.xml", [
        {"guid": "gz-1", "title": "Port reopens", "link": site.url("/a.html"), "pubDate": "Thu, 05 Dec 2024 23:30:00 -0500",
         "description": "The port reopened."},
        {"guid": "gz-2", "title": "Ferry strike", "link": site.url("/b.html"), "pubDate": "Fri, 06 Dec 2024 08:00:00 +0700",
         "description": "Ferry crews strike."},
    ], etag=etag)  # fmt: skip


def test_rss_feed_ingested_with_keys_dates_and_sources(qa, site):
    two_entries(site)
    report = qa.ingest([site.url("/feed.xml")])
    assert report.ok, report.errors
    assert sorted(report.added) == ["a-html", "b-html"]
    rows = {r.id: r for r in qa.articles()}
    a = rows["a-html"]
    assert a.key == "feed:gz-1" and a.origin == site.url("/feed.xml")
    # Dated by the entry, as the publisher wrote it (not the page's meta date, not UTC).
    assert a.published_at == "2024-12-05" and rows["b-html"].published_at == "2024-12-06"
    assert a.source == "Harbour Gazette" and a.url == site.url("/a.html") and a.version == 1
    # The page's text was ingested, not the one-line description.
    assert "Container ships" in qa.article("a-html").text
    ans = qa.ask("When did the port of Haiphong reopen?")
    assert "Monday" in ans.text and ans.citations[0].url == site.url("/a.html")
    (feed,) = qa.feeds()
    assert (
        feed.title == "Harbour Gazette"
        and feed.etag == '"v1"'
        and feed.status == "ok: 2 entries"
        and feed.polled_at
    )


def test_polls_add_new_replace_edited_keep_removed_and_use_conditional_get(qa, site):
    two_entries(site)
    url = site.url("/feed.xml")
    ((_, first),) = qa.poll_feeds(url)
    assert sorted(first.added) == ["a-html", "b-html"]

    # Next poll: entry 1 edited (page and feed item), entry 2 gone from the feed, entry 3 new.
    site.page(
        "/a.html",
        "Port reopens",
        "The port of Haiphong reopened on Wednesday after repairs to the main pier.",
    )
    site.page("/c.html", "Bridge opens", "The new Han river bridge opened to traffic on Sunday.")
    site.rss("/feed.xml", [
        {"guid": "gz-1", "title": "Port reopens", "link": site.url("/a.html"), "pubDate": "Thu, 05 Dec 2024 23:30:00 -0500",
         "description": "The port reopened (corrected)."},
        {"guid": "gz-3", "title": "Bridge opens", "link": site.url("/c.html"), "pubDate": "Sat, 07 Dec 2024 09:00:00 +0000"},
    ], etag='"v2"')  # fmt: skip
    site.requests.clear()
    ((_, second),) = qa.poll_feeds(url)
    assert second.ok, second.errors
    assert second.added == ["c-html"] and second.updated == ["a-html"] and second.removed == []
    assert site.asked("/feed.xml")[0]["if-none-match"] == '"v1"'
    assert not site.asked("/b.html")  # not in the feed any more: not fetched, still stored
    rows = {r.id: r for r in qa.articles()}
    assert set(rows) == {"a-html", "b-html", "c-html"}
    assert rows["a-html"].version == 2 and rows["c-html"].version == 1
    # Replaced in place: no stale chunk anywhere.
    store = qa.store
    assert store.vectors.ids() == store.registry.chunk_ids()
    texts = [c.text for c in store.registry.chunks() if c.article_id == "a-html"]
    assert texts and all("Monday" not in t for t in texts)
    hits = qa.retrieve("When did the port of Haiphong reopen?", top_k=3)
    assert hits[0].chunk.article_id == "a-html" and "Wednesday" in hits[0].chunk.text
    assert all("Monday" not in h.chunk.text for h in hits)

    # Unchanged feed: a 304 to the conditional GET, nothing fetched or embedded.
    site.requests.clear()
    ((_, third),) = qa.poll_feeds(url)
    assert site.asked("/feed.xml")[0]["if-none-match"] == '"v2"'
    assert [p for p, _, _ in site.requests] == ["/feed.xml"]
    assert third.not_modified == [url] and third.chunks == 0 and not third.added and not third.updated
    assert "1 feeds not modified" in third.summary()
    assert qa.feeds()[0].status == "not modified"


def test_last_modified_and_unchanged_entries_not_fetched_again(qa, site):
    two_entries(site, etag="")
    site.routes["/feed.xml"].last_modified = "Fri, 06 Dec 2024 10:00:00 GMT"
    url = site.url("/feed.xml")
    qa.poll_feeds(url)
    site.routes["/feed.xml"].last_modified = "Fri, 06 Dec 2024 11:00:00 GMT"  # touched, entries the same
    site.requests.clear()
    ((_, report),) = qa.poll_feeds(url)
    assert site.asked("/feed.xml")[0]["if-modified-since"] == "Fri, 06 Dec 2024 10:00:00 GMT"
    assert [p for p, _, _ in site.requests] == ["/feed.xml"]  # entries unchanged: pages not fetched
    assert sorted(report.unchanged) == ["a-html", "b-html"] and report.chunks == 0


def test_atom_entries_without_link_or_date(qa, site):
    site.routes["/atom.xml"] = Route(
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Delta Wire</title>'
        b"<entry><id>urn:dw:1</id><title>Rice harvest</title><updated>2024-11-30T18:00:00+07:00</updated>"
        b'<content type="html">&lt;p&gt;The Mekong delta rice harvest rose by nine percent this year.&lt;/p&gt;</content></entry>'
        b"<entry><id>urn:dw:2</id><title>Flood warning</title>"
        b'<link href="/flood.html"/><summary>Floods are expected.</summary></entry></feed>',
        "application/atom+xml",
    )
    site.page("/flood.html", "Flood warning", "Forecasters warned of floods along the Perfume river this weekend.",
              date="2024-11-29")  # fmt: skip
    report = qa.ingest([site.url("/atom.xml")])
    assert report.ok, report.errors
    rows = {r.key: r for r in qa.articles()}
    rice, flood = rows["feed:urn:dw:1"], rows["feed:urn:dw:2"]
    assert rice.published_at == "2024-11-30" and rice.url == "" and rice.source == "Delta Wire"
    assert "nine percent" in qa.article(rice.id).text
    assert flood.url == site.url("/flood.html") and flood.published_at == "2024-11-29"  # the page's date
    assert any(
        "entry 1 ('Rice harvest') has no link; used the entry's own text" in w for w in report.warnings
    )
    assert any(
        "entry 2 ('Flood warning') has no date; the page's date 2024-11-29 was used" in w
        for w in report.warnings
    )
    ans = qa.ask("By how much did the Mekong delta rice harvest rise?")
    assert "nine percent" in ans.text


def test_bad_entries_each_reported_the_rest_ingested(tmp_path, embedder, site):
    cfg = Config(data_dir=tmp_path / "data", fetch_timeout=0.5, fetch_host_delay=0.0, feed_entry_max_mb=0.01,
                 fetch_allow=["127.0.0.1"])  # fmt: skip
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    site.page("/ok.html", "Tea prices", "Tea prices in Thai Nguyen fell by a fifth in November.")
    site.routes["/slow.html"] = Route(b"<html><body><p>late</p></body></html>", stall=3.0)
    site.routes["/loop.html"] = Route(b"", status=302, location="/loop.html")
    items = [
        {"guid": "t-1", "title": "Tea prices", "link": site.url("/ok.html"), "pubDate": "Mon, 02 Dec 2024 10:00:00 +0000"},
        {"guid": "t-2", "title": "Missing page", "link": site.url("/gone.html"), "pubDate": "Mon, 02 Dec 2024 10:00:00 +0000",
         "description": "Coffee exports reached a record four billion dollars."},
        {"guid": "t-3", "title": "Slow page", "link": site.url("/slow.html"), "pubDate": "Mon, 02 Dec 2024 10:00:00 +0000",
         "description": "Pepper growers switched to durian."},
        {"guid": "t-4", "title": "Loop", "link": site.url("/loop.html"), "pubDate": "Mon, 02 Dec 2024 10:00:00 +0000",
         "description": "Cashew processing moved north."},
        {"guid": "t-5", "title": "Huge", "pubDate": "Mon, 02 Dec 2024 10:00:00 +0000", "description": "word " * 4000},
        {"guid": "t-6", "title": "Empty", "link": site.url("/gone2.html")},
    ]  # fmt: skip
    site.rss("/feed.xml", items)
    report = qa.ingest([site.url("/feed.xml")])
    feed = site.url("/feed.xml")
    assert sorted(report.added) == ["gone-html", "loop-html", "ok-html", "slow-html"]
    warns = "\n".join(report.warnings)
    assert (
        f"entry 2 ('Missing page'): article page {site.url('/gone.html')}: HTTP 404 Not Found; used the entry's own text"
        in warns
    )
    assert "entry 3 ('Slow page')" in warns and "timed out after 0.5s; used the entry's own text" in warns
    assert "entry 4 ('Loop')" in warns and "redirect loop: more than 10 redirects" in warns
    errs = "\n".join(report.errors)
    assert (
        f"{feed}: entry 5 ('Huge'): the entry is 20 KB, over the 0.01 MB limit (feed_entry_max_mb); skipped"
        in errs
    )
    assert (
        "entry 6 ('Empty'): article page" in errs
        and "HTTP 404 Not Found, and the entry has no text of its own" in errs
    )
    assert qa.article("gone-html").text == "Coffee exports reached a record four billion dollars."
    assert "record four billion" in qa.ask("How much did coffee exports reach?").text


def test_bad_feeds_give_clear_errors_and_lose_nothing(qa, site):
    two_entries(site)
    url = site.url("/feed.xml")
    qa.poll_feeds(url)
    before = {r.id: r.version for r in qa.articles()}

    site.routes["/feed.xml"] = Route(b'<?xml version="1.0"?><rss version="2.0"><channel><title>G</title><item><title>A & B',
                                     "application/rss+xml")  # fmt: skip
    ((_, bad),) = qa.poll_feeds(url)
    (msg,) = bad.errors
    assert msg.startswith(f"{url}: malformed feed XML at line 1, column") and "nothing stored changed" in msg
    assert {r.id: r.version for r in qa.articles()} == before
    assert qa.feeds()[0].status.startswith("error: malformed feed XML")

    site.page("/news.html", "News", "Front page.")
    site.routes["/news.html"].body = site.routes["/news.html"].body.replace(
        b"<head>", b'<head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
    )
    site.routes["/stall.xml"] = Route(b"<rss/>", "application/rss+xml", stall=3.0)
    results = dict(qa.poll_feeds([site.url("/news.html"), site.url("/stall.xml"), site.url("/nothing.xml")]))
    assert results[site.url("/news.html")].errors == [
        f"{site.url('/news.html')}: not a feed: the server sent an HTML page (text/html); the page names its feed: {url}"
    ]
    assert results[site.url("/stall.xml")].errors == [f"{site.url('/stall.xml')}: timed out after 1s"]
    assert results[site.url("/nothing.xml")].errors == [f"{site.url('/nothing.xml')}: HTTP 404 Not Found"]
    assert {r.id: r.version for r in qa.articles()} == before
    # Refused the first time they were given: not kept as feeds (the known one keeps its error).
    status = {f.url: f.status for f in qa.feeds()}
    assert list(status) == [url] and status[url].startswith("error: malformed feed XML")


def test_a_refused_feed_is_not_kept_a_known_one_that_fails_stays_listed(qa, site):
    """Issue 21 (3b/3c): "Add feed" with an HTML page's URL is refused and not listed or polled
    again; a feed added fine that is down later stays listed with its error, and recovers."""
    from articleqa.ui import library

    site.page("/news.html", "News", "Front page.")
    ((page_url, refused),), bad = library.add_feeds(qa, site.url("/news.html"))
    assert bad == [] and page_url == site.url("/news.html")
    assert refused.errors == [
        f"{page_url}: not a feed: the server sent an HTML page (text/html); give the URL of its RSS or Atom feed"
    ]
    assert qa.feeds() == [] and refused.feeds == []
    site.requests.clear()
    assert library.poll_all_feeds(qa) == [] and site.requests == []  # not polled again

    two_entries(site)
    url = site.url("/feed.xml")
    ((_, added),), _ = library.add_feeds(qa, url)
    assert added.ok and sorted(added.added) == ["a-html", "b-html"]
    site.routes["/feed.xml"] = Route(b"down for maintenance", "text/plain", status=503)
    ((_, down),) = library.poll_all_feeds(qa)
    assert down.errors == [f"{url}: HTTP 503 Service Unavailable"]
    (feed,) = qa.feeds()
    assert feed.url == url and feed.status == "error: HTTP 503 Service Unavailable" and feed.etag == '"v1"'
    assert feed.title == "Harbour Gazette" and len(qa.articles()) == 2
    two_entries(site)  # back up, unchanged: the ETag it kept gets a 304
    ((_, back),) = library.poll_all_feeds(qa)
    assert back.ok and back.not_modified == [url] and qa.feeds()[0].status == "not modified"


def test_per_host_delay_between_page_fetches(tmp_path, embedder, site):
    cfg = Config(
        data_dir=tmp_path / "data", fetch_timeout=1.0, fetch_host_delay=0.4, fetch_allow=["127.0.0.1"]
    )
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    two_entries(site)
    qa.ingest([site.url("/feed.xml")])
    times = [t for _, _, t in site.requests]
    assert len(times) == 3 and all(b - a >= 0.39 for a, b in zip(times, times[1:], strict=False))


def _cli(*args: str, data_dir) -> subprocess.CompletedProcess:
    # The local site is on 127.0.0.1, which fetching refuses unless allowed (test_fetch_policy.py).
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir), ARTICLEQA_FETCH_HOST_DELAY="0", COLUMNS="200",
               ARTICLEQA_FETCH_ALLOW="127.0.0.1")  # fmt: skip
    return subprocess.run([sys.executable, "-m", "articleqa.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


def test_cli_watch_once_then_not_modified_and_list_shows_versions(tmp_path, site):
    two_entries(site)
    url = site.url("/feed.xml")
    r = _cli("watch", url, "--once", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"poll 1: {url}" in r.stderr
    assert f"{url}: 2 added, 0 updated, 0 unchanged" in r.stdout and "poll 1: 2 added" in r.stdout
    site.page("/b.html", "Ferry strike", "Ferry crews in Danang ended their strike on Thursday.")
    site.rss("/feed.xml", [{"guid": "gz-2", "title": "Ferry strike ends", "link": site.url("/b.html"),
                            "pubDate": "Fri, 06 Dec 2024 08:00:00 +0700"}], etag='"v2"')  # fmt: skip
    r = _cli("watch", url, site.url("/missing.xml"), "--once", "--every", "1h", data_dir=tmp_path)
    assert r.returncode == 1
    assert f"{url}: 0 added, 1 updated" in r.stdout
    assert f"error: {site.url('/missing.xml')}: HTTP 404 Not Found" in r.stderr
    r = _cli("list", data_dir=tmp_path)
    row = next(ln for ln in r.stdout.splitlines() if "b-html" in ln)
    assert "Ferry strike ends" in row and " 2 " in row
    r = _cli("watch", url, "--every", "15x", data_dir=tmp_path)
    assert r.returncode == 2 and "--every '15x' is not an interval" in r.stderr


def test_cli_latest_answer_follows_the_feed_after_watch_polls(tmp_path, site):
    """Issue 16's done-when: ingest a feed, ask for the latest, a new entry appears, ``watch``
    polls, and the answer follows it: newest report first, its date and outlet, cited."""
    import json

    story = [
        ("/p1.html", "Haiphong port closed for pier repairs", "Mon, 02 Dec 2024 08:00:00 +0000",
         "The port of Haiphong closed on Monday for repairs to its main pier, the harbour master said."),
        ("/p2.html", "Haiphong pier repairs delayed", "Thu, 12 Dec 2024 08:00:00 +0000",
         "Repairs to the main pier at the port of Haiphong will take a further week, the harbour master said."),
        ("/p3.html", "Haiphong port reopens", "Fri, 20 Dec 2024 08:00:00 +0000",
         "The port of Haiphong reopened after repairs to its main pier were finished, the harbour master said."),
    ]  # fmt: skip

    def publish(n: int, etag: str) -> None:
        for path, title, _, text in story[:n]:
            site.page(path, title, text)
        site.rss("/feed.xml", [{"guid": p, "title": t, "link": site.url(p), "pubDate": d} for p, t, d, _ in story[:n]],
                 etag=etag)  # fmt: skip

    def latest() -> dict:
        r = _cli(
            "ask",
            "What is the latest on the repairs to the pier at the port of Haiphong?",
            "--json",
            data_dir=tmp_path,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    publish(2, '"v1"')
    assert _cli("ingest", site.url("/feed.xml"), data_dir=tmp_path).returncode == 0
    ans = latest()
    newest = ans["citations"][0]
    assert (
        ans["answer"].startswith("As of 12 December 2024, Harbour Gazette reported")
        and ans["form"] == "latest"
    )
    assert (
        newest["published_at"] == "2024-12-12"
        and newest["source"] == "Harbour Gazette"
        and "further week" in newest["text"]
    )
    publish(3, '"v2"')
    r = _cli("watch", site.url("/feed.xml"), "--once", data_dir=tmp_path)
    assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
    ans = latest()
    assert ans["answer"].startswith("As of 20 December 2024") and "reopened" in ans["citations"][0]["text"]
    assert "Earlier (2 December 2024)" in ans["answer"]
