"""The fetch policy (SSRF guard): internal addresses refused before connecting, in every
numeric form, on redirects and under DNS rebinding; allowed hosts and networks let through.

Servers here listen on 127.0.0.1 only; names such as ``news.test`` reach them through a
fake resolver, and every address outside 127.0.0.1 is refused before any connection, so
no test sends traffic beyond this machine.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading

import pytest

from articleqa import Assistant, Config
from articleqa.index.local import Store
from articleqa.ingest import network
from articleqa.ingest.network import FetchPolicy, FetchRefused, blocked_kind, numeric_host
from articleqa.ingest.readers import ReadError
from articleqa.ingest.web import Fetcher, fetch_url

SECRET = "The internal database password is hunter2-swordfish, kept on the admin host."
PUBLIC = "The city council approved the new harbour bridge on Monday after a long debate about its cost."


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _serve(routes: dict[str, tuple[int, str, str]]):
    """A local server: path → (status, content type or Location, body); records each request."""
    seen: list[tuple[str, str]] = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append((self.path, self.headers.get("Host", "")))
            status, ctype, body = routes.get(self.path, (404, "text/plain", "not found"))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", ctype)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = body.encode()
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = _Server(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1], seen


def _page(title: str, text: str) -> str:
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"


@pytest.fixture
def secret_server():
    srv, port, seen = _serve({"/secret.html": (200, "text/html", _page("Admin notes", SECRET))})
    yield port, seen
    srv.shutdown()


class FakeDNS:
    """Names → the answers of successive lookups (the last answer repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]):
        self.answers, self.calls = answers, []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        seq = self.answers.get(host.lower().rstrip("."))
        if seq is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        n = sum(1 for h in self.calls if h == host)
        return seq[min(n, len(seq)) - 1]


@pytest.fixture
def no_system_dns(monkeypatch):
    """Fails a test that looks a name up in the system resolver (a second, unchecked lookup);
    numeric hosts, which need no lookup, pass."""
    real = socket.getaddrinfo

    def guarded(host, *a, **kw):
        if host is not None and numeric_host(str(host)) is None:
            raise AssertionError(f"unexpected DNS lookup of {host!r}")
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


# --- the address check --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/x", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001:9/x", "0x7f000001 (= 127.0.0.1) is a loopback address"),
        ("http://2130706433:9/x", "2130706433 (= 127.0.0.1) is a loopback address"),
        ("http://0177.0.0.1:9/x", "not a valid URL (Invalid IPv4 address"),  # httpx reads it as decimal
        ("http://127.1:9/x", "127.1 (= 127.0.0.1) is a loopback address"),
        ("http://[::1]:9/x", "::1 is a loopback address"),
        (
            "http://localhost:9/x",
            "localhost (127.0.0.1) is a loopback address; allow it with --allow-fetch localhost",
        ),
        ("http://admin.localhost/x", "admin.localhost (127.0.0.1) is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]:9/x",
            "::ffff:127.0.0.1 (= 127.0.0.1) is a loopback address; allow it with --allow-fetch 127.0.0.1",
        ),
        ("http://[::ffff:7f00:1]:9/x", "is a loopback address"),
        ("http://[64:ff9b::7f00:1]/x", "is a loopback address"),  # NAT64 of 127.0.0.1
        ("http://[2002:7f00:1::]/x", "is a loopback address"),  # 6to4 of 127.0.0.1
        ("http://10.0.0.5/x", "10.0.0.5 is a private address"),
        ("http://172.16.3.4/x", "is a private address"),
        ("http://192.168.1.1/x", "is a private address"),
        ("http://[fc00::1]/x", "is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://100.100.100.200/latest/meta-data/", "is a cloud metadata address"),
        ("http://169.254.1.1/x", "is a link-local address"),
        ("http://[fe80::1]/x", "is a link-local address"),
        ("http://0.0.0.0:9/x", "0.0.0.0 is an unspecified address"),
        ("http://[::]:9/x", "is an unspecified address"),
        ("http://224.0.0.1/x", "is a multicast address"),
        ("http://100.64.0.1/x", "100.64.0.1 is not a public address"),  # carrier-grade NAT
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "metadata.google.internal is a cloud metadata host",
        ),
        ("file:///etc/passwd", "'file:' URLs are not fetched"),
        ("ftp://example.org/x", "'ftp:' URLs are not fetched"),
    ],
)
def test_internal_addresses_and_schemes_are_refused_without_a_lookup(url, says):
    dns = FakeDNS({})
    with pytest.raises(FetchRefused) as e:
        FetchPolicy(resolver=dns).addresses(url)
    assert says in str(e.value) and str(e.value).startswith("refused: ")
    assert any(
        x in str(e.value) for x in ("allow it with --allow-fetch", "URLs are not fetched", "not a valid URL")
    )
    assert dns.calls == []  # numbers are read, not looked up; metadata names never asked


