"""The API client against the sandbox on a real loopback port, plus a scripted stub server for
answers the sandbox does not give on demand (exact garbage, Retry-After dates, redirects)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer import errors
from importer.api.forms import form_body
from importer.client import AccountList, ApiUnavailable, AvoSmsClient, Credentials
from importer.replies import CreateAnswer, RetryPolicy, may_have_been_processed
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from importer.throttle import OutageBreaker, Throttle

SECRET = "s3cr3t-KEY-do-not-leak"
Answer = tuple[int, dict[str, str], bytes]


def no_sleep(seconds: float) -> None:
    """Retries without backoff waits (the throttle still waits for real)."""


def json_answer(document: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


class Stub:
    """A scripted AvoSMS: `script(n, path, form)` gives the n-th answer (n from 0)."""

    def __init__(self, script: Callable[[int, str, dict[str, str]], Answer]) -> None:
        self.script = script
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.answered: list[float] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                with stub._lock:
                    number = len(stub.requests)
                    stub.requests.append((time.monotonic(), self.path, form))
                status, headers, payload = stub.script(number, self.path, form)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with stub._lock:
                    stub.answered.append(time.monotonic())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Callable[[Callable[[int, str, dict[str, str]], Answer]], Stub]]:
    made: list[Stub] = []

    def make(script: Callable[[int, str, dict[str, str]], Answer]) -> Stub:
        made.append(Stub(script))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def client_for() -> Iterator[Callable[..., AvoSmsClient]]:
    made: list[AvoSmsClient] = []

    def make(url: str, key: str = DEMO_KEY, **options: Any) -> AvoSmsClient:
        options.setdefault("sleep", no_sleep)
        options.setdefault("timeout", 5)
        made.append(AvoSmsClient(url, Credentials(DEMO_ID, key), **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


# -- the sandbox --------------------------------------------------------------------------


def test_create_and_fetch_lists(
    sandbox: SandboxServer, client_for: Callable[..., AvoSmsClient]
) -> None:
    client = client_for(sandbox.url)
    assert client.fetch_lists() == []  # an empty account answers ERR_101
    answer = client.create_list("Clients Paris", "FR")
    assert answer == CreateAnswer("OK", "1001", "created", 1)
    taken = client.create_list("  clients paris", "FR")
    assert taken.code == "ERR_104" and taken.attempts == 1 and not taken.list_contact_id
    assert "not available" in taken.message
    (found,) = client.fetch_lists()
    assert isinstance(found, AccountList)
    assert (found.list_contact_id, found.name, found.country_code) == (
        "1001",
        "Clients Paris",
        "FR",
    )
    assert found.country_name and found.creation_date


@pytest.mark.parametrize(
    "name, country, code, words",
    [
        ("", "FR", "ERR_101", "name is empty"),
        ("Empty country", "", "ERR_102", "country code is empty"),
        ("Nowhere", "ZZ", "ERR_103", "no country"),
    ],
)
def test_row_verdicts_are_final(
    sandbox: SandboxServer,
    client_for: Callable[..., AvoSmsClient],
    name: str,
    country: str,
    code: str,
    words: str,
) -> None:
    answer = client_for(sandbox.url).create_list(name, country)
    assert (answer.code, answer.attempts, answer.list_contact_id) == (code, 1, "")
    assert words in answer.message
    assert sandbox.stats.requests_total == 1


def test_refused_credentials_stop_at_once_without_the_key(
    sandbox: SandboxServer, client_for: Callable[..., AvoSmsClient]
) -> None:
    client = client_for(sandbox.url, key=SECRET)
    with pytest.raises(errors.CredentialsRefused) as refused:
        client.create_list("A", "FR")
    assert str(refused.value) == f"the API refused the credentials (ERR_100) for id {DEMO_ID}"
    assert refused.value.exit_code == errors.ExitCode.STOPPED
    with pytest.raises(errors.CredentialsRefused):
        client.fetch_lists()
    assert sandbox.stats.requests_total == 2  # one each, never retried
    assert SECRET not in repr(client) + repr(Credentials(DEMO_ID, SECRET))


def test_existing_lists_come_back_with_string_ids(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(existing_lists=[("Lyon", "FR"), ("Berlin", "DE")]) as server:
        lists = client_for(server.url).fetch_lists()
    assert [(x.list_contact_id, x.name, x.country_code) for x in lists] == [
        ("1001", "Lyon", "FR"),
        ("1002", "Berlin", "DE"),
    ]


def test_processing_errors_are_retried_and_nothing_is_created_twice(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    faults = FaultPlan(error_9xx_rate=0.4, http_5xx_rate=0.2, seed=7)
    with SandboxServer(faults=faults) as server:
        client = client_for(server.url, retry=RetryPolicy(max_attempts=20))
        answers = [client.create_list(f"List {n}", "FR") for n in range(30)]
        created = server.stats.created
    assert {a.code for a in answers} == {"OK"}
    assert len({a.list_contact_id for a in answers}) == 30
    assert max(a.attempts for a in answers) > 1
    assert set(created.values()) == {1}


def test_an_outage_fails_after_the_last_attempt(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(faults=FaultPlan(fail_everything=True)) as server:
        client = client_for(server.url, retry=RetryPolicy(max_attempts=3))
        answer = client.create_list("A", "FR")
        with pytest.raises(ApiUnavailable) as unavailable:
            client.fetch_lists()
        total = server.stats.requests_total
    assert answer == CreateAnswer(
        "HTTP_503", "", "the API answered HTTP 503 Service Unavailable after 3 attempts", 3, 3
    )
    assert str(unavailable.value) == (
        "could not fetch the account's lists: "
        "the API answered HTTP 503 Service Unavailable after 3 attempts"
    )
    assert unavailable.value.exit_code == errors.ExitCode.STOPPED
    assert isinstance(unavailable.value, errors.RunStopped)
    assert total == 6


def test_timeouts_are_retried_then_reported(client_for: Callable[..., AvoSmsClient]) -> None:
    faults = FaultPlan(timeout_rate=1.0, hang_seconds=1.5)
    with SandboxServer(faults=faults) as server:
        client = client_for(server.url, timeout=0.3, retry=RetryPolicy(max_attempts=2))
        answer = client.create_list("Slow", "FR")
    assert answer == CreateAnswer(
        "TIMEOUT", "", "no answer within 0.3 s after 2 attempts", 2, uncertain=2, settle_delay=3.0
    )


def test_dropped_connections_are_retried_then_reported(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(faults=FaultPlan(drop_rate=1.0)) as server:
        answer = client_for(server.url, retry=RetryPolicy(max_attempts=3)).create_list("A", "FR")
        assert server.stats.create_requests["a"] == 3
    assert answer.code == "CONNECTION" and answer.attempts == 3
    assert answer.message.startswith("the connection failed (")
    assert answer.message.endswith(") after 3 attempts")


def test_an_attempt_may_have_been_processed_unless_refused_or_never_sent() -> None:
    for code in ("ERR_901", "HTTP_500", "HTTP_503", "TIMEOUT", "CONNECTION", "BAD_ANSWER"):
        assert may_have_been_processed(code), code
    for code in ("OK", "ERR_104", "ERR_103", "HTTP_429", "HTTP_404", "HTTP_408"):
        assert not may_have_been_processed(code), code
    assert not may_have_been_processed("CONNECTION", unreached=True)


def test_a_refused_connection_provably_never_reached_the_server(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer() as server:
        url = server.url
    # The sandbox is gone: its port refuses connections.
    answer = client_for(url, retry=RetryPolicy(max_attempts=2)).create_list("A", "FR")
    assert answer.code == "CONNECTION" and "connection refused" in answer.message
    assert answer.uncertain == 0


def test_dropped_connections_may_have_been_processed(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(faults=FaultPlan(drop_rate=1.0)) as server:
        answer = client_for(server.url, retry=RetryPolicy(max_attempts=2)).create_list("A", "FR")
    assert (answer.code, answer.uncertain, answer.settle_delay) == ("CONNECTION", 2, 0.0)


def test_garbled_answers_are_row_failures_never_crashes(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(faults=FaultPlan(garbage_rate=1.0, seed=3)) as server:
        client = client_for(server.url, retry=RetryPolicy(max_attempts=2))
        answers = [client.create_list(f"G{n}", "FR") for n in range(12)]
        assert server.stats.created.total() == 0
    assert {a.code for a in answers} == {"BAD_ANSWER"}
    assert all(a.attempts == 2 and a.message.startswith("the API answered") for a in answers)


def run_in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run ``work(worker_number)`` in ``count`` threads at once and wait for them all."""
    workers = [threading.Thread(target=work, args=(number,)) for number in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)


