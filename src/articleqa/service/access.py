"""Who may use the API, how often and how much: API keys, rate limits, body sizes, JSON errors.

- `ApiKeys`: Bearer keys from ``Config.api_keys`` and ``Config.api_keys_file``, checked in
  constant time (every key is compared, by its SHA-256, whatever matches first).
- `RateLimiter`: a token bucket per key (per client address when the API is open).
- `BodyLimit`: ASGI middleware that refuses an over-large ``/v1`` body with 413 before
  reading it all (by Content-Length, and by counting when the client streams it).
- `ApiError` and `error_body`: every error is ``{"error": {"code", "message", "type"}}``,
  the shape OpenAI clients already parse (``openai.APIStatusError.body``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A key shorter than this is guessable by brute force over the network (16 random characters
# from [A-Za-z0-9] are 95 bits); `articleqa serve` says how to make one.
MIN_KEY_CHARS = 16
KEY_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@dataclass
class ApiError(Exception):
    """An error a route answers with: HTTP ``status``, a stable ``code`` and a plain ``message``."""

    status: int
    code: str
    message: str
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.message


# The OpenAI error ``type`` of each of our codes' statuses.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "invalid_request_error", 422: "invalid_request_error",
          429: "rate_limit_error", 502: "api_error", 503: "api_error"}  # fmt: skip


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": {"code", "message", "type"}}`` (plus ``extra`` at the top level)."""
    return {"error": {"code": code, "message": message, "type": _TYPES.get(status, "api_error")}, **extra}


def read_keys(keys: Sequence[str], path: Path | None) -> list[str]:
    """The keys of ``keys`` and of the file at ``path`` (one per line; blank lines and ``#``
    comments skipped). Raises ValueError for an unreadable file or a key too short to be safe."""
    out = [k.strip() for k in keys if k.strip()]
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"cannot read the API keys file {path}: {e.strerror or e}") from e
        out += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for k in out:
        if len(k) < MIN_KEY_CHARS:
            raise ValueError(
                f"an API key of {len(k)} characters is too short (at least {MIN_KEY_CHARS}); make one with {KEY_HINT}"
            )
    return list(dict.fromkeys(out))


class ApiKeys:
    """The set of valid Bearer keys. Only their SHA-256 digests are kept."""

    def __init__(self, keys: Sequence[str]):
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str) -> str | None:
        """An id for the key ``presented`` is (the first 12 hex digits of its digest: what rate
        limits and logs use, never the key), or None. Every key is compared, in constant time."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = False
        for d in self._digests:  # no early exit: the time taken says nothing about which matched
            found |= hmac.compare_digest(d, digest)
        return digest.hex()[:12] if found else None


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests a minute, bursts up to that many."""

    MAX_CALLERS = 10_000  # buckets remembered at once (the least recently used are dropped)

    def __init__(self, per_minute: int, clock: Any = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller → (tokens, when)
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when ``caller`` may go ahead now (a token is taken), else the seconds until it may."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, when = self._buckets.pop(caller, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - when) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            self._buckets[caller] = (tokens - 1 if not wait else tokens, now)
            while len(self._buckets) > self.MAX_CALLERS:
                self._buckets.popitem(last=False)
        return wait


class BodyLimit:
    """ASGI middleware: a request body under ``prefix`` larger than ``limit(scope)`` bytes is
    refused with 413 and a JSON error, by its Content-Length before the route runs, or as soon
    as a streamed (chunked) body passes the limit."""

    def __init__(self, app: Any, prefix: str, limit: Any):
        self.app, self.prefix, self.limit = app, prefix, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit, what = self.limit(scope)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, error_body(413, "body_too_large", _too_large(what, limit)))
            return
        seen = 0
        started = False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def watched(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, error_body(413, "body_too_large", _too_large(what, limit)))


class _TooLarge(Exception):
    pass


def _too_large(what: str, limit: int) -> str:
    return f"the {what} is over the {limit / 2**20:g} MB limit"


async def _send_json(send: Any, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


def retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}
