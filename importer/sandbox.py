"""The project's own AvoSMS server, on loopback, for tests, demos and benchmarks.

It speaks the two contact-list endpoints the importer uses, as the API reference describes them
(form-encoded POST, JSON answers with `code` and `status`), and can misbehave on purpose in every
way a remote API does, drawn from a seeded random generator so a test sees the same faults for
the same request order. Its counters prove what the importer did: how many create requests per
name, how many lists really created, the busiest one-second window, the most requests in flight.

Only the standard library (and pycountry for the ISO2 check) runs on the server side.

Faults and the two endpoints:

- create (`/v1/contact/list/create`): every fault of the `FaultPlan`.
- retrieve (`/v1/contact/list`): latency, HTTP 5xx, `fail_everything` and the 429 rate limit
  only. Lost answers make no sense for a read, and the importer only fetches the lists a few
  times per run, so ERR_9xx, timeouts, dropped connections and garbage are kept for creates,
  where the row-by-row guarantees are tested.
"""

from __future__ import annotations

import contextlib
import csv
import hmac
import io
import json
import random
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from importer.errors import ConfigError

DEMO_ID = "demo@example.com"
DEMO_KEY = "demo-key-0000"

CREATE_PATH = "/v1/contact/list/create"
LIST_PATH = "/v1/contact/list"
FIRST_LIST_ID = 1001

#: Plain words for the create endpoint's codes, sent as `status` (the API never describes it).
_CREATE_STATUS = {
    "ERR_100": "API not recognized",
    "ERR_101": "list name empty",
    "ERR_102": "country code empty",
    "ERR_103": "no country matches that ISO2 code",
    "ERR_104": "list name not available",
}


class Fault(StrEnum):
    """A way the sandbox misbehaves; the keys of `SandboxStats.faults`."""

    HTTP_5XX = "http_5xx"
    ERROR_9XX = "error_9xx"
    TIMEOUT = "timeout"
    DROP = "drop"
    LOST_ANSWER = "lost_answer"
    GARBAGE = "garbage"
    FAIL_EVERYTHING = "fail_everything"


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and how often.

    The per-request rates are shares of the create requests, drawn from one
    `random.Random(seed)`: each request gets at most one of them, so they must add up to 1 or
    less (0.3 ERR_9xx + 0.1 5xx means 30 % and 10 % of the requests, 60 % untouched).
    """

    latency: float = 0.0
    """Seconds added to every answer (all endpoints, all outcomes)."""
    error_9xx_rate: float = 0.0
    """Answer ERR_901..ERR_999; nothing created."""
    http_5xx_rate: float = 0.0
    """HTTP 500/502/503 with an HTML page; nothing created."""
    timeout_rate: float = 0.0
    """Hang `hang_seconds`, then answer HTTP 504; nothing created (the client gave up)."""
    drop_rate: float = 0.0
    """Close the connection without an answer; nothing created."""
    lost_answer_rate: float = 0.0
    """Process the request (create the list), then lose the answer: half ERR_9xx, half a
    connection closed without an answer."""
    garbage_rate: float = 0.0
    """HTTP 200 with an HTML page, truncated JSON, JSON without `code` or the unknown code
    ERR_999X (a quarter each); nothing created."""
    fail_everything: bool = False
    """Every request answers HTTP 503: an outage."""
    rate_limit: float = 0.0
    """When > 0: a request arriving while this many requests (or more) arrived in the last
    second gets HTTP 429, so at most this many are served in any one-second window."""
    retry_after: str | None = None
    """`Retry-After` value on 429 answers (seconds or an HTTP date); "1" when None."""
    hang_seconds: float = 3.0
    """How long a `timeout` fault hangs."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name, rate in self.shares():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"sandbox fault rate {name} must be between 0 and 1, not {rate}")
        total = sum(rate for _, rate in self.shares())
        if total > 1.0 + 1e-9:
            raise ConfigError(f"sandbox fault rates add up to {total:g}; they must not exceed 1")
        for setting in ("latency", "hang_seconds", "rate_limit"):
            if getattr(self, setting) < 0:
                raise ConfigError(f"sandbox {setting} must not be negative")

    def shares(self) -> tuple[tuple[Fault, float], ...]:
        """Per-request faults with their rates, in the order they are drawn."""
        return (
            (Fault.HTTP_5XX, self.http_5xx_rate),
            (Fault.ERROR_9XX, self.error_9xx_rate),
            (Fault.TIMEOUT, self.timeout_rate),
            (Fault.DROP, self.drop_rate),
            (Fault.LOST_ANSWER, self.lost_answer_rate),
            (Fault.GARBAGE, self.garbage_rate),
        )


