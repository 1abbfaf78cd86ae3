"""HTTP for the API client: `http.client` connections kept alive, a deadline per request, proxies.

The standard library's `http.client` writes each request and reads each answer (framing by
Content-Length, chunks or the end of the connection; keep-alive; the proxy's CONNECT tunnel
through `set_tunnel`). This module pools its connections and adds the rules the importer
promises:

- **One deadline per request.** `timeout` bounds the whole exchange (the name lookup,
  connecting, the proxy's tunnel, the TLS handshake, sending, every read of the answer), not
  each socket read: http.client reads through a file over the socket, and every read of that
  file waits only for what is left of the deadline, so an answer trickling in a byte at a
  time is cut when the time is up; a name lookup that hangs is abandoned at the deadline.
- **Proxies only for HTTPS, never for loopback**: see `importer.proxy`.
- **Truthful failures.** A `TransportError` says whether the request provably never reached
  the server (`unreached`: the name did not resolve, the connection was refused, the proxy
  refused the tunnel, ...: nothing of the request was sent) or may have been processed. A
  request that fails on a reused connection may have been processed: it is never re-sent here.

Thread-safe: each request checks one connection out of the pool and back in.
"""

from __future__ import annotations

import http.client
import io
import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

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
    ("User-Agent", "avosms-import"),
    ("Accept", "application/json"),
    ("Content-Type", "application/x-www-form-urlencoded"),
)
#: How http.client words a proxy's refusal of the tunnel (an OSError without an errno).
_TUNNEL_REFUSED = "Tunnel connection failed:"
#: Name lookups run here, so that a resolver that never answers costs a request its deadline
#: and no more (`socket.getaddrinfo` itself takes no timeout; an abandoned lookup ends when
#: the resolver gives up, in its thread).
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="name-lookup")


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
        self._host = parts.hostname
        self._port = port or (443 if parts.scheme == "https" else 80)
        self._authority = f"[{self._host}]" if ":" in self._host else self._host
        if port is not None:
            self._authority += f":{port}"
        self._prefix = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")
        self._timeout = timeout
        self._proxy = proxy_for(base_url, environ or {})
        self._context = _tls_context() if parts.scheme == "https" else None
        self._clock = clock
        self._pool_size = pool_size
        self._idle: list[tuple[float, _Connection]] = []
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
        connection = self._checkout(self._clock() + self._timeout)
        try:
            response = connection.post(self._prefix + path, self._authority, form)
            if connection.ended:  # the server closed before the end of the head
                raise TransportError("the answer was cut off")
            if 100 <= response.status < 200:
                raise TransportError(f"the answer was an interim {response.status} only")
            body = _read_body(response)
        except BaseException as error:
            connection.close()
            if isinstance(error, Exception):
                raise _failure(error, self._timeout, cut=connection.ended) from None
            raise
        response.close()
        if body is None or response.will_close or connection.sock is None:
            connection.close()
        else:
            self._checkin(connection)
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key, text = name.lower(), value.strip()
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return HttpAnswer(response.status, headers, body)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(self, deadline: float) -> _Connection:
        """A connection good until `deadline`: the most recently used live one, or a new one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                since, connection = self._idle.pop()
            if self._clock() - since <= MAX_IDLE_SECONDS and connection.alive():
                connection.deadline = deadline
                return connection
            connection.close()
        return self._connect(deadline)

    def _checkin(self, connection: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append((self._clock(), connection))
                return
        connection.close()

    def _connect(self, deadline: float) -> _Connection:
        """A new connection (through the proxy's tunnel, TLS set up); failures here never
        sent a byte of the request."""
        proxy = self._proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (self._host, self._port)
        connection = _Connection(host, port, self._context, self._host, self._clock)
        connection.deadline = deadline
        if proxy is not None:
            # The Host header written here: Python 3.11 sends none with CONNECT by itself.
            target = f"[{self._host}]" if ":" in self._host else self._host
            tunnel_headers = {"Host": f"{target}:{self._port}", **proxy.headers}
            connection.set_tunnel(self._host, self._port, tunnel_headers)
        try:
            connection.connect()
        except Exception as error:
            connection.close()
            failure = _failure(error, self._timeout, connecting=True)
            if proxy is not None and "proxy" not in failure.reason:
                # Else the operator looks for the fault at the API, not at a stale proxy setting.
                failure = TransportError(
                    f"{failure.reason}, through the proxy {proxy.host}:{proxy.port}",
                    timed_out=failure.timed_out,
                    unreached=True,
                )
            raise failure from None
        return connection


# -- one connection, every read of which ends at the request's deadline -------------------------


class _Connection(http.client.HTTPConnection):
    """An `http.client` connection (TLS when given a context) whose every step ends at
    `deadline` (monotonic); `ended` tells that the server closed its side during a read."""

    auto_open = 0  # never reconnect behind our back: a new connection is made by the pool

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext | None, server_name: str, clock: Any
    ) -> None:
        super().__init__(host, port)
        self.deadline = math.inf
        self.ended = False
        self._tls = tls
        self._server_name = server_name
        self._clock = clock
        self._form: bytes | None = None
        # http.client reads every answer (the proxy's to CONNECT too) from what this makes,
        # and opens its socket (to the proxy when tunnelling) with `_open_socket`.
        self.response_class = self._response  # type: ignore[assignment]
        self._create_connection = self._open_socket

    def remaining(self) -> float:
        """Seconds left before the deadline; TimeoutError once it has passed."""
        left = self.deadline - self._clock()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def connect(self) -> None:
        """TCP (to the proxy when tunnelling, which http.client then asks for the tunnel),
        then TLS; each step waits only for what is left of the deadline.

        TLS is set up here rather than by HTTPSConnection so that the handshake, too, gets
        only what the connection and the tunnel left of the deadline.
        """
        self.timeout = self.remaining()
        super().connect()
        if self._tls is not None:
            self.sock.settimeout(self.remaining())
            self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_name)

    def _open_socket(
        self, address: tuple[str, int], timeout: Any = None, source: Any = None
    ) -> socket.socket:
        """TCP to `address`, its name looked up within the deadline, each address the lookup
        gave tried in turn (as `socket.create_connection` does) with what is left of it."""
        host, port = address
        lookup = _LOOKUPS.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        try:
            addresses = lookup.result(timeout=self.remaining())
        except LookupTimeout:
            raise TimeoutError("the name lookup did not end in time") from None
        failure: OSError | None = None
        for *_, sockaddr in addresses:
            ip, ip_port = str(sockaddr[0]), int(sockaddr[1])
            try:
                return socket.create_connection((ip, ip_port), self.remaining(), source)
            except OSError as error:
                failure = error
        raise failure or OSError(f"no address for {host}")

    def post(self, url: str, authority: str, form: bytes) -> http.client.HTTPResponse:
        """Send the request in one write and read the answer's head."""
        self.ended = False
        self.sock.settimeout(self.remaining())  # sendall: the whole write
        self.putrequest("POST", url, skip_host=True, skip_accept_encoding=True)
        self.putheader("Host", authority)
        for name, value in _HEADERS:
            self.putheader(name, value)
        self.putheader("Content-Length", str(len(form)))
        self._form = form
        self.endheaders()  # the head, to which send() adds the form
        return self.getresponse()

    def send(self, data: Any) -> None:
        """http.client writes the head and then the body; one write (one TCP segment for a
        small form) costs less CPU and no round trip waits on the second half."""
        if self._form is not None:
            data, self._form = data + self._form, None
        super().send(data)

    def alive(self) -> bool:
        """Whether an idle keep-alive connection can carry a request: the server has neither
        closed it nor sent anything unasked (both make the socket readable)."""
        sock = self.sock
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        return not readable and not pending

    def _response(self, sock: socket.socket, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_DeadlineReader(sock, self), *args, **kwargs)  # type: ignore[arg-type]


class _DeadlineReader(io.RawIOBase):
    """The socket's reads as http.client sees them (it calls `makefile`), each waiting only
    for what is left of the connection's deadline."""

    def __init__(self, sock: socket.socket, connection: _Connection) -> None:
        super().__init__()
        self._sock = sock
        # A socket's own reader keeps it open until the answer is read, as http.client expects
        # when it closes a connection whose answer ends with the connection; reads go to the
        # socket itself (the reader's checks are this class's, one layer less per read).
        self._raw = sock.makefile("rb", buffering=0)
        self._connection = connection

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._connection.remaining())
        count = self._sock.recv_into(buffer)
        if count == 0:
            self._connection.ended = True
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def _read_body(response: http.client.HTTPResponse) -> bytes | None:
    """The answer's body (checked complete when framed), or None when over MAX_ANSWER_BYTES."""
    if response.length is not None:  # Content-Length: read() raises IncompleteRead if cut
        return None if response.length > MAX_ANSWER_BYTES else response.read()
    body = response.read(MAX_ANSWER_BYTES + 1)  # chunks (checked) or until the server closes
    return None if len(body) > MAX_ANSWER_BYTES else body


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