def test_workers_share_one_pool(client_for: Callable[..., AvoSmsClient]) -> None:
    with SandboxServer(faults=FaultPlan(latency=0.05)) as server:
        client = client_for(server.url, pool_size=16)
        answers: list[CreateAnswer] = []

        def work(worker: int) -> None:
            for n in range(4):
                answers.append(client.create_list(f"W{worker}-{n}", "FR"))

        run_in_threads(16, work)
        stats = server.stats
        assert len(answers) == 64 and {a.code for a in answers} == {"OK"}
        assert set(stats.created.values()) == {1}
        assert stats.max_in_flight > 1  # requests overlapped
        assert stats.connections <= 16  # kept alive and reused, never more than the pool


def test_the_rate_limit_holds_at_the_server(client_for: Callable[..., AvoSmsClient]) -> None:
    with SandboxServer() as server:
        client = client_for(server.url, limiter=Throttle(20), pool_size=8)

        def work(worker: int) -> None:
            for n in range(6):
                client.create_list(f"R{worker}-{n}", "FR")

        run_in_threads(8, work)
        assert server.stats.requests_total == 48
        assert server.stats.max_requests_per_second <= 21


def test_the_sandbox_rate_limit_slows_every_worker_down(
    client_for: Callable[..., AvoSmsClient],
) -> None:
    with SandboxServer(faults=FaultPlan(rate_limit=10)) as server:
        limiter = Throttle(20)
        client = client_for(server.url, limiter=limiter, retry=RetryPolicy(max_attempts=10))
        answers: list[CreateAnswer] = []

        def work(worker: int) -> None:
            for n in range(5):
                answers.append(client.create_list(f"T{worker}-{n}", "FR"))

        run_in_threads(4, work)
        assert server.stats.throttled > 0
        assert set(server.stats.created.values()) == {1}
    assert len(answers) == 20 and {a.code for a in answers} == {"OK"}
    assert limiter.current_rate < 20
    assert client.throttled_seconds > 0


