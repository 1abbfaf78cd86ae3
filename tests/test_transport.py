"""The HTTP transport: one deadline per request, proxies never in clear, kept-alive connections.

Real sockets on loopback throughout: the sandbox, a server that trickles its answer, and a
"proxy" that records every byte it is sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from importer import errors
from importer.client import AvoSmsClient, Credentials
from importer.proxy import bypasses_proxy, proxy_for
from importer.replies import RetryPolicy
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from importer.transport import Transport, TransportError
from tests.conftest import read_results, write_csv

FORM = b"id=demo%40example.com&key=demo-key-0000&listContactName=Paris&listContactCountryCode=FR"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


class LoopbackServer:
    """A TCP listener on loopback; `serve(connection)` runs in a thread per connection."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._serve = serve
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            self._serve(connection)

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=2)
        self._listener.close()


class Recorder(LoopbackServer):
    """A "proxy" that records what it is sent; answers `reply` once a request's head is in."""

    def __init__(self, reply: bytes = b"") -> None:
        self.received = b""
        self._reply = reply
        super().__init__(self._record)

    def _record(self, connection: socket.socket) -> None:
        connection.settimeout(2)
        while b"\r\n\r\n" not in self.received:
            chunk = connection.recv(4096)
            if not chunk:
                return
            self.received += chunk
        connection.sendall(self._reply)


def trickle(head: bytes, body: bytes, interval: float) -> Callable[[socket.socket], None]:
    """An HTTP server that sends `head` at once, then `body` one byte every `interval` s."""

    def serve(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(head)
        for byte in body:
            time.sleep(interval)
            connection.sendall(bytes([byte]))

    return serve


@pytest.fixture
def servers() -> Iterator[list[LoopbackServer]]:
    made: list[LoopbackServer] = []
    yield made
    for server in made:
        server.close()


# -- --timeout bounds the whole request ------------------------------------------------------

ANSWER = b'{"code": "OK", "status": "success", "list_contact_id": "1001"}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
    ANSWER
)


@pytest.mark.parametrize(
    ("head", "body"),
    [(b"", HEAD + ANSWER), (HEAD, ANSWER)],
    ids=["headers trickle", "body trickles"],
)
def test_an_answer_trickling_in_is_cut_at_the_timeout(servers, head, body) -> None:
    """Each byte arrives well within the timeout, but the answer as a whole would take 10 s+."""
    server = LoopbackServer(trickle(head, body, interval=0.1))
    servers.append(server)
    transport = Transport(server.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TransportError) as failure:
        transport.post_form("/v1/contact/list/create", FORM)
    elapsed = time.monotonic() - started
    assert failure.value.timed_out and not failure.value.unreached
    assert failure.value.reason == "no answer within 1 s"
    assert elapsed < 3  # the trickle alone would take over 10 s: the deadline cut it


def test_the_client_reports_a_trickling_answer_as_a_timeout(servers) -> None:
    server = LoopbackServer(trickle(b"", HEAD + ANSWER, interval=0.1))
    servers.append(server)
    client = AvoSmsClient(
        server.url, Credentials(DEMO_ID, DEMO_KEY), timeout=0.5, retry=RetryPolicy(max_attempts=1)
    )
    with client:
        answer = client.create_list("Paris", "FR")
    assert (answer.code, answer.message) == ("TIMEOUT", "no answer within 0.5 s after 1 attempt")