# -- failures ---------------------------------------------------------------------------------

#: Why a connection failed, in the operator's words; the first class that matches wins.
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not found"),
    (ssl.SSLCertVerificationError, "TLS error: the server's certificate is not trusted"),
    (ssl.SSLError, "TLS error"),
    # Raised when the server closed the connection before a byte of the answer.
    (http.client.RemoteDisconnected, "the server closed the connection without answering"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (BrokenPipeError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
    (http.client.IncompleteRead, "the answer was cut off"),
    (http.client.HTTPException, "the answer was not valid HTTP"),
)


def _failure(
    error: Exception, timeout: float, *, connecting: bool = False, cut: bool = False
) -> TransportError:
    """A TransportError for `error`; `connecting`: it happened before the request was sent;
    `cut`: the server closed the connection part way through the answer."""
    if isinstance(error, TransportError):
        if connecting:
            error.unreached = True
        return error
    if isinstance(error, TimeoutError):
        what = "no connection" if connecting else "no answer"
        return TransportError(f"{what} within {timeout:g} s", timed_out=True, unreached=connecting)
    message = str(error)
    if connecting and message.startswith(_TUNNEL_REFUSED):
        refusal = message.removeprefix(_TUNNEL_REFUSED).strip()
        return TransportError(f"the proxy refused the tunnel ({refusal})", unreached=True)
    if cut and not isinstance(error, http.client.RemoteDisconnected | ssl.SSLError):
        return TransportError("the answer was cut off")
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return TransportError(reason, unreached=connecting)
    if isinstance(error, OSError) and error.strerror:
        return TransportError(error.strerror.lower(), unreached=connecting)
    return TransportError(type(error).__name__, unreached=connecting)
