"""The one server process: a FastAPI app with the API (``/v1``), MCP (``/mcp``), ``/health`` and
the Gradio UI mounted at ``/``, run by uvicorn (``articleqa serve``; docs/api.md).

Access (`create_app`):

- with API keys (``Config.api_keys``, ``api_keys_file``): every ``/v1`` route and ``/mcp``
  needs ``Authorization: Bearer <key>``; the UI's sign-in takes a key as its password (any
  user name) besides ``--auth``'s USER:PASSWORD;
- with ``--auth`` only: the UI asks for it, and the API is closed (401 ``api_keys_required``);
- with neither: everything is open, which `launch` allows on loopback only.

Every caller (its key, or its address when the API is open) has ``Config.api_rate_limit``
requests a minute. CORS is off unless ``Config.cors_origins`` names origins.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from .. import __version__
from ..assistant import Assistant
from ..index.contracts import StoreUnavailable
from ..offline import keep_offline
from ..resources import sample_articles
from ..ui.app import build_app, launch_options, upload_cap_mb
from ..ui.security import Backoff, ForwardedHeaders, LoginThrottle
from .access import ApiError, ApiKeys, BodyLimit, RateLimiter, bearer, error_body, read_keys, retry_after
from .api import ApiRoute, build_router

# Answering is CPU-bound on the embedder (which serialises its own calls), but an LLM
# backend waits on the network: allow several UI chats at once, and queue enough for a busy team.
CONCURRENCY = 8
QUEUE_SIZE = 128
DEFAULT_PORT = 7860  # Gradio's, and what the README links to; the next free one when taken
PORTS_TRIED = 100


class Access:
    """Who may call the API: `check` returns the caller's rate-limit identity or raises `ApiError`."""

    def __init__(self, keys: ApiKeys, ui_login: bool, limiter: RateLimiter):
        self.keys, self.ui_login, self.limiter = keys, ui_login, limiter

    def check(self, authorization: str | None, client: str) -> str:
        if self.keys:
            token = bearer(authorization)
            if token is None:
                raise ApiError(401, "missing_api_key", "send an API key: Authorization: Bearer <key>",
                               {"WWW-Authenticate": "Bearer"})  # fmt: skip
            caller = self.keys.match(token)
            if caller is None:
                raise ApiError(
                    401, "invalid_api_key", "the API key is not valid", {"WWW-Authenticate": "Bearer"}
                )
        elif self.ui_login:
            raise ApiError(401, "api_keys_required",
                           "this server's API needs keys: set ARTICLEQA_API_KEYS or --api-keys-file")  # fmt: skip
        else:
            caller = f"addr:{client}"
        wait = self.limiter.take(caller)
        if wait:
            raise ApiError(429, "rate_limited", f"too many requests; try again in {max(1, round(wait))} s",
                           retry_after(wait))  # fmt: skip
        return caller

    def ui_auth(self, creds: tuple[str, str] | None) -> Any:
        """Gradio's ``auth``: USER:PASSWORD, and with API keys any user name with a key as password."""
        if not self.keys:
            return creds
        keys = self.keys

        def check(user: str, password: str) -> bool:
            ok = keys.match(password) is not None
            return ok | (creds is not None and _same(user, creds[0]) & _same(password, creds[1]))

        return check


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class _Guarded:
    """ASGI wrapper for a mounted app (MCP): the API's access check in front of it."""

    def __init__(self, app: Any, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            auth = headers.get(b"authorization", b"").decode("latin-1") or None
            try:
                self.access.check(auth, (scope.get("client") or ("unknown", 0))[0])
            except ApiError as e:
                response = JSONResponse(error_body(e.status, e.code, e.message), e.status, headers=e.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    assistant: Assistant,
    *,
    auth: tuple[str, str] | None = None,
    api_keys: Sequence[str] | None = None,
    ui: bool = True,
    mcp: bool = True,
    login_backoff: Backoff | None = None,
    trusted_proxies: Sequence[str] | None = None,
    host: str = "127.0.0.1",
) -> FastAPI:
    """The app over ``assistant``. ``api_keys``: by default the config's (``api_keys`` and
    ``api_keys_file``). ``ui``/``mcp``: mount the Gradio UI at ``/`` and MCP at ``/mcp``.
    ``host``: where it will listen (MCP's Host-header check depends on it)."""
    cfg = assistant.config
    keys = ApiKeys(
        read_keys(cfg.api_keys, cfg.api_keys_file) if api_keys is None else read_keys(api_keys, None)
    )
    access = Access(keys, auth is not None, RateLimiter(cfg.api_rate_limit))
    proxies = cfg.trusted_proxies if trusted_proxies is None else list(trusted_proxies)
    mcp_server = _mcp(assistant, host) if mcp else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server[1]())
            yield

    def guard(request: Request) -> str:
        return access.check(
            request.headers.get("authorization"), request.client.host if request.client else ""
        )

    def body_limit(scope: dict) -> tuple[int, str]:
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"")
        if ctype.startswith(b"multipart/form-data"):
            return int(upload_cap_mb(cfg) * 2**20), "upload"
        return int(cfg.api_max_body_mb * 2**20), "request body"

    middleware = [Middleware(ForwardedHeaders, trusted=list(proxies))]
    if cfg.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins), allow_credentials=False,
                                     allow_methods=["GET", "POST", "DELETE"],
                                     allow_headers=["Authorization", "Content-Type"]))  # fmt: skip
    middleware.append(Middleware(BodyLimit, prefix="/v1/", limit=body_limit))
    if auth is not None or keys:
        middleware.append(Middleware(LoginThrottle, backoff=login_backoff or Backoff()))
    app = FastAPI(
        title="articleqa", version=__version__, lifespan=lifespan, middleware=middleware,
        openapi_url=None, docs_url=None, redoc_url=None,  # served below, behind the API's access check
        description="Answers from your articles with citations that point at the exact passage (docs/api.md).",
    )  # fmt: skip
    app.router.route_class = ApiRoute
    app.include_router(build_router(assistant), prefix="/v1", dependencies=[Depends(guard)])

    @app.get("/v1/openapi.json", include_in_schema=False, dependencies=[Depends(guard)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/v1/docs", include_in_schema=False, dependencies=[Depends(guard)])
    def docs() -> Any:
        return get_swagger_ui_html(openapi_url="/v1/openapi.json", title="articleqa API")

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False,
                   dependencies=[Depends(guard)])  # fmt: skip
    def unknown(path: str, request: Request) -> Any:
        raise ApiError(404, "not_found", f"no route {request.method} /v1/{path} (see /v1/openapi.json)")

    @app.get("/health", tags=["service"], summary="Whether the server and its store answer")
    def health() -> JSONResponse:
        try:
            assistant.stats()
        except StoreUnavailable as e:
            return JSONResponse({"status": "unavailable", "message": str(e)}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    if mcp_server is not None:
        app.mount("/mcp", _Guarded(mcp_server[0], access))
    if ui:
        import gradio as gr

        demo = build_app(assistant)
        demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
        gr.mount_gradio_app(
            app, demo, path="", auth=access.ui_auth(auth),
            app_kwargs={"openapi_url": None, "docs_url": None, "redoc_url": None},  # the API's are /v1/docs
            auth_message="articleqa: sign in to ask your articles" if auth or keys else None,
            **launch_options(cfg),
        )  # fmt: skip
        app.state.blocks = demo
    return app


def _mcp(assistant: Assistant, host: str) -> tuple[Any, Callable[[], Any]]:
    """The MCP server's streamable-HTTP ASGI app and its lifespan. Stateless: each request
    stands alone, so any of several servers behind a balancer can answer it. On loopback the
    SDK accepts only localhost Host/Origin headers (DNS-rebinding protection, for a server
    open without keys); beyond loopback API keys guard it instead."""
    from .mcp import build_mcp, mcp_http_app, mcp_lifespan

    server = build_mcp(assistant, allow_ingest=assistant.config.mcp_ingest)
    return mcp_http_app(server, host=host, stateless=True), lambda: mcp_lifespan(server)


# ---- running it ---------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, auth: object) -> str | None:
    """Why serving on ``host`` without any sign-in is refused (None on loopback or with one)."""
    if auth or is_loopback(host):
        return None
    return (
        f"refusing to serve on {host} without --auth or API keys: anyone who can reach this machine could "
        "read, add and delete your articles. Turn on login with ARTICLEQA_AUTH=USER:PASSWORD or --auth-file "
        "PATH, and/or API keys with ARTICLEQA_API_KEYS or --api-keys-file PATH."
    )


def parse_auth(value: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """``"user:password"`` → ("user", "password"); the password may itself contain ':'."""
    if value is None or isinstance(value, tuple):
        return value
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("expected USER:PASSWORD, both non-empty")
    return user, password


class Server:
    """uvicorn serving an app in a background thread: `local_url`, `close()`, `block()`."""

    def __init__(self, app: FastAPI, host: str, port: int):
        import uvicorn

        # proxy_headers off: `ForwardedHeaders` alone decides whose X-Forwarded-* to believe.
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                proxy_headers=False, timeout_graceful_shutdown=5, lifespan="on")  # fmt: skip
        self.app, self.host, self.port = app, host, port
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="articleqa-server", daemon=True)

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def start(self, timeout: float = 60.0) -> Server:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the server could not start on {self.host}:{self.port} (is the port taken?)")
            time.sleep(0.02)
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=15)

    def block(self) -> None:
        """Wait until the server stops: Ctrl+C, or SIGTERM (`kill`, systemd, `docker stop`),
        which close it as Ctrl+C does, so shutdown runs (Gradio deletes its temporary files,
        atexit handlers run) instead of Python's default ending on the spot."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: setattr(self._server, "should_exit", True))
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            print("\nstopping…", file=sys.stderr)
        finally:
            self.close()


def free_port(host: str, start: int = DEFAULT_PORT) -> int:
    """``start`` or the next port that is free on ``host``."""
    for port in range(start, start + PORTS_TRIED):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            try:
                s.bind((host if host not in ("", "localhost") else "127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port in {start}-{start + PORTS_TRIED - 1}; pass --port")


def launch(
    assistant: Assistant | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    data_dir: str | Path | None = None,
    auth: str | tuple[str, str] | None = None,
    api_keys: Sequence[str] | None = None,
    sample: bool = True,
    sample_dir: Path | None = None,
    block: bool = True,
    quiet: bool = False,
    login_backoff: Backoff | None = None,
    trusted_proxies: Sequence[str] | None = None,
) -> Server:
    """Serve the UI and the API (ingesting the sample articles, or ``sample_dir``, first unless
    ``sample=False``); returns the running `Server` (after it stops, with ``block``).

    Refuses (ValueError) to listen beyond loopback with neither ``auth`` nor API keys. With a
    sign-in, failed ones from one address back off exponentially (``login_backoff``, by default
    `Backoff()`: 3 free, then 1, 2, 4 … 30 s). X-Forwarded-For/-Proto/-Host are honoured only
    from ``trusted_proxies`` (by default ``Config.trusted_proxies``: from no one). Unless
    ``quiet``, one line says where it runs and how to stop it.
    """
    keep_offline()
    if assistant is None:
        assistant = Assistant(data_dir=data_dir) if data_dir else Assistant()
    cfg = assistant.config
    creds = parse_auth(auth)
    keys = read_keys(cfg.api_keys, cfg.api_keys_file) if api_keys is None else read_keys(api_keys, None)
    if refusal := exposure_warning(host, creds or keys):
        raise ValueError(refusal)
    if sample:
        report = assistant.ingest([sample_dir or sample_articles()])
        if not quiet:
            print(f"sample articles: {report.summary()}", file=sys.stderr)
    assistant.warm_up()
    app = create_app(assistant, auth=creds, api_keys=keys, login_backoff=login_backoff,
                     trusted_proxies=trusted_proxies, host=host)  # fmt: skip
    server = Server(app, host, port or free_port(host)).start()
    if not quiet:
        print(f"articleqa is running at {server.local_url} (open it in a browser; the API is at "
              f"{server.local_url}v1, its schema at {server.local_url}v1/docs); press Ctrl+C to stop.", flush=True)  # fmt: skip
    if block:
        server.block()
    return server