def test_an_answer_within_the_timeout_is_read_whatever_its_pace(servers) -> None:
    server = LoopbackServer(trickle(HEAD, ANSWER, interval=0.002))
    servers.append(server)
    answer = Transport(server.url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert (answer.status, answer.body) == (200, ANSWER)


# -- proxies -----------------------------------------------------------------------------------


@pytest.fixture
def proxy(servers, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every proxy variable points at a recorder that must receive nothing."""
    recorder = Recorder(reply=b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
    servers.append(recorder)
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, recorder.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return recorder


def test_a_run_to_loopback_never_goes_through_the_proxy(cli, api_env, proxy, tmp_path) -> None:
    source = write_csv(tmp_path / "lists.csv", [("Paris", "FR"), ("Lyon", "FR")])
    result = cli("run", source, "-o", tmp_path / "out.csv", "--state", tmp_path / "s.db")
    assert result.exit_code == 0, result.stderr
    assert [row["outcome"] for row in read_results(tmp_path / "out.csv")] == ["created"] * 2
    assert proxy.connections == 0 and proxy.received == b""


def test_the_built_in_sandbox_works_behind_a_proxy_nobody_listens_on(
    cli, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again before the run
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, nowhere)
    source = write_csv(tmp_path / "lists.csv", [("Paris", "FR")])
    job = tmp_path / "job.yaml"
    job.write_text(f"input: {source.name}\nbase_url: sandbox\noutput: out.csv\n")
    result = cli("run", "--job", job, "--state", tmp_path / "s.db")
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "out.csv")[0]["outcome"] == "created"


REFUSED = "407 Proxy Authentication Required"


def test_https_goes_through_the_proxy_as_an_encrypted_tunnel(servers) -> None:
    """The proxy is asked for a tunnel (CONNECT) and sees nothing else: no form, no key."""
    recorder = Recorder(reply=f"HTTP/1.1 {REFUSED}\r\n\r\n".encode())
    servers.append(recorder)
    environ = {"HTTPS_PROXY": f"http://user:p%40ss@127.0.0.1:{recorder.port}"}
    transport = Transport("https://api.avosms.test:8443/v1", timeout=5, environ=environ)
    with pytest.raises(TransportError) as failure:
        transport.post_form("/v1/contact/list/create", FORM)
    assert failure.value.unreached  # the request never left: it cannot have been processed
    assert failure.value.reason == f"the proxy refused the tunnel ({REFUSED})"
    head = recorder.received.decode()
    assert head.startswith("CONNECT api.avosms.test:8443 HTTP/1.")  # 1.0 before Python 3.12
    assert "\r\nHost: api.avosms.test:8443\r\n" in head
    assert "Proxy-Authorization: Basic dXNlcjpwQHNz\r\n" in head  # user:p@ss
    assert "demo-key" not in head and "listContactName" not in head
    assert "p%40ss" not in repr(transport) and "dXNlcjpwQHNz" not in repr(transport)


def test_a_proxy_nobody_listens_on_is_named_in_the_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {"HTTPS_PROXY": f"http://127.0.0.1:{port}"}
    transport = Transport("https://api.avosms.test/v1", timeout=5, environ=environ)
    with pytest.raises(TransportError) as failure:
        transport.post_form("/v1/contact/list/create", FORM)
    assert failure.value.unreached
    assert failure.value.reason == f"connection refused, through the proxy 127.0.0.1:{port}"


def test_a_proxy_trickling_its_answer_to_the_tunnel_is_cut_at_the_timeout(servers) -> None:
    proxy = LoopbackServer(trickle(b"", b"HTTP/1.1 200 Connection established\r\n\r\n", 0.1))
    servers.append(proxy)
    environ = {"HTTPS_PROXY": proxy.url}
    transport = Transport("https://api.avosms.test", timeout=1.0, environ=environ)
    started = time.monotonic()
    with pytest.raises(TransportError) as failure:
        transport.post_form("/v1/contact/list/create", FORM)
    assert time.monotonic() - started < 3
    assert failure.value.reason.startswith("no connection within 1 s, through the proxy 127.0.0.1:")
    assert failure.value.timed_out and failure.value.unreached


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("http://127.0.0.1:8765", {"HTTP_PROXY": "http://p:3128", "ALL_PROXY": "http://p:1"}, None),
        ("http://localhost:8765", {"http_proxy": "http://p:3128"}, None),
        ("https://127.0.0.1:8443", {"HTTPS_PROXY": "http://p:3128"}, None),
        ("https://[::1]:8443", {"ALL_PROXY": "http://p:3128"}, None),
        ("https://api.avosms.com", {}, None),
        ("https://api.avosms.com", {"HTTP_PROXY": "http://p:3128"}, None),
        ("https://api.avosms.com", {"HTTPS_PROXY": "http://p:3128"}, ("p", 3128)),
        ("https://api.avosms.com", {"https_proxy": "p:8080", "HTTPS_PROXY": "q:1"}, ("p", 8080)),
        ("https://api.avosms.com", {"ALL_PROXY": "http://p"}, ("p", 80)),
        (
            "https://api.avosms.com",
            {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "avosms.com"},
            None,
        ),
        ("https://api.avosms.com", {"HTTPS_PROXY": "http://p:3128", "no_proxy": "*"}, None),
        (
            "https://api.avosms.com",
            {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.com"},
            ("p", 3128),
        ),
    ],
)
def test_which_requests_use_a_proxy(url, environ, expected) -> None:
    proxy = proxy_for(url, environ)
    assert (None if proxy is None else (proxy.host, proxy.port)) == expected


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypassed"),
    [
        ("api.avosms.com", 443, "avosms.com", True),
        ("api.avosms.com", 443, ".avosms.com", True),
        ("api.avosms.com", 443, "*.avosms.com", True),
        ("API.AvoSMS.com", 443, "avosms.COM", True),
        ("api.avosms.com", 443, "other.com, avosms.com", True),
        ("api.avosms.com", 443, "notavosms.com", False),
        ("api.avosms.com", 443, "api.avosms.com:443", True),
        ("api.avosms.com", 443, "api.avosms.com:8443", False),
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("10.1.2.3", 443, "192.168.0.0/16", False),
        ("api.avosms.com", 443, "", False),
    ],
)
def test_no_proxy_entries(host, port, no_proxy, bypassed) -> None:
    assert bypasses_proxy(host, port, no_proxy) is bypassed


@pytest.mark.parametrize("value", ["socks5://p:1080", "https://p:3128"])
def test_a_proxy_that_cannot_relay_a_tunnel_is_refused_in_one_line(value) -> None:
    with pytest.raises(errors.ConfigError, match="only http:// proxies are supported"):
        Transport("https://api.avosms.com", timeout=5, environ={"HTTPS_PROXY": value})


# -- what a failure says about the request's fate -------------------------------------------


def test_a_refused_connection_provably_never_reached_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TransportError) as failure:
        Transport(url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert (failure.value.reason, failure.value.unreached) == ("connection refused", True)


def test_a_name_lookup_that_never_ends_is_cut_at_the_timeout(monkeypatch) -> None:
    # A resolver that never answers cannot be set up on loopback; the lookup is the one thing
    # stood in for here.
    real_lookup = socket.getaddrinfo

    def silent_resolver(host, *args, **kwargs):
        if host == "api.example.test":
            time.sleep(3)
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    started = time.monotonic()
    with pytest.raises(TransportError) as failure:
        Transport("http://api.example.test", timeout=0.5).post_form("/v1/contact/list", FORM)
    assert time.monotonic() - started < 2.5
    assert failure.value.timed_out and failure.value.unreached
    assert failure.value.reason == "no connection within 0.5 s"


def test_a_connection_dropped_after_the_request_may_have_been_processed() -> None:
    with (
        SandboxServer(faults=FaultPlan(drop_rate=1.0)) as server,
        pytest.raises(TransportError) as failure,
    ):
        Transport(server.url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert failure.value.reason == "the server closed the connection without answering"
    assert not failure.value.unreached and not failure.value.timed_out


# -- kept-alive connections --------------------------------------------------------------------


def test_requests_share_kept_alive_connections(tmp_path: Path) -> None:
    with SandboxServer() as server:
        transport = Transport(server.url, timeout=5)
        for number in range(5):
            form = FORM.replace(b"Paris", b"Paris%d" % number)
            assert transport.post_form("/v1/contact/list/create", form).status == 200
        assert server.stats.connections == 1
        transport.close()


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    with SandboxServer() as server:
        transport = Transport(server.url, timeout=5)
        assert transport.post_form("/v1/contact/list/create", FORM).status == 200
        server.stop()  # closes every open connection, the idle one in our pool included
        server.start()
        answer = transport.post_form("/v1/contact/list/create", FORM.replace(b"Paris", b"Lyon"))
        assert answer.status == 200
        assert server.stats.connections == 2
        transport.close()


# -- how answers are framed ---------------------------------------------------------------------


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(
    b"%x\r\n%s\r\n" % (len(part), part) for part in (ANSWER[:16], ANSWER[16:], b"")
)
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + ANSWER
CLOSING = HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + ANSWER


def answering(raw: bytes, *, then_close: bool = False) -> Callable[[socket.socket], None]:
    """A server that answers every request on a connection with `raw` (then closes, if told)."""

    def serve(connection: socket.socket) -> None:
        while connection.recv(65536):
            connection.sendall(raw)
            if then_close:
                return

    return serve


@pytest.mark.parametrize(
    ("raw", "body", "connections"),
    [
        (HEAD + ANSWER, ANSWER, 1),
        (CHUNKED, ANSWER, 1),
        (UNTIL_CLOSE, ANSWER, 2),
        (CLOSING, ANSWER, 2),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", 1),
    ],
    ids=["content-length", "chunked", "until the connection closes", "connection: close", "204"],
)
def test_answers_are_read_to_their_end_and_connections_kept_only_when_they_can_be(
    servers, raw, body, connections
) -> None:
    server = LoopbackServer(answering(raw, then_close=connections == 2))
    servers.append(server)
    transport = Transport(server.url, timeout=5)
    for _ in range(2):
        answer = transport.post_form("/v1/contact/list/create", FORM)
        assert (answer.status, answer.body) == (int(raw.split()[1]), body)
    assert server.connections == connections
    transport.close()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the server closed the connection without answering"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "the answer was not valid HTTP"),
        (HEAD + ANSWER[:10], "the answer was cut off"),
        (HEAD[:20], "the answer was cut off"),
        (HEAD[:-2], "the answer was cut off"),
        (b"HTTP/1.1 2", "the answer was cut off"),
        (b"HTTP/1.1 103 Early Hints\r\n\r\n", "the answer was an interim 103 only"),
    ],
    ids=[
        "nothing",
        "not HTTP",
        "body cut off",
        "head cut off",
        "head cut after a line",
        "status cut off",
        "interim only",
    ],
)
def test_broken_answers_say_what_was_wrong(servers, raw, reason) -> None:
    def serve(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(raw)

    server = LoopbackServer(serve)
    servers.append(server)
    with pytest.raises(TransportError) as failure:
        Transport(server.url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert failure.value.reason == reason
    assert not failure.value.unreached  # the request was sent: it may have been processed


def test_headers_are_read_whatever_their_case(servers) -> None:
    raw = b"HTTP/1.1 429 Too Many\r\nRETRY-AFTER: 7\r\ncontent-length: 0\r\n\r\n"
    server = LoopbackServer(answering(raw))
    servers.append(server)
    answer = Transport(server.url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert (answer.status, answer.headers["retry-after"]) == (429, "7")


@pytest.mark.parametrize("raw", [HEAD + ANSWER, UNTIL_CLOSE], ids=["content-length", "until close"])
def test_an_answer_over_the_size_limit_is_not_kept(servers, monkeypatch, raw) -> None:
    monkeypatch.setattr("importer.transport.MAX_ANSWER_BYTES", len(ANSWER) - 1)
    server = LoopbackServer(answering(raw))
    servers.append(server)
    answer = Transport(server.url, timeout=5).post_form("/v1/contact/list/create", FORM)
    assert (answer.status, answer.body) == (200, None)