@dataclass(frozen=True)
class SandboxList:
    """One list of the sandbox account."""

    list_contact_id: str
    name: str
    country_code: str
    creation_date: str


@cache
def _country_names() -> dict[str, str]:
    """ISO2 code -> English name, loaded once (pycountry's database is slow to open)."""
    import pycountry

    return {country.alpha_2: country.name for country in pycountry.countries}


def name_key(name: str) -> str:
    """The sandbox's uniqueness key: trimmed and casefolded (`Paris` and ` PARIS ` collide)."""
    return name.strip().casefold()


class _Account:
    """The lists of the (single) sandbox account; check-and-insert is atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, SandboxList] = {}
        self._next_id = FIRST_LIST_ID

    def create(self, name: str, country_code: str) -> tuple[str, SandboxList | None]:
        """The API code for this create, and the new list when it is OK."""
        name = name.strip()
        country_code = country_code.strip().upper()
        if not name:
            return "ERR_101", None
        if not country_code:
            return "ERR_102", None
        if country_code not in _country_names():
            return "ERR_103", None
        key = name_key(name)
        with self._lock:
            if key in self._by_key:
                return "ERR_104", None
            created = SandboxList(
                list_contact_id=str(self._next_id),
                name=name,
                country_code=country_code,
                creation_date=time.strftime("%Y-%m-%d %H:%M:%S"),
            )
            self._next_id += 1
            self._by_key[key] = created
        return "OK", created

    def lists(self) -> list[SandboxList]:
        with self._lock:
            return list(self._by_key.values())


class SandboxStats:
    """Thread-safe counters of what the sandbox saw. Every property returns a copy."""

    def __init__(self, account: _Account) -> None:
        self._lock = threading.Lock()
        self._account = account
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the account's lists stay)."""
        with self._lock:
            self._requests_total = 0
            self._connections = 0
            self._create_requests: Counter[str] = Counter()
            self._created: Counter[str] = Counter()
            self._list_requests = 0
            self._arrivals: deque[float] = deque()
            self._max_requests_per_second = 0
            self._in_flight = 0
            self._max_in_flight = 0
            self._throttled = 0
            self._faults: Counter[str] = Counter()
            self._answers: Counter[str] = Counter()

    @property
    def requests_total(self) -> int:
        """Every HTTP request, any path, any outcome."""
        with self._lock:
            return self._requests_total

    @property
    def connections(self) -> int:
        """TCP connections accepted (keep-alive makes this far below `requests_total`)."""
        with self._lock:
            return self._connections

    @property
    def create_requests(self) -> Counter[str]:
        """Create requests received, by casefolded trimmed name, whatever their answer."""
        with self._lock:
            return Counter(self._create_requests)

    @property
    def created(self) -> Counter[str]:
        """Lists really created, by casefolded trimmed name (never more than 1 each)."""
        with self._lock:
            return Counter(self._created)

    @property
    def list_requests(self) -> int:
        """Retrieve-lists requests received."""
        with self._lock:
            return self._list_requests

    @property
    def max_requests_per_second(self) -> int:
        """The most requests that arrived within any sliding one-second window."""
        with self._lock:
            return self._max_requests_per_second

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests being handled at the same time."""
        with self._lock:
            return self._max_in_flight

    @property
    def throttled(self) -> int:
        """Requests answered HTTP 429."""
        with self._lock:
            return self._throttled

    @property
    def faults(self) -> Counter[str]:
        """Faults injected, by `Fault` value."""
        with self._lock:
            return Counter(self._faults)

    @property
    def answers(self) -> Counter[str]:
        """Answers sent, by API code or token (`OK`, `ERR_104`, `HTTP_503`, `DROP`, `HTML`…)."""
        with self._lock:
            return Counter(self._answers)

    @property
    def lists(self) -> dict[str, tuple[str, str]]:
        """The account's lists: id -> (name, country code)."""
        return {x.list_contact_id: (x.name, x.country_code) for x in self._account.lists()}

    def snapshot(self) -> dict[str, Any]:
        """Every counter as plain, JSON-ready values, with totals of the per-name counters."""
        with self._lock:
            snap: dict[str, Any] = {
                "requests_total": self._requests_total,
                "connections": self._connections,
                "create_requests_total": self._create_requests.total(),
                "created_total": self._created.total(),
                "names_sent_more_than_once": sum(
                    1 for n in self._create_requests.values() if n > 1
                ),
                "create_requests": dict(self._create_requests),
                "created": dict(self._created),
                "list_requests": self._list_requests,
                "max_requests_per_second": self._max_requests_per_second,
                "max_in_flight": self._max_in_flight,
                "throttled": self._throttled,
                "faults": {str(fault): n for fault, n in self._faults.items()},
                "answers": dict(self._answers),
            }
        snap["lists"] = len(self._account.lists())
        return snap

    # Called by the request handler.

    def connection_opened(self) -> None:
        with self._lock:
            self._connections += 1

    def arrive(self, path: str, key: str | None, rate_limit: float, now: float) -> bool:
        """Count one arriving request; True when the rate limit refuses it (HTTP 429)."""
        with self._lock:
            self._requests_total += 1
            if path == CREATE_PATH and key is not None:
                self._create_requests[key] += 1
            elif path == LIST_PATH:
                self._list_requests += 1
            window = self._arrivals
            while window and window[0] <= now - 1.0:
                window.popleft()
            throttled = rate_limit > 0 and len(window) >= rate_limit
            window.append(now)
            self._max_requests_per_second = max(self._max_requests_per_second, len(window))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if throttled:
                self._throttled += 1
            return throttled

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def count_answer(self, answer: str) -> None:
        with self._lock:
            self._answers[answer] += 1

    def count_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault] += 1

    def count_created(self, key: str) -> None:
        with self._lock:
            self._created[key] += 1