def test_names_are_resolved_once_and_refused_if_any_address_is_internal():
    dns = FakeDNS({"intranet.test": [["10.0.0.5"]], "mixed.test": [["93.184.216.34", "127.0.0.1"]],
                   "public.test": [["93.184.216.34", "2606:2800:220:1::1"]]})  # fmt: skip
    policy = FetchPolicy(resolver=dns)
    with pytest.raises(
        FetchRefused,
        match=r"intranet\.test \(10\.0\.0\.5\) is a private address; allow it with --allow-fetch intranet\.test",
    ):
        policy.addresses("https://intranet.test/report")
    with pytest.raises(FetchRefused, match="is a loopback address"):
        policy.addresses("http://mixed.test/")  # one bad answer among good ones is enough
    assert policy.addresses("http://public.test/a") == ["93.184.216.34", "2606:2800:220:1::1"]
    assert dns.calls == ["intranet.test", "mixed.test", "public.test"]


def test_allow_list_names_hosts_and_networks_but_never_metadata_by_name():
    dns = FakeDNS(
        {
            "wiki.corp.test": [["10.2.3.4"]],
            "other.test": [["10.2.3.4"]],
            "sneaky.corp.test": [["169.254.169.254"]],
        }
    )
    assert FetchPolicy(("127.0.0.1",), dns).addresses("http://127.0.0.1:8080/") == ["127.0.0.1"]
    assert FetchPolicy(("10.0.0.0/8",), dns).addresses("http://other.test/") == ["10.2.3.4"]
    assert FetchPolicy(("*.corp.test",), dns).addresses("http://wiki.corp.test/") == ["10.2.3.4"]
    assert FetchPolicy(("wiki.corp.test",), dns).addresses("http://WIKI.corp.test./") == ["10.2.3.4"]
    with pytest.raises(FetchRefused):
        FetchPolicy(("wiki.corp.test",), dns).addresses("http://other.test/")
    with pytest.raises(
        FetchRefused, match="cloud metadata address; allow it with --allow-fetch 169.254.169.254"
    ):
        FetchPolicy(("*.corp.test",), dns).addresses("http://sneaky.corp.test/")
    assert FetchPolicy(("169.254.169.254",), dns).addresses("http://169.254.169.254/") == ["169.254.169.254"]
    with pytest.raises(FetchRefused):  # the loopback network allowed is not the private one
        FetchPolicy(("127.0.0.0/8",), dns).addresses("http://10.0.0.1/")


def test_public_addresses_pass():
    for ip in ("93.184.216.34", "8.8.8.8", "2606:4700::1111"):
        assert blocked_kind(numeric_host(ip)) is None


def test_config_reads_the_allow_list_from_the_environment_and_checks_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ARTICLEQA_FETCH_ALLOW", "intranet.example, 10.1.0.0/16 127.0.0.1")
    assert Config(data_dir=tmp_path).fetch_allow == ["intranet.example", "10.1.0.0/16", "127.0.0.1"]
    with pytest.raises(ValueError, match="not a host name, address or network"):
        Config(data_dir=tmp_path, fetch_allow=["http://x/"])
    assert Config(data_dir=tmp_path, fetch_allow=[]).fetch_allow == []


# --- fetching: nothing is sent to a refused address ------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"])
def test_fetch_refuses_loopback_in_every_form_before_connecting(secret_server, host):
    port, seen = secret_server
    with pytest.raises(ReadError, match=r"refused: .*is a loopback address; allow it with --allow-fetch"):
        fetch_url(f"http://{host}:{port}/secret.html")
    assert seen == []


