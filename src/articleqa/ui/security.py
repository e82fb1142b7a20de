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
The count is per client IP as the server sees it (behind a reverse proxy, all clients
share the proxy's address: put the rate limit there).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOGIN_PATHS = ("/login", "/login/")


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
