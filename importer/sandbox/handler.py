"""The sandbox's HTTP side: one handler per connection, answering and misbehaving."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from importer.api.endpoints import ENDPOINTS, Endpoint
from importer.sandbox.faults import Fault, FaultPlan

if TYPE_CHECKING:
    from importer.sandbox.server import SandboxServer


class SandboxHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its sandbox and its open connections."""

    daemon_threads = True
    request_queue_size = 128  # 16+ clients connecting at once must not overflow the backlog

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup we do not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def track(self, sock: socket.socket, *, opened: bool) -> None:
        with self._open_lock:
            if opened:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, drop) makes our late write fail: that is expected.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>Please try again later.</p></body></html>"
)
_HTTP_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class _Handler(BaseHTTPRequestHandler):
    """One connection; answers POSTs until the client closes it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write

    @property
    def httpd(self) -> SandboxHTTPServer:
        return cast(SandboxHTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        self.httpd.track(self.connection, opened=True)
        self.httpd.sandbox.stats.connection_opened()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.httpd.track(self.connection, opened=False)

    def parse_request(self) -> bool:
        # The request line has just been read: the API's latency counts from here.
        self.arrived = time.monotonic()
        return super().parse_request()

    def version_string(self) -> str:
        return "AvoSMS-sandbox/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the sandbox serves hundreds of requests a second."""

    def do_GET(self) -> None:
        stats = self.httpd.sandbox.stats
        stats.arrive("GET " + self.path, None, 0, time.monotonic())
        try:
            self._send_json(405, {"code": "ERR_405", "status": "use POST"}, extra={"Allow": "POST"})
        finally:
            stats.leave()

    def do_POST(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send_json(411, {"code": "ERR_411", "status": "Content-Length required"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send_json(400, {"code": "ERR_400", "status": "bad Content-Length"})
            return
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path.rstrip("/")
        form = {
            field: values[0]
            for field, values in parse_qs(
                body.decode("utf-8", "replace"), keep_blank_values=True
            ).items()
        }
        sandbox = self.httpd.sandbox
        plan = sandbox.faults
        endpoint = ENDPOINTS.get(path)
        key = sandbox.request_key(endpoint, form) if endpoint is not None else None
        throttled = sandbox.stats.arrive(path, key, plan.rate_limit, time.monotonic())
        try:
            self._answer(path, endpoint, form, plan, throttled)
        finally:
            sandbox.stats.leave()

    def _answer(
        self,
        path: str,
        endpoint: Endpoint | None,
        form: dict[str, str],
        plan: FaultPlan,
        throttled: bool,
    ) -> None:
        sandbox = self.httpd.sandbox
        if plan.latency:
            # Answered `latency` seconds after the request arrived, the sandbox's own work
            # (parsing the head and the form, waiting for its turn at the GIL) included.
            time.sleep(max(0.0, self.arrived + plan.latency - time.monotonic()))
        if plan.fail_everything:
            sandbox.stats.count_fault(Fault.FAIL_EVERYTHING)
            self._send_http_error(503)
            return
        if throttled:
            body = b"Too Many Requests"
            headers = {"Retry-After": plan.retry_after or "1"}
            self._send(429, body, "text/plain; charset=utf-8", "HTTP_429", extra=headers)
            return
        if endpoint is None:
            self._send_json(404, {"code": "ERR_404", "status": f"no endpoint {path}"})
            return
        fault, variant = sandbox.draw(plan, create=endpoint.writes)
        if fault is not None:
            sandbox.stats.count_fault(fault)
        if fault is Fault.HTTP_5XX:
            self._send_http_error((500, 502, 503)[variant % 3])
        elif fault is None or not endpoint.writes:
            self._send_json(200, sandbox.process(endpoint, form))
        elif fault is Fault.ERROR_9XX:
            self._send_json(200, _error_9xx(variant))
        elif fault is Fault.TIMEOUT:
            time.sleep(plan.hang_seconds)
            page = _HTML_PAGE.format(title="504 Gateway Timeout").encode()
            self._send(504, page, "text/html; charset=utf-8", "HTTP_504")
        elif fault is Fault.DROP:
            self._drop()
        elif fault is Fault.SLOW_ANSWER:
            time.sleep(plan.hang_seconds)
            self._send_json(200, sandbox.process(endpoint, form))
        elif fault is Fault.LOST_ANSWER:
            sandbox.process(endpoint, form)
            if variant % 2:
                self._drop()
            else:
                self._send_json(200, _error_9xx(variant // 2))
        else:
            self._send_garbage(variant)

    def _send_garbage(self, variant: int) -> None:
        kind = variant % 4
        if kind == 0:
            page = _HTML_PAGE.format(title="Maintenance").encode()
            self._send(200, page, "text/html; charset=utf-8", "HTML")
        elif kind == 1:
            body = b'{"code": "OK", "status": "success", "list_contact_id": "10'
            self._send(200, body, "application/json", "TRUNCATED_JSON")
        elif kind == 2:
            self._send(200, b'{"status": "success"}', "application/json", "NO_CODE")
        else:
            self._send_json(200, {"code": "ERR_999X", "status": "?"})

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.httpd.sandbox.stats.count_answer("DROP")
        self.close_connection = True

    def _send_http_error(self, status: int) -> None:
        page = _HTML_PAGE.format(title=f"{status} {_HTTP_REASONS[status]}").encode()
        self._send(status, page, "text/html; charset=utf-8", f"HTTP_{status}")

    def _send_json(
        self, status: int, answer: Mapping[str, Any], *, extra: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(answer).encode()
        code = str(answer.get("code"))
        self._send(status, body, "application/json; charset=utf-8", code, extra=extra)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        answer: str,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """One complete answer; counted before it leaves, so a client that got it sees it."""
        self.httpd.sandbox.stats.count_answer(answer)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for header, value in (extra or {}).items():
            self.send_header(header, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _error_9xx(variant: int) -> dict[str, str]:
    return {"code": f"ERR_{901 + variant % 99}", "status": "processing error"}
