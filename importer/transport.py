"""HTTP for the API client: pooled keep-alive connections, a deadline per request, proxies.

Each request is one write (the request line, our few fixed headers and the form) and the
answer is read through `httptools` (Node's llhttp parser: framing by Content-Length, chunks or
the end of the connection, keep-alive). Per request that costs under a third of the CPU of
`requests`, and less than `http.client`, whose header parsing goes through the `email` package
(figures in bench/RESULTS.md, "API throughput"). The rules the importer promises:

- **One deadline per request.** `timeout` bounds the whole exchange (connecting, the proxy's
  tunnel, the TLS handshake, sending, every read of the answer), not each socket read: an
  answer trickling in a byte at a time is cut when the time is up.
- **Proxies only for HTTPS, never for loopback**: see `importer.proxy`.
- **Truthful failures.** A `TransportError` says whether the request provably never reached
  the server (`unreached`: the name did not resolve, the connection was refused, the proxy
  refused the tunnel, ...: nothing of the request was sent) or may have been processed.

Thread-safe: each request checks one connection out of the pool and back in.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httptools

from importer.errors import ConfigError
from importer.proxy import Proxy, proxy_for

#: Answers larger than this are not read into memory (a list of lists is a few hundred bytes
#: per list).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: A pooled connection idle for longer is closed rather than reused: servers drop idle
#: keep-alive connections (Apache after 5 s by default), and a request sent on a connection
#: the server is closing fails with an unknown fate.
MAX_IDLE_SECONDS = 4.0
_HEADERS = (
    "User-Agent: avosms-import\r\n"
    "Accept: application/json\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
)
_READ_SIZE = 64 * 1024
#: Statuses whose answers have no body, whatever their headers say (RFC 9110).
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP answer: status, headers (names in lower case) and the body (None when over
    MAX_ANSWER_BYTES)."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None


class TransportError(Exception):
    """A request that got no complete HTTP answer.

    ``timed_out``: the deadline passed. ``unreached``: the request provably never reached the
    server (nothing of it was sent), so it cannot have been processed. ``reason`` is short and
    never holds the URL, the form or a proxy's credentials.
    """

    def __init__(self, reason: str, *, timed_out: bool = False, unreached: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.unreached = unreached


class Transport:
    """POSTs forms to one API origin over pooled keep-alive connections; thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        pool_size: int = 4,
        environ: Mapping[str, str] | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        """`environ` is where proxy variables are read (default: none, so no proxy).

        Raises ConfigError for an address that is not `http(s)://HOST[:PORT][/path]`, or a
        proxy we cannot use.
        """
        try:
            parts = urlsplit(base_url)
            port = parts.port
        except ValueError:
            raise ConfigError(f"the API address {base_url!r} is not usable (bad port)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"the API address {base_url!r} is not usable (http(s)://HOST)")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._tls else 80)
        self._authority = f"[{self._host}]" if ":" in self._host else self._host
        if port is not None:
            self._authority += f":{port}"
        self._prefix = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")
        self._timeout = timeout
        self._proxy = proxy_for(base_url, environ or {})
        self._context = _tls_context() if self._tls else None
        self._clock = clock
        self._pool_size = pool_size
        self._idle: list[tuple[float, _DeadlineSocket]] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        via = f" via {self._proxy!r}" if self._proxy else ""
        return f"Transport({self._host}:{self._port}{via})"

    @property
    def proxy(self) -> Proxy | None:
        """The proxy in use, if any (for tests and the debug log)."""
        return self._proxy

    def post_form(self, path: str, form: bytes) -> HttpAnswer:
        """POST `form` (already urlencoded) to `path`; the answer, or TransportError.

        Redirects are not followed (they would carry the key's form elsewhere).
        """
        deadline = self._clock() + self._timeout
        request = (
            f"POST {self._prefix}{path} HTTP/1.1\r\nHost: {self._authority}\r\n{_HEADERS}"
            f"Content-Length: {len(form)}\r\n\r\n"
        ).encode("ascii") + form
        sock = self._checkout(deadline)
        reading = _Reading()
        try:
            sock.deadline = deadline
            sock.sendall(request)  # one write, one TCP segment for a small form
            _receive(sock, reading)
        except BaseException as error:
            sock.close()
            if isinstance(error, Exception):
                raise _failure(error, self._timeout) from None
            raise
        body = None if reading.too_large else b"".join(reading.chunks)
        if reading.too_large or reading.until_close or not reading.keep_alive:
            sock.close()
        else:
            self._checkin(sock)
        return HttpAnswer(reading.status, reading.headers, body)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, sock in idle:
            sock.close()

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(self, deadline: float) -> _DeadlineSocket:
        """A connected socket: the most recently used live one, or a new one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                since, sock = self._idle.pop()
            if self._clock() - since <= MAX_IDLE_SECONDS and sock.alive():
                return sock
            sock.close()
        return self._connect(deadline)

    def _checkin(self, sock: _DeadlineSocket) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append((self._clock(), sock))
                return
        sock.close()

    def _connect(self, deadline: float) -> _DeadlineSocket:
        """A new connection (through the proxy's tunnel, TLS set up); failures here never
        sent a byte of the request."""
        proxy = self._proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (self._host, self._port)
        sock: _DeadlineSocket | None = None
        try:
            raw = socket.create_connection((host, port), max(deadline - self._clock(), 0.001))
            sock = _DeadlineSocket(raw, deadline, self._clock)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None:
                self._tunnel(sock, proxy)
            if self._context is not None:
                sock.arm()
                sock.sock = self._context.wrap_socket(raw, server_hostname=self._host)
        except Exception as error:
            if sock is not None:
                sock.close()
            raise _failure(error, self._timeout, connecting=True) from None
        return sock

    def _tunnel(self, sock: _DeadlineSocket, proxy: Proxy) -> None:
        """Ask the proxy for a tunnel to the API (HTTP CONNECT); TLS then runs through it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        target = f"{host}:{self._port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        lines += [f"{name}: {value}" for name, value in proxy.headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        reading = _Reading()
        _receive(sock, reading, head_only=True)
        if reading.status != 200:
            raise TransportError(
                f"the proxy refused the tunnel ({reading.status} {reading.reason})".strip(),
                unreached=True,
            )


# -- reading an answer ------------------------------------------------------------------------


class _Reading:
    """An answer as the parser reports it (through these callbacks), as it comes in."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.size = 0
        self.received = 0
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.too_large = False
        #: Neither Content-Length nor chunks: the answer ends when the server closes.
        self.until_close = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.status = self.parser.get_status_code()
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        framed = chunked or "content-length" in self.headers
        self.until_close = not framed and self.status not in _NO_BODY

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER_BYTES:
            self.too_large = True
            self.chunks.clear()
        else:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        # Only meaningful now: once the message is over the parser forgets its flags.
        self.keep_alive = self.parser.should_keep_alive()


def _receive(sock: _DeadlineSocket, reading: _Reading, *, head_only: bool = False) -> None:
    """Feed the parser from the socket until the answer (or its head) is in, or too large."""
    while not (reading.head_done if head_only else reading.complete or reading.too_large):
        data = sock.recv(_READ_SIZE)
        if not data:
            if reading.head_done and reading.until_close:
                reading.complete = True
                return
            if not reading.received:
                raise TransportError("the server closed the connection without answering")
            raise TransportError("the answer was cut off")
        reading.received += len(data)
        try:
            reading.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise TransportError("the answer was not valid HTTP (a protocol switch)") from None
        except httptools.HttpParserError:
            raise TransportError("the answer was not valid HTTP") from None
        if reading.head_done and 100 <= reading.status < 200:
            raise TransportError(f"the answer was an interim {reading.status} only")


def _tls_context() -> ssl.SSLContext:
    """Certificates verified against the system's store (SSL_CERT_FILE/SSL_CERT_DIR honoured)
    and certifi's bundle, as `requests` did."""
    context = ssl.create_default_context()
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi is a dependency
        return context
    context.load_verify_locations(certifi.where())
    return context


# -- a socket whose every read and write ends at the request's deadline ----------------------


class _DeadlineSocket:
    """A connected socket (plain or TLS) whose operations end at `deadline` (monotonic)."""

    def __init__(self, sock: socket.socket, deadline: float = math.inf, clock: Any = None) -> None:
        self.sock = sock
        self.deadline = deadline
        self._clock = clock or time.monotonic

    def arm(self) -> None:
        """Let the next operation wait only for what is left of the deadline."""
        remaining = self.deadline - self._clock()
        if remaining <= 0:
            raise TimeoutError("the deadline passed")
        self.sock.settimeout(remaining)

    def sendall(self, data: bytes) -> None:
        self.arm()
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        self.arm()
        return self.sock.recv(size)

    def alive(self) -> bool:
        """Whether an idle keep-alive connection can carry a request: the server has neither
        closed it nor sent anything unasked (both make the socket readable)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        pending = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
        return not readable and not pending

    def close(self) -> None:
        self.sock.close()


# -- failures ---------------------------------------------------------------------------------

#: Why a connection failed, in the operator's words; the first class that matches wins.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not found"),
    (ssl.SSLCertVerificationError, "TLS error: the server's certificate is not trusted"),
    (ssl.SSLError, "TLS error"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (BrokenPipeError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
)


def _failure(error: Exception, timeout: float, *, connecting: bool = False) -> TransportError:
    """A TransportError for `error`; `connecting`: it happened before the request was sent."""
    if isinstance(error, TransportError):
        if connecting:
            error.unreached = True
        return error
    if isinstance(error, TimeoutError):
        what = "no connection" if connecting else "no answer"
        return TransportError(f"{what} within {timeout:g} s", timed_out=True, unreached=connecting)
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return TransportError(reason, unreached=connecting)
    if isinstance(error, OSError) and error.strerror:
        return TransportError(error.strerror.lower(), unreached=connecting)
    return TransportError(type(error).__name__, unreached=connecting)
