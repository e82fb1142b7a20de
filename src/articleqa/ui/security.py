"""Login back-off and auth helpers for the served app.

Gradio's ``/login`` checks any number of passwords as fast as a client can send them.
`LoginThrottle` is a small ASGI middleware in front of it that counts failed sign-ins per
client address and slows them down exponentially:

- the first `Backoff.free` failures cost nothing (a typo is not an attack);
- after that, each failed attempt's answer is held back for ``delay(n)`` seconds
  (1, 2, 4, … up to `Backoff.cap`), and until that time is up, further attempts from the
  same address get ``429 Too Many Requests`` without their password being checked (so do
  attempts sent while another from that address is still being answered);
- a successful sign-in resets the count, and so does `Backoff.forget` seconds without a
  failure.

A person typing passwords one after another only ever sees a slower "Incorrect
credentials"; a script trying 40 passwords takes many minutes instead of under a second.
The count is per client IP as the server sees it: the connecting peer, or, only when that
peer is one of ``Config.trusted_proxies``, the address its X-Forwarded-For names
(`ForwardedHeaders`). Uvicorn on its own trusts X-Forwarded-For from 127.0.0.1, so any local
process (or anything a local proxy passes the header through for) could name a new address
on every try and never be slowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOGIN_PATHS = ("/login", "/login/")
# Headers by which a proxy tells who the client is and how it connected (Gradio itself reads
# X-Forwarded-Host and -Proto to build its URLs): dropped unless a trusted proxy sent them.
FORWARDED_HEADERS = frozenset({
    b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port",
    b"x-forwarded-prefix", b"x-forwarded-scheme", b"forwarded", b"x-real-ip",
})  # fmt: skip


class ForwardedHeaders:
    """ASGI middleware: X-Forwarded-* honoured only from ``trusted`` proxies.

    From a trusted peer, the client address and scheme come from X-Forwarded-For and
    X-Forwarded-Proto (uvicorn's own `ProxyHeadersMiddleware` does the parsing); from any other
    peer every forwarded header is removed before the app (the login back-off, Gradio) sees
    the request. Uvicorn's own handling must be off for this to see the real peer
    (``proxy_headers=False``, as `service.app.Server` runs it).
    """

    def __init__(self, app: Any, trusted: Sequence[str] = ()):
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        self.app = app
        self.networks = [ipaddress.ip_network(x, strict=False) for x in trusted]
        trusted_hosts = [str(n) for n in self.networks]
        self.proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts) if trusted else None

    def trusts(self, peer: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(ip in n for n in self.networks)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.proxied is not None and self.trusts((scope.get("client") or ("", 0))[0]):
            await self.proxied(scope, receive, send)
            return
        if any(name in FORWARDED_HEADERS for name, _ in scope["headers"]):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k not in FORWARDED_HEADERS]}
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Backoff:
    free: int = 3  # failures allowed before any delay
    base: float = 1.0  # seconds of delay for the first failure past ``free``
    cap: float = 30.0  # the longest delay
    forget: float = 900.0  # seconds without a failure after which an address starts afresh

    def delay(self, failures: int) -> float:
        """Seconds to hold back the answer to (and lock out after) failure number ``failures``."""
        past = failures - self.free
        return 0.0 if past <= 0 else min(self.cap, self.base * 2 ** (past - 1))


@dataclass
class _Client:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    busy: bool = False  # a sign-in from this address is being checked (or held back) right now


class LoginThrottle:
    """ASGI middleware: exponential back-off on failed ``POST /login``, per client address."""

    MAX_CLIENTS = 10_000  # addresses remembered at once (the oldest are dropped first)

    def __init__(self, app: Any, backoff: Backoff | None = None):
        self.app = app
        self.backoff = backoff or Backoff()
        self.clients: OrderedDict[str, _Client] = OrderedDict()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        addr = (scope.get("client") or ("unknown", 0))[0]
        now = time.monotonic()
        c = self._client(addr, now)
        if c.busy or now < c.locked_until:  # one attempt at a time, none while locked out
            await self._refuse(send, max(c.locked_until - now, 1.0))
            return
        c.busy = True

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    self.clients.pop(addr, None)
                elif status in (400, 401):  # "Incorrect credentials."
                    c.failures += 1
                    c.last = time.monotonic()
                    wait = self.backoff.delay(c.failures)
                    c.locked_until = c.last + wait
                    if wait:
                        await asyncio.sleep(wait)
                        c.locked_until = min(c.locked_until, time.monotonic())  # over as it's answered
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                c.busy = False  # before the client can have the answer and try again
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            c.busy = False

    def _client(self, addr: str, now: float) -> _Client:
        c = self.clients.get(addr)
        if c is None or (c.last and now - c.last > self.backoff.forget and now >= c.locked_until):
            c = self.clients[addr] = _Client()
        self.clients.move_to_end(addr)
        while len(self.clients) > self.MAX_CLIENTS:
            self.clients.popitem(last=False)
        return c

    @staticmethod
    async def _refuse(send: Any, wait: float) -> None:
        secs = max(1, math.ceil(wait))
        body = json.dumps({"detail": f"Too many failed sign-ins; try again in {secs} s."}).encode()
        await send({
            "type": "http.response.start", "status": 429,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(secs).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def read_auth_file(path: str | Path) -> str:
    """The first non-empty, non-comment line of ``path`` (``USER:PASSWORD``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from e
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    raise ValueError(f"{path} is empty; expected a line USER:PASSWORD")


def auth_file_warning(path: str | Path) -> str | None:
    """A warning when the password file can be read by other users."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if mode & 0o044:
        return f"warning: {path} can be read by other users; chmod 600 it."
    return None


CMDLINE_AUTH_WARNING = (
    "warning: a password given with --auth is visible to other users of this machine (ps, shell "
    "history); prefer ARTICLEQA_AUTH=USER:PASSWORD or --auth-file PATH."
)