class SandboxServer:
    """A threaded HTTP/1.1 (keep-alive) AvoSMS server; `with SandboxServer() as s: s.url`.

    `stop()` then `start()` serves again on the same port with the same lists, so a test can
    take the API away and bring it back. All credentials in `accounts` share one account.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultPlan | None = None,
        accounts: Mapping[str, str] | None = None,
        existing_lists: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.host = host
        self.port = port
        self._accounts = dict(accounts) if accounts is not None else {DEMO_ID: DEMO_KEY}
        self._faults = faults or FaultPlan()
        self._rng = random.Random(self._faults.seed)
        self._fault_lock = threading.Lock()
        self._account = _Account()
        self.stats = SandboxStats(self._account)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, country in existing_lists:
            code, _ = self._account.create(name, country)
            if code != "OK":
                raise ConfigError(
                    f"pre-existing list {name!r} ({country}): {_CREATE_STATUS[code]} ({code})"
                )

    @property
    def url(self) -> str:
        """Base URL, without /v1, e.g. ``http://127.0.0.1:54321``."""
        if not self.port:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    def set_faults(self, faults: FaultPlan) -> None:
        """Swap the fault plan while serving; the generator restarts from the new seed."""
        with self._fault_lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def lists(self) -> list[SandboxList]:
        """The account's lists, oldest first."""
        return self._account.lists()

    def start(self) -> SandboxServer:
        """Listen and serve in a daemon thread; ConfigError when the address is unusable."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        try:
            httpd = _HTTPServer((self.host, self.port), self)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"sandbox cannot listen on {self.host}:{self.port}: {reason}"
            ) from exc
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"avosms-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (idle keep-alive ones included)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Used by the request handler.

    def draw(self, plan: FaultPlan, *, create: bool) -> tuple[Fault | None, int]:
        """The fault for this request (None: answer normally) and a number picking its variant."""
        with self._fault_lock:
            u = self._rng.random()
            shares = plan.shares() if create else ((Fault.HTTP_5XX, plan.http_5xx_rate),)
            for fault, rate in shares:
                if u < rate:
                    return fault, self._rng.randrange(1 << 30)
                u -= rate
            return None, 0

    def authorized(self, form: Mapping[str, str]) -> bool:
        expected = self._accounts.get(form.get("id", ""))
        return expected is not None and hmac.compare_digest(
            expected.encode(), form.get("key", "").encode()
        )

    def create(self, form: Mapping[str, str]) -> dict[str, str]:
        """Process a create request; the API's JSON answer."""
        if not self.authorized(form):
            return {"code": "ERR_100", "status": _CREATE_STATUS["ERR_100"]}
        code, created = self._account.create(
            form.get("listContactName", ""), form.get("listContactCountryCode", "")
        )
        if created is None:
            return {"code": code, "status": _CREATE_STATUS[code]}
        self.stats.count_created(name_key(created.name))
        return {"code": "OK", "status": "success", "list_contact_id": created.list_contact_id}

    def retrieve(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Process a retrieve-lists request; ERR_101 for an empty account, like sibling lists."""
        if not self.authorized(form):
            return {"code": "ERR_100", "status": _CREATE_STATUS["ERR_100"]}
        lists = self._account.lists()
        if not lists:
            return {"code": "ERR_101", "status": "no contact list found"}
        names = _country_names()
        return {
            "code": "OK",
            "status": "success",
            "list_contact": [
                {
                    "list_contact_id": x.list_contact_id,
                    "list_contact_name": x.name,
                    "list_contact_country_name": names[x.country_code],
                    "list_contact_country_code": x.country_code,
                    "nb_contact_list": "0",
                    "list_contact_creation_date": x.creation_date,
                }
                for x in lists
            ],
        }


class _HTTPServer(ThreadingHTTPServer):
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
    def httpd(self) -> _HTTPServer:
        return cast(_HTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        self.httpd.track(self.connection, opened=True)
        self.httpd.sandbox.stats.connection_opened()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.httpd.track(self.connection, opened=False)

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
        key = name_key(form.get("listContactName", "")) if path == CREATE_PATH else None
        throttled = sandbox.stats.arrive(path, key, plan.rate_limit, time.monotonic())
        try:
            self._answer(path, form, plan, throttled)
        finally:
            sandbox.stats.leave()

    def _answer(self, path: str, form: dict[str, str], plan: FaultPlan, throttled: bool) -> None:
        sandbox = self.httpd.sandbox
        if plan.latency:
            time.sleep(plan.latency)
        if plan.fail_everything:
            sandbox.stats.count_fault(Fault.FAIL_EVERYTHING)
            self._send_http_error(503)
            return
        if throttled:
            body = b"Too Many Requests"
            headers = {"Retry-After": plan.retry_after or "1"}
            self._send(429, body, "text/plain; charset=utf-8", "HTTP_429", extra=headers)
            return
        if path not in (CREATE_PATH, LIST_PATH):
            self._send_json(404, {"code": "ERR_404", "status": f"no endpoint {path}"})
            return
        fault, variant = sandbox.draw(plan, create=path == CREATE_PATH)
        if fault is not None:
            sandbox.stats.count_fault(fault)
        if fault is Fault.HTTP_5XX:
            self._send_http_error((500, 502, 503)[variant % 3])
        elif path == LIST_PATH:
            self._send_json(200, sandbox.retrieve(form))
        elif fault is None:
            self._send_json(200, sandbox.create(form))
        elif fault is Fault.ERROR_9XX:
            self._send_json(200, _error_9xx(variant))
        elif fault is Fault.TIMEOUT:
            time.sleep(plan.hang_seconds)
            page = _HTML_PAGE.format(title="504 Gateway Timeout").encode()
            self._send(504, page, "text/html; charset=utf-8", "HTTP_504")
        elif fault is Fault.DROP:
            self._drop()
        elif fault is Fault.LOST_ANSWER:
            sandbox.create(form)
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


def load_lists_file(path: Path | str) -> list[tuple[str, str]]:
    """Pre-existing lists for `sandbox --lists FILE`: a CSV of name,country (header optional)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    countries = _country_names()
    lists: list[tuple[str, str]] = []
    first_line: dict[str, int] = {}
    header_seen = False
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            where = f"{path} line {reader.line_num}"
            if len(cells) < 2:
                raise ConfigError(f"{where}: expected two columns, name,country")
            name, country = cells[0], cells[1].upper()
            if country not in countries:
                if not lists and not header_seen:
                    header_seen = True  # the first row names the columns
                    continue
                raise ConfigError(f"{where}: {cells[1]!r} is not an ISO 3166 alpha-2 code")
            header_seen = True
            if not name:
                raise ConfigError(f"{where}: empty list name")
            key = name_key(name)
            if key in first_line:
                raise ConfigError(f"{where}: list {name!r} already on line {first_line[key]}")
            first_line[key] = reader.line_num
            lists.append((name, country))
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: {exc}") from exc
    return lists


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultPlan | None = None,
    existing_lists: Iterable[tuple[str, str]] = (),
    ready: Callable[[str], None] | None = None,
    *,
    accounts: Mapping[str, str] | None = None,
    stop_event: threading.Event | None = None,
) -> dict[str, Any]:
    """Serve until Ctrl-C, SIGTERM or `stop_event`; the final counters (`stats.snapshot()`).

    `ready(url)` is called once the port is open (the CLI prints the URL and credentials).
    """
    server = SandboxServer(
        host, port, faults=faults, accounts=accounts, existing_lists=existing_lists
    )
    stop = stop_event or threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous: Any = None
    if in_main_thread:

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        server.start()
        if ready is not None:
            ready(server.url)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.2):
                pass
    finally:
        server.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return server.stats.snapshot()
