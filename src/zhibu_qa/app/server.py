"""The one HTTP server: a FastAPI app holding the OpenAI-compatible API (`api.py`) and the mounted
Gradio UI, behind one ASGI middleware that applies the edge rules to every request.

Edge rules: security headers (a Content-Security-Policy naming no other host, nosniff,
frame-ancestors 'none'), a Host-header check against DNS rebinding when bound to loopback, a cap on
request bodies, and per-client login throttling. Runs uvicorn in this process (a thread for tests).
No Gradio import here: `ui.py` mounts the Blocks onto the app this module builds.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from zhibu_qa.config import Settings
from zhibu_qa.errors import ConfigError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_BODY_BYTES = 6 * 1024 * 1024  # uploads are limited to 5 MB by Gradio; room for the form wrapping
MAX_EVENT_BYTES = 1024 * 1024  # a queued UI event or named-endpoint call (a question, a topic, a feedback)
EVENT_PATHS = ("/gradio_api/queue/join", "/gradio_api/run/", "/gradio_api/call/", "/gradio_api/api/")
LOGIN_PATHS = ("/login", "/login/")
LOGIN_FREE_TRIES = 5  # wrong passwords before a client is locked out
LOGIN_LOCK_S = 30.0  # first lockout; doubles with every further failure, up to LOGIN_MAX_LOCK_S
LOGIN_MAX_LOCK_S = 900.0
# Gradio's front end needs inline scripts, eval'd event js and inline styles; everything else is 'self'.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """Example: is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")"""
    host = (host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host name of a Host header. Example: host_of("[::1]:7860") == "::1" """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass
class LoginThrottle:
    """Failed logins per client address: free tries, then a lockout that doubles each time."""

    free_tries: int = LOGIN_FREE_TRIES
    lock_s: float = LOGIN_LOCK_S
    max_lock_s: float = LOGIN_MAX_LOCK_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0 when it may try now)."""
        with self._lock:
            return max(0.0, self._locked_until.get(client, 0.0) - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            n = self._failures[client] = self._failures.get(client, 0) + 1
            if n >= self.free_tries:
                wait = min(self.max_lock_s, self.lock_s * 2 ** (n - self.free_tries))
                self._locked_until[client] = self.clock() + wait
            if len(self._failures) > 10_000:  # a flood of addresses must not grow memory without bound
                self._failures.clear()

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
            self._locked_until.pop(client, None)


async def _plain(send, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = message.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    """Pure ASGI (so streamed answers are not buffered): host check, body cap, login throttle, headers."""

    def __init__(self, app, *, loopback_only_hosts: bool, throttle: LoginThrottle | None = None):
        self.app = app
        self.check_host = loopback_only_hosts
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.check_host and host_of(headers.get("host", "")) not in LOOPBACK_NAMES:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _plain(send, 421, "invalid Host header: this server answers only to localhost")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        limit = MAX_EVENT_BYTES if path.startswith(EVENT_PATHS) else MAX_BODY_BYTES
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return await _plain(send, 400, "invalid Content-Length")
        if length > limit:
            return await _plain(send, 413, f"request body too large (limit {limit} bytes)")
        client = (scope.get("client") or ("?", 0))[0]
        login = scope.get("method") == "POST" and path in LOGIN_PATHS
        if login and (wait := self.throttle.retry_after(client)) > 0:
            return await _plain(send, 429, f"too many failed logins; try again in {wait:.0f} s",
                                [(b"retry-after", str(int(wait) + 1).encode())])
        seen = 0

        async def capped_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a chunked body without Content-Length
                    raise ValueError("request body too large")
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                if login:
                    (self.throttle.succeeded if message["status"] < 400 else self.throttle.failed)(client)
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in SECURITY_HEADERS if h[0] not in names)]}
            await send(message)

        return await self.app(scope, capped_receive, send_with_headers)


def web_app(settings: Settings):
    """The FastAPI app (no docs, no /openapi.json) wrapped by the edge middleware."""
    from fastapi import FastAPI

    app = FastAPI(title="zhibu-qa", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(EdgeMiddleware, loopback_only_hosts=is_loopback(settings.host))
    return app


def check_port_free(host: str, port: int) -> None:
    """A one-line ConfigError when the port is out of range or taken (instead of a uvicorn traceback)."""
    if not 0 < port < 65536:
        raise ConfigError(f"port {port} is out of range (1-65535): set ZHIBU_PORT or --port")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@dataclass
class RunningServer:
    """A uvicorn server started in a thread; `close()` stops it."""

    server: object
    thread: threading.Thread
    url: str

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def url_for(settings: Settings) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}/"


def run(app, settings: Settings, *, block: bool = True,
        on_ready: Callable[[str], None] | None = None) -> RunningServer | None:
    """Serve `app` on settings.host:port; `on_ready(url)` is called once the socket accepts requests."""
    import uvicorn

    check_port_free(settings.host, settings.port)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=3, server_header=False)
    server = uvicorn.Server(config)
    url = url_for(settings)
    if block:
        if on_ready:
            threading.Thread(target=_announce, args=(server, url, on_ready), daemon=True).start()
        server.run()
        return None
    server.install_signal_handlers = lambda: None  # signals belong to the main thread
    thread = threading.Thread(target=server.run, name="zhibu-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the server did not start on {settings.host}:{settings.port}")
        time.sleep(0.01)
    if on_ready:
        on_ready(url)
    return RunningServer(server, thread, url)


def _announce(server, url: str, on_ready: Callable[[str], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        on_ready(url)