# -- scripted answers -----------------------------------------------------------------------


HTML = (200, {"Content-Type": "text/html"}, b"<!doctype html><title>Maintenance</title>")


@pytest.mark.parametrize(
    "reply, words",
    [
        (HTML, "the API answered HTTP 200 OK with HTML instead of JSON"),
        (
            (200, {"Content-Type": "application/json"}, b'{"code": "OK", "list_contact_id": "10'),
            "truncated JSON",
        ),
        ((200, {}, b'{"code": "OK",'), "truncated JSON"),
        ((200, {}, b"Service temporarily unavailable"), "not valid JSON"),
        ((200, {}, b""), "an empty body"),
        ((200, {}, b'{"code": "\xff\xfe"}'), "not UTF-8"),
        ((200, {}, b"[" * 100_000), "nested too deeply"),
        (json_answer({"status": "success"}), 'with no "code"'),
        (json_answer({"code": "ERR_999X"}), "unknown code 'ERR_999X'"),
        (json_answer({"code": 42}), "unknown code '42'"),
        (json_answer({"code": "ERR_500"}), "unknown code 'ERR_500'"),
        (json_answer(["OK"]), "JSON that is not an object"),
        (json_answer({"code": "OK"}), "answered OK but gave no list_contact_id"),
    ],
)
def test_each_kind_of_garbage_says_what_was_wrong(
    stub: Callable[..., Stub],
    client_for: Callable[..., AvoSmsClient],
    reply: Answer,
    words: str,
) -> None:
    server = stub(lambda n, path, form: reply)
    answer = client_for(server.url, retry=RetryPolicy(max_attempts=2)).create_list("A", "FR")
    assert answer.code == "BAD_ANSWER"
    assert answer.attempts == 2  # a garbled answer may be transient: retried
    assert words in answer.message
    assert answer.message.endswith(" after 2 attempts")


@pytest.mark.parametrize("list_id", [1001, "1001", 1001.0, " 1001 "])
def test_list_ids_are_text_whatever_json_type(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient], list_id: object
) -> None:
    server = stub(lambda n, path, form: json_answer({"code": "OK", "list_contact_id": list_id}))
    assert client_for(server.url).create_list("A", "FR").list_contact_id == "1001"