def test_redirect_to_an_internal_address_is_refused_before_following(secret_server, no_system_dns):
    port, seen = secret_server
    srv, front, front_seen = _serve({
        "/story": (302, f"http://127.0.0.1:{port}/secret.html", ""),
        "/story-localhost": (301, f"http://localhost:{port}/secret.html", ""),
        "/story-file": (302, "file:///etc/passwd", ""),
    })  # fmt: skip
    try:
        dns = FakeDNS({"news.test": [["127.0.0.1"]]})
        fetcher = Fetcher(timeout=2, policy=FetchPolicy(("news.test",), dns))  # the front host only
        with pytest.raises(ReadError) as e:
            fetch_url(f"http://news.test:{front}/story", fetcher=fetcher)
        assert (
            f"redirected to http://127.0.0.1:{port}/secret.html: refused: 127.0.0.1 is a loopback address"
            in str(e.value)
        )
        with pytest.raises(ReadError, match="redirected to .*: refused: localhost .* is a loopback address"):
            fetch_url(f"http://news.test:{front}/story-localhost", fetcher=fetcher)
        with pytest.raises(ReadError, match="'file:' URLs are not fetched"):
            fetch_url(f"http://news.test:{front}/story-file", fetcher=fetcher)
        assert seen == []  # the redirect targets were never asked
        assert [p for p, _ in front_seen] == ["/story", "/story-localhost", "/story-file"]
    finally:
        srv.shutdown()


def test_dns_rebinding_connects_to_the_checked_address_with_no_second_lookup(no_system_dns):
    srv, port, seen = _serve({"/a.html": (200, "text/html", _page("Bridge", PUBLIC))})
    try:
        # First answer allowed (127.0.0.1 is on the allow list), every later answer internal:
        # a client that looked the name up again to connect would land on 10.0.0.5.
        dns = FakeDNS({"rebind.test": [["127.0.0.1"], ["10.0.0.5"]]})
        fetcher = Fetcher(timeout=2, policy=FetchPolicy(("127.0.0.1",), dns))
        art = fetch_url(f"http://rebind.test:{port}/a.html", fetcher=fetcher)
        assert "harbour bridge" in art.text and art.url == f"http://rebind.test:{port}/a.html"
        assert dns.calls == ["rebind.test"]  # one lookup, and the connection went where it said
        assert seen == [("/a.html", f"rebind.test:{port}")]  # the Host header kept the name
        # The next request's lookup answers the internal address: refused before connecting.
        with pytest.raises(ReadError, match=r"refused: rebind\.test \(10\.0\.0\.5\) is a private address"):
            fetch_url(f"http://rebind.test:{port}/a.html", fetcher=fetcher)
        assert len(seen) == 1
    finally:
        srv.shutdown()