def test_the_request_is_the_documented_form(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    server = stub(lambda n, path, form: json_answer({"code": "OK", "list_contact_id": 7}))
    client_for(server.url + "/", key=SECRET).create_list("Zoé & Co", "FR")
    ((_, path, form),) = server.requests
    assert path == "/v1/contact/list/create"
    assert form == {
        "id": DEMO_ID,
        "key": SECRET,
        "listContactName": "Zoé & Co",
        "listContactCountryCode": "FR",
    }


def test_lists_in_php_object_form_and_numeric_fields(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    lists = {
        "0": {"list_contact_id": 5, "list_contact_name": "A", "nb_contact_list": 12},
        "3": {
            "list_contact_id": "9",
            "list_contact_name": "B",
            "list_contact_country_code": "DE",
            "list_contact_country_name": "Germany",
            "list_contact_creation_date": "2024-01-15 10:00:00",
        },
    }
    server = stub(lambda n, path, form: json_answer({"code": "OK", "list_contact": lists}))
    first, second = client_for(server.url).fetch_lists()
    assert first == AccountList("5", "A", "", "", "12", "")
    assert second == AccountList("9", "B", "DE", "Germany", "", "2024-01-15 10:00:00")
    assert server.requests[0][1] == "/v1/contact/list"


@pytest.mark.parametrize(
    "document", [{"code": "OK"}, {"code": "OK", "list_contact": []}, {"code": "ERR_101"}]
)
def test_an_empty_account_has_no_lists(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient], document: object
) -> None:
    server = stub(lambda n, path, form: json_answer(document))
    assert client_for(server.url).fetch_lists() == []


def test_a_garbled_list_of_lists_is_retried_then_stops_the_run(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    broken = json_answer({"code": "OK", "list_contact": [{"list_contact_name": "no id"}]})
    server = stub(lambda n, path, form: broken)
    with pytest.raises(ApiUnavailable) as unavailable:
        client_for(server.url, retry=RetryPolicy(max_attempts=2)).fetch_lists()
    assert "has no list_contact_id after 2 attempts" in str(unavailable.value)
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "reply, code",
    [
        ((404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"), "HTTP_404"),
        ((307, {"Location": "http://elsewhere.example/"}, b""), "HTTP_307"),
        ((403, {}, b"Forbidden"), "HTTP_403"),
    ],
)
def test_other_http_errors_are_final_and_redirects_are_not_followed(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient], reply: Answer, code: str
) -> None:
    server = stub(lambda n, path, form: reply)
    answer = client_for(server.url).create_list("A", "FR")
    assert (answer.code, answer.attempts) == (code, 1)
    assert answer.message.startswith(f"the API answered HTTP {code[5:]}")
    assert len(server.requests) == 1


def test_an_api_code_in_an_http_error_is_read(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    server = stub(lambda n, path, form: json_answer({"code": "ERR_104"}, status=400))
    assert client_for(server.url).create_list("A", "FR").code == "ERR_104"


def throttled_once(retry_after: str) -> Callable[[int, str, dict[str, str]], Answer]:
    def script(n: int, path: str, form: dict[str, str]) -> Answer:
        if n == 0:
            return 429, {"Retry-After": retry_after}, b"Too Many Requests"
        return json_answer({"code": "OK", "list_contact_id": 1000 + n})

    return script


@pytest.mark.parametrize("header", ["1", "http-date"])
def test_retry_after_holds_back_every_worker(
    stub: Callable[..., Stub],
    client_for: Callable[..., AvoSmsClient],
    header: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if header == "http-date":
        header = formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s away
    server = stub(throttled_once(header))
    limiter = Throttle(10)
    client = client_for(server.url, limiter=limiter)
    first = threading.Thread(target=client.create_list, args=("A", "FR"))
    first.start()
    while not server.answered:
        time.sleep(0.01)
    others = [client.create_list(name, "FR") for name in ("B", "C")]  # another worker
    first.join(timeout=30)
    assert [a.code for a in others] == ["OK", "OK"]
    throttled_at = server.answered[0]
    assert all(arrived >= throttled_at + 0.95 for arrived, _, _ in server.requests[1:])
    assert len(server.requests) == 4
    assert limiter.current_rate < 10  # halved, growing back
    assert client.throttled_seconds >= 0.9
    assert "slow down" not in caplog.text  # a wait of a second or two is not worth a warning


def test_a_429_without_retry_after_is_retried_with_backoff(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    server = stub(
        lambda n, path, form: (
            (429, {}, b"") if n < 2 else json_answer({"code": "OK", "list_contact_id": 3})
        )
    )
    answer = client_for(server.url).create_list("A", "FR")
    assert (answer.code, answer.attempts) == ("OK", 3)


def test_a_burst_of_processing_errors_halves_the_rate(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    server = stub(
        lambda n, path, form: json_answer(
            {"code": "ERR_901"} if n < 3 else {"code": "OK", "list_contact_id": n}
        )
    )
    limiter = Throttle(100)
    client = client_for(server.url, limiter=limiter, clock=lambda: 5.0)
    answer = client.create_list("A", "FR")
    assert (answer.code, answer.attempts) == ("OK", 4)
    assert 50 <= limiter.current_rate < 100  # halved by the burst, then one success back


def test_the_breaker_stops_the_run_during_an_outage(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += 20  # each backoff wait lasts twenty (fake) seconds

    server = stub(lambda n, path, form: (503, {}, b"down"))
    breaker = OutageBreaker(30, clock=lambda: now[0])
    client = client_for(server.url, breaker=breaker, sleep=sleep)
    with pytest.raises(errors.OutageDetected) as outage:
        client.create_list("A", "FR")
    assert "max_outage" in str(outage.value) and "HTTP_503" in str(outage.value)
    assert outage.value.exit_code == errors.ExitCode.STOPPED
    # Failed at 0, 20 and 40 s: the third failure puts the outage past 30 s; no fourth request.
    assert len(server.requests) == 3
    with pytest.raises(errors.OutageDetected):
        client.create_list("B", "FR")
    assert len(server.requests) == 3


def test_a_stop_request_ends_retries_and_sends_nothing_new(
    stub: Callable[..., Stub], client_for: Callable[..., AvoSmsClient]
) -> None:
    stop = threading.Event()
    server = stub(lambda n, path, form: (503, {}, b"down"))
    client = client_for(server.url, stop=stop, sleep=lambda seconds: stop.set())
    answer = client.create_list("A", "FR")
    assert (answer.code, answer.attempts) == ("HTTP_503", 1)
    assert answer.message.endswith("after 1 attempt (the run was stopping)")
    with pytest.raises(errors.Interrupted):
        client.create_list("B", "FR")
    assert len(server.requests) == 1


def test_the_default_backoff_wait_is_cut_short_by_stop(
    stub: Callable[..., Stub],
) -> None:
    stop = threading.Event()
    server = stub(lambda n, path, form: (503, {}, b"down"))
    policy = RetryPolicy(backoff_initial=60, backoff_max=60)
    with AvoSmsClient(server.url, Credentials(DEMO_ID, DEMO_KEY), retry=policy, stop=stop) as c:
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        answer = c.create_list("A", "FR")
    assert answer.code == "HTTP_503"
    assert time.monotonic() - started < 30


def test_the_key_never_shows_in_logs_messages_or_reprs(
    stub: Callable[..., Stub],
    client_for: Callable[..., AvoSmsClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    replies = [
        json_answer({"code": "ERR_903"}),
        (500, {}, SECRET.encode()),  # even a server echoing the key back
        HTML,
        json_answer({"code": SECRET}),
        json_answer({"code": "ERR_100"}),
    ]
    server = stub(lambda n, path, form: replies[min(n, len(replies) - 1)])
    client = client_for(server.url, key=SECRET, retry=RetryPolicy(max_attempts=4))
    seen = [repr(client), repr(Credentials(DEMO_ID, SECRET)), str(client.create_list("A", "FR"))]
    with pytest.raises(errors.CredentialsRefused) as refused:
        client.create_list("B", "FR")
    seen.append(str(refused.value))
    seen.append(caplog.text)
    assert "retrying" in caplog.text
    assert all(SECRET not in text for text in seen)
    assert all(SECRET not in message for message in caplog.messages)


def test_a_refusal_never_names_an_id_that_holds_the_key(stub: Callable[..., Stub]) -> None:
    server = stub(lambda n, path, form: json_answer({"code": "ERR_100"}))
    client = AvoSmsClient(server.url, Credentials(SECRET, SECRET), sleep=no_sleep)
    with client, pytest.raises(errors.CredentialsRefused) as refused:
        client.fetch_lists()
    assert SECRET not in str(refused.value)
    assert str(refused.value).startswith("the API refused the credentials (ERR_100)")


def test_retry_policy_is_data() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff_initial, policy.backoff_max) == (5, 0.5, 30.0)
    for code in ("ERR_901", "ERR_999", "HTTP_500", "HTTP_503", "HTTP_429", "TIMEOUT"):
        assert policy.retries(code), code
    for code in ("CONNECTION", "BAD_ANSWER"):
        assert policy.retries(code), code
    for code in ("OK", "ERR_100", "ERR_101", "ERR_104", "HTTP_404", "HTTP_307"):
        assert not policy.retries(code), code
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from(["", "id=demo%40example.com&key=k%2By"]),
    fields=st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=4),
)
def test_a_form_body_is_what_urlencode_writes(head: str, fields: dict[str, str]) -> None:
    """The client's encoding (names encoded once, values each time) is `urlencode`'s."""
    expected = "&".join(filter(None, (head, urlencode(fields))))
    assert form_body(head, fields) == expected
    assert parse_qsl(form_body("", fields), keep_blank_values=True) == list(fields.items())