def test_https_keeps_the_name_for_tls_while_connecting_to_the_checked_address(tmp_path):
    """The pinned connection still verifies the certificate against the URL's host name."""
    import shutil
    import ssl

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test"],
                   check=True, capture_output=True)  # fmt: skip
    srv, port, seen = _serve({"/a.html": (200, "text/html", _page("Bridge", PUBLIC))})
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    try:
        import httpx

        trust = ssl.create_default_context(cafile=str(cert))
        dns = FakeDNS({"news.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
        policy = FetchPolicy(("127.0.0.1",), dns)
        with httpx.Client(transport=network.GuardedTransport(policy, httpx.HTTPTransport(verify=trust))) as c:
            r = c.get(f"https://news.test:{port}/a.html")
            assert (
                r.status_code == 200
                and "harbour bridge" in r.text
                and str(r.url).startswith("https://news.test:")
            )
            with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                c.get(f"https://other.test:{port}/a.html")  # same address, a name the certificate lacks
        assert seen == [("/a.html", f"news.test:{port}")]
    finally:
        srv.shutdown()


# --- every way in: ingest, feeds and their entries, the UI's Add feed, the CLI --------------


@pytest.fixture
def qa_with_dns(tmp_path, embedder, monkeypatch):
    """An assistant whose fetches resolve names through a fake resolver (``news.test`` →
    127.0.0.1), allowed to fetch from ``news.test`` by name and nothing else."""
    dns = FakeDNS({"news.test": [["127.0.0.1"]]})
    monkeypatch.setattr(network, "system_resolver", dns)
    cfg = Config(
        data_dir=tmp_path / "data", fetch_timeout=2.0, fetch_host_delay=0.0, fetch_allow=["news.test"]
    )
    return Assistant(cfg, store=Store(cfg, embedder=embedder))


def _rss(items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>{link}</link></item>" for g, t, link in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>{body}</channel></rss>'


def test_feed_entries_pointing_inside_are_refused_and_nothing_secret_is_stored(qa_with_dns, secret_server):
    port, seen = secret_server
    routes: dict[str, tuple[int, str, str]] = {}
    srv, front, _ = _serve(routes)  # read at each request: filled in once the port is known
    try:
        routes.update({
            "/feed.xml": (200, "application/rss+xml", _rss([
                ("1", "Bridge approved", f"http://news.test:{front}/bridge.html"),
                ("2", "Redirected", f"http://news.test:{front}/go"),
                ("3", "Local", f"http://localhost:{port}/secret.html"),
                ("4", "Metadata", "http://169.254.169.254/latest/meta-data/"),
            ])),
            "/bridge.html": (200, "text/html", _page("Bridge approved", PUBLIC)),
            "/go": (302, f"http://127.0.0.1:{port}/secret.html", ""),
        })  # fmt: skip
        report = qa_with_dns.ingest([f"http://news.test:{front}/feed.xml"])
        assert report.added == ["bridge-html"]
        text = " | ".join(report.errors)
        assert "entry 2 ('Redirected')" in text and "refused: 127.0.0.1 is a loopback address" in text
        assert "entry 3 ('Local')" in text and "refused: localhost" in text
        assert "entry 4 ('Metadata')" in text and "169.254.169.254 is a cloud metadata address" in text
        assert seen == []
        stored = " ".join(qa_with_dns.article(r.id).text for r in qa_with_dns.articles())
        assert "hunter2" not in stored
        ans = qa_with_dns.ask("What is the internal database password?")
        assert "hunter2" not in ans.text
    finally:
        srv.shutdown()


def test_server_default_refuses_loopback_feeds_and_pages(tmp_path, embedder, secret_server):
    """The UI's Library → Add feed and URL ingest go through the same policy: with the
    default settings (what `serve` runs with), a loopback URL is refused and nothing kept."""
    from articleqa.ui.library import add_feeds

    port, seen = secret_server
    cfg = Config(data_dir=tmp_path / "data")
    assert cfg.fetch_allow == []
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    reports, bad = add_feeds(qa, f"http://127.0.0.1:{port}/secret.html http://localhost:{port}/feed.xml")
    assert bad == []
    for _, r in reports:
        assert r.errors and all("is a loopback address; allow it with --allow-fetch" in e for e in r.errors)
    report = qa.ingest([f"http://127.0.0.1:{port}/secret.html"])
    assert report.errors == [
        f"http://127.0.0.1:{port}/secret.html: refused: 127.0.0.1 is a loopback address; "
        "allow it with --allow-fetch 127.0.0.1 (setting fetch_allow, env ARTICLEQA_FETCH_ALLOW)"
    ]
    assert seen == [] and qa.stats().articles == 0


def _cli(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir), ARTICLEQA_FETCH_HOST_DELAY="0")
    env.pop("ARTICLEQA_FETCH_ALLOW", None)
    return subprocess.run([sys.executable, "-m", "articleqa.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180)  # fmt: skip


def test_cli_refuses_loopback_unless_allowed_by_flag(tmp_path, secret_server):
    port, seen = secret_server
    url = f"http://127.0.0.1:{port}/secret.html"
    r = _cli("ingest", url, data_dir=tmp_path / "d")
    assert r.returncode == 1
    assert (
        f"{url}: refused: 127.0.0.1 is a loopback address; allow it with --allow-fetch 127.0.0.1" in r.stderr
    )
    assert "Traceback" not in r.stderr and seen == []
    r = _cli("ingest", url, "--allow-fetch", "127.0.0.1", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert "1 added" in r.stdout and len(seen) == 1
