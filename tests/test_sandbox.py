"""The sandbox over real HTTP on a loopback port: the API's answers, its faults, its counters."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from importer.errors import ConfigError
from importer.sandbox import (
    CREATE_PATH,
    DEMO_ID,
    DEMO_KEY,
    LIST_PATH,
    FaultPlan,
    SandboxServer,
    load_lists_file,
    run_sandbox,
)

ROOT = Path(__file__).resolve().parent.parent
ERR_9XX = re.compile(r"ERR_9\d\d")


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def create(
    http: requests.Session,
    server: SandboxServer,
    name: str,
    country: str = "FR",
    *,
    key: str = DEMO_KEY,
    timeout: float = 10,
) -> requests.Response:
    form = {"id": DEMO_ID, "key": key, "listContactName": name, "listContactCountryCode": country}
    return http.post(server.url + CREATE_PATH, data=form, timeout=timeout)


def fetch(
    http: requests.Session, server: SandboxServer, *, key: str = DEMO_KEY
) -> requests.Response:
    return http.post(server.url + LIST_PATH, data={"id": DEMO_ID, "key": key}, timeout=10)


def faulty(**plan: Any) -> SandboxServer:
    return SandboxServer(faults=FaultPlan(**plan)).start()


# --------------------------------------------------------------------------- the API


def test_create_answers_ok_with_sequential_ids(
    server: SandboxServer, http: requests.Session
) -> None:
    answers = [create(http, server, name).json() for name in ("Paris", "Lyon", "Nice")]
    assert [a["code"] for a in answers] == ["OK"] * 3
    assert [a["list_contact_id"] for a in answers] == ["1001", "1002", "1003"]
    assert all("status" in a for a in answers)
    assert server.stats.created == {"paris": 1, "lyon": 1, "nice": 1}
    assert server.stats.lists["1002"] == ("Lyon", "FR")


def test_answers_are_json_with_content_length(
    server: SandboxServer, http: requests.Session
) -> None:
    response = create(http, server, "Paris")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Content-Length"]) == len(response.content)


@pytest.mark.parametrize(
    ("name", "country", "code"),
    [
        ("", "FR", "ERR_101"),
        ("   ", "FR", "ERR_101"),
        ("Paris", "", "ERR_102"),
        ("Paris", "  ", "ERR_102"),
        ("Paris", "XX", "ERR_103"),
        ("Paris", "FRA", "ERR_103"),
        ("Paris", "France", "ERR_103"),
    ],
)
def test_documented_error_codes(
    server: SandboxServer, http: requests.Session, name: str, country: str, code: str
) -> None:
    answer = create(http, server, name, country).json()
    assert answer["code"] == code
    assert answer["status"]
    assert "list_contact_id" not in answer
    assert server.stats.created == {}
    assert server.stats.lists == {}


def test_lower_case_iso2_is_accepted_and_stored_upper(
    server: SandboxServer, http: requests.Session
) -> None:
    assert create(http, server, "Windhoek", "na").json()["code"] == "OK"
    assert server.stats.lists == {"1001": ("Windhoek", "NA")}


@pytest.mark.parametrize("again", ["paris", " PARIS ", "Paris", "pArIs\t"])
def test_names_are_unique_ignoring_case_and_outer_spaces(
    server: SandboxServer, http: requests.Session, again: str
) -> None:
    assert create(http, server, "Paris").json()["code"] == "OK"
    assert create(http, server, again, "DE").json()["code"] == "ERR_104"
    assert server.stats.create_requests == {"paris": 2}
    assert server.stats.created == {"paris": 1}


def test_uniqueness_uses_casefold(server: SandboxServer, http: requests.Session) -> None:
    assert create(http, server, "Straße", "DE").json()["code"] == "OK"
    assert create(http, server, "STRASSE", "DE").json()["code"] == "ERR_104"


def test_unicode_names_round_trip(server: SandboxServer, http: requests.Session) -> None:
    assert create(http, server, "Clients Zürich – été", "CH").json()["code"] == "OK"
    lists = fetch(http, server).json()["list_contact"]
    assert lists[0]["list_contact_name"] == "Clients Zürich – été"


@pytest.mark.parametrize(
    "form",
    [
        {"id": DEMO_ID, "key": "wrong"},
        {"id": "someone@example.com", "key": DEMO_KEY},
        {"id": DEMO_ID},
        {},
    ],
)
@pytest.mark.parametrize("path", [CREATE_PATH, LIST_PATH])
def test_unknown_credentials_answer_err_100(
    server: SandboxServer, http: requests.Session, form: dict[str, str], path: str
) -> None:
    form = {**form, "listContactName": "Paris", "listContactCountryCode": "FR"}
    answer = http.post(server.url + path, data=form, timeout=10).json()
    assert answer["code"] == "ERR_100"
    assert server.stats.created == {}


def test_other_accounts_can_be_configured(http: requests.Session) -> None:
    with SandboxServer(accounts={"ops@example.com": "s3cret"}) as server:
        form = {"id": "ops@example.com", "key": "s3cret"}
        assert http.post(server.url + LIST_PATH, data=form).json()["code"] == "ERR_101"
        assert fetch(http, server).json()["code"] == "ERR_100"


def test_empty_account_answers_err_101(server: SandboxServer, http: requests.Session) -> None:
    assert fetch(http, server).json()["code"] == "ERR_101"
    assert server.stats.list_requests == 1


def test_retrieve_gives_every_documented_field(
    server: SandboxServer, http: requests.Session
) -> None:
    create(http, server, "Berlin", "DE")
    answer = fetch(http, server).json()
    assert answer["code"] == "OK"
    (entry,) = answer["list_contact"]
    assert entry["list_contact_id"] == "1001"
    assert entry["list_contact_name"] == "Berlin"
    assert entry["list_contact_country_code"] == "DE"
    assert entry["list_contact_country_name"] == "Germany"
    assert entry["nb_contact_list"] == "0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["list_contact_creation_date"])


def test_preloaded_lists_exist_from_the_start(http: requests.Session) -> None:
    existing = [("Existing", "de"), ("Clients Paris", "FR")]
    with SandboxServer(existing_lists=existing) as server:
        lists = fetch(http, server).json()["list_contact"]
        assert [(x["list_contact_id"], x["list_contact_name"]) for x in lists] == [
            ("1001", "Existing"),
            ("1002", "Clients Paris"),
        ]
        assert lists[0]["list_contact_country_code"] == "DE"
        assert create(http, server, "clients paris").json()["code"] == "ERR_104"
        assert create(http, server, "New").json()["list_contact_id"] == "1003"
        assert server.stats.created == {"new": 1}


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ([("", "FR")], "list name empty"),
        ([("A", "ZZ")], "no country matches"),
        ([("A", "FR"), ("a", "DE")], "list name not available"),
    ],
)
def test_invalid_preloaded_lists_are_refused(existing: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SandboxServer(existing_lists=existing)


def test_unknown_path_is_a_json_404(server: SandboxServer, http: requests.Session) -> None:
    response = http.post(server.url + "/v1/contact/nothing", data={"id": DEMO_ID}, timeout=10)
    assert response.status_code == 404
    assert response.json()["code"] == "ERR_404"
    assert http.get(server.url + LIST_PATH, timeout=10).status_code == 405
    assert server.stats.requests_total == 2


def test_the_key_is_never_echoed(server: SandboxServer, http: requests.Session) -> None:
    texts = [create(http, server, "A").text, fetch(http, server).text]
    texts.append(create(http, server, "B", key="not-the-key").text)
    assert not any(DEMO_KEY in text or "not-the-key" in text for text in texts)


# --------------------------------------------------------------------------- HTTP plumbing


def test_one_session_reuses_one_connection(server: SandboxServer, http: requests.Session) -> None:
    for i in range(20):
        assert create(http, server, f"list {i}").json()["code"] == "OK"
    assert fetch(http, server).json()["code"] == "OK"
    assert server.stats.requests_total == 21
    assert server.stats.connections == 1


def test_error_answers_keep_the_connection(server: SandboxServer, http: requests.Session) -> None:
    create(http, server, "")
    create(http, server, "A", "XX")
    http.post(server.url + "/nope", timeout=10)
    create(http, server, "A")
    assert server.stats.connections == 1


def test_stop_closes_idle_connections_and_start_serves_again(http: requests.Session) -> None:
    server = SandboxServer().start()
    url = server.url
    assert create(http, server, "Kept").json()["code"] == "OK"
    server.stop()
    with pytest.raises(requests.ConnectionError):
        create(http, server, "Lost", timeout=2)
    server.start()
    try:
        assert server.url == url
        assert create(http, server, "kept").json()["code"] == "ERR_104"
    finally:
        server.stop()


def test_url_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError):
        _ = SandboxServer().url


def test_a_busy_port_is_a_config_error(server: SandboxServer) -> None:
    with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1"):
        SandboxServer(port=server.port).start()


# --------------------------------------------------------------------------- faults


def test_fault_plan_is_validated() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        FaultPlan(error_9xx_rate=1.5)
    with pytest.raises(ConfigError, match=r"add up to 1\.2"):
        FaultPlan(error_9xx_rate=0.6, drop_rate=0.6)
    with pytest.raises(ConfigError, match="latency"):
        FaultPlan(latency=-1)
    assert FaultPlan(error_9xx_rate=0.3, http_5xx_rate=0.1, timeout_rate=0.05, drop_rate=0.05,
                     lost_answer_rate=0.1, garbage_rate=0.4)  # fmt: skip


def test_error_9xx_creates_nothing(http: requests.Session) -> None:
    with faulty(error_9xx_rate=1.0) as server:
        codes = [create(http, server, f"n{i}").json()["code"] for i in range(10)]
        assert all(ERR_9XX.fullmatch(code) for code in codes)
        assert len(set(codes)) > 1  # XX varies
        assert server.stats.created == {}
        assert server.stats.faults == {"error_9xx": 10}


def test_http_5xx_creates_nothing(http: requests.Session) -> None:
    with faulty(http_5xx_rate=1.0) as server:
        statuses = {create(http, server, f"n{i}").status_code for i in range(12)}
        assert statuses <= {500, 502, 503}
        assert len(statuses) > 1
        assert server.stats.created == {}
        assert server.stats.connections == 1  # 5xx answers keep the connection


def test_timeout_hangs_and_creates_nothing(http: requests.Session) -> None:
    with faulty(timeout_rate=1.0, hang_seconds=2) as server:
        with pytest.raises(requests.Timeout):
            create(http, server, "Slow", timeout=0.3)
        assert server.stats.faults == {"timeout": 1}
        assert server.stats.created == {}
    with faulty(timeout_rate=1.0, hang_seconds=0.1) as server:
        # A patient client gets a gateway timeout, never a false OK.
        assert create(http, server, "Slow").status_code == 504
        assert server.stats.lists == {}


def test_drop_closes_without_answer_and_creates_nothing(http: requests.Session) -> None:
    with faulty(drop_rate=1.0) as server:
        for i in range(3):
            with pytest.raises(requests.ConnectionError):
                create(http, server, f"n{i}")
        assert server.stats.created == {}
        assert server.stats.faults == {"drop": 3}
        assert server.stats.connections == 3


def test_lost_answer_creates_the_list_then_loses_the_answer(http: requests.Session) -> None:
    with faulty(lost_answer_rate=1.0, seed=3) as server:
        seen = []
        for i in range(12):
            try:
                seen.append(create(http, server, f"n{i}").json()["code"])
            except requests.ConnectionError:
                seen.append("DROP")
        assert "DROP" in seen
        assert any(ERR_9XX.fullmatch(code) for code in seen)
        assert set(seen) - {"DROP"} == {c for c in seen if ERR_9XX.fullmatch(c)}
        assert server.stats.created == {f"n{i}": 1 for i in range(12)}
        server.set_faults(FaultPlan())
        # The retry a client makes after a lost answer: the name is now taken.
        assert create(http, server, "n0").json()["code"] == "ERR_104"
        assert len(fetch(http, server).json()["list_contact"]) == 12


def classify(response: requests.Response) -> str:
    if response.headers["Content-Type"].startswith("text/html"):
        return "html"
    try:
        answer = response.json()
    except ValueError:
        return "truncated"
    return answer.get("code", "no code")


def test_garbage_answers_create_nothing(http: requests.Session) -> None:
    with faulty(garbage_rate=1.0, seed=1) as server:
        kinds = {classify(create(http, server, f"n{i}")) for i in range(30)}
        assert kinds == {"html", "truncated", "no code", "ERR_999X"}
        assert server.stats.created == {}
        assert server.stats.connections == 1


def test_fail_everything_answers_503_everywhere(http: requests.Session) -> None:
    with faulty(fail_everything=True) as server:
        assert create(http, server, "A").status_code == 503
        assert fetch(http, server).status_code == 503
        assert server.stats.faults == {"fail_everything": 2}
        server.set_faults(FaultPlan())
        assert create(http, server, "A").json()["code"] == "OK"


def test_rate_limit_answers_429_with_retry_after(http: requests.Session) -> None:
    with faulty(rate_limit=5, retry_after="2") as server:
        responses = [create(http, server, f"n{i}") for i in range(10)]
        statuses = [r.status_code for r in responses]
        assert statuses[:5] == [200] * 5  # the first five always fit in the window
        throttled = [r for r in responses if r.status_code == 429]
        assert throttled  # ten local requests take far less than a second
        assert {r.headers["Retry-After"] for r in throttled} == {"2"}
        assert server.stats.throttled == len(throttled)
        assert server.stats.created.total() == 10 - len(throttled)
        assert server.stats.max_requests_per_second >= 6
        assert server.stats.connections == 1


def test_rate_limit_default_retry_after_and_list_endpoint(http: requests.Session) -> None:
    with faulty(rate_limit=1) as server:
        assert fetch(http, server).status_code == 200
        response = fetch(http, server)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"


def test_latency_delays_every_answer(http: requests.Session) -> None:
    with faulty(latency=0.2) as server:
        started = time.monotonic()
        create(http, server, "A")
        fetch(http, server)
        assert time.monotonic() - started >= 0.4


def test_latency_counts_from_the_request_line_not_from_the_last_byte() -> None:
    """A request whose form arrives late is answered `latency` after its request line: the
    time the sandbox spends reading and parsing is inside the latency, not added to it."""
    body = b"id=demo%40example.com&key=demo-key-0000&listContactName=Late&listContactCountryCode=FR"
    with (
        faulty(latency=1.0) as server,
        socket.create_connection((server.host, server.port), timeout=10) as sock,
    ):
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/contact/list/create HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        time.sleep(0.7)
        sock.sendall(body)
        answer = sock.recv(4096)
        elapsed = time.monotonic() - started
    assert b'"OK"' in answer
    # 1.0 s after the request line; 1.7 s when the latency was added after the last byte.
    assert 1.0 <= elapsed < 1.5


def test_retrieve_only_sees_transport_faults(http: requests.Session) -> None:
    plan = {"error_9xx_rate": 0.25, "drop_rate": 0.25, "lost_answer_rate": 0.25}
    with faulty(**plan, garbage_rate=0.25) as server:
        assert all(fetch(http, server).json()["code"] == "ERR_101" for _ in range(10))
    with faulty(http_5xx_rate=1.0) as server:
        assert fetch(http, server).status_code in {500, 502, 503}


def test_faults_are_deterministic_for_a_seed(http: requests.Session) -> None:
    def run(seed: int) -> list[str]:
        with faulty(error_9xx_rate=0.3, http_5xx_rate=0.3, seed=seed) as server:
            return [
                str(create(http, server, f"n{i}").status_code)
                + create(http, server, f"n{i}").text[:12]
                for i in range(20)
            ]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_set_faults_swaps_the_plan_at_run_time(http: requests.Session) -> None:
    with faulty(error_9xx_rate=1.0) as server:
        assert ERR_9XX.fullmatch(create(http, server, "A").json()["code"])
        server.set_faults(FaultPlan())
        assert server.faults == FaultPlan()
        assert create(http, server, "A").json()["code"] == "OK"


# --------------------------------------------------------------------------- counters


def test_counters(server: SandboxServer, http: requests.Session) -> None:
    create(http, server, "Paris")
    create(http, server, "paris")
    create(http, server, "Lyon", "XX")
    fetch(http, server)
    stats = server.stats
    assert stats.requests_total == 4
    assert stats.list_requests == 1
    assert stats.create_requests == {"paris": 2, "lyon": 1}
    assert stats.created == {"paris": 1}
    assert stats.answers == {"OK": 2, "ERR_104": 1, "ERR_103": 1}
    assert stats.throttled == 0
    assert stats.in_flight == 0
    assert stats.max_in_flight == 1
    assert 1 <= stats.max_requests_per_second <= 4
    snapshot = stats.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["create_requests_total"] == 3
    assert snapshot["created_total"] == 1
    assert snapshot["names_sent_more_than_once"] == 1
    assert snapshot["lists"] == 1
    stats.reset()
    assert stats.requests_total == 0
    assert stats.created == {}
    assert stats.lists == {"1001": ("Paris", "FR")}


def test_max_in_flight_counts_concurrent_requests() -> None:
    workers = 8
    barrier = threading.Barrier(workers)

    with faulty(latency=0.5) as server:

        def one(i: int) -> str:
            with requests.Session() as session:
                barrier.wait(timeout=10)
                return str(create(session, server, f"n{i}").json()["code"])

        with ThreadPoolExecutor(workers) as pool:
            assert list(pool.map(one, range(workers))) == ["OK"] * workers
        assert 4 <= server.stats.max_in_flight <= workers
        assert server.stats.in_flight == 0
        assert server.stats.max_requests_per_second == workers


def test_max_requests_per_second_is_a_sliding_window(http: requests.Session) -> None:
    with faulty(rate_limit=3) as server:
        for i in range(3):
            create(http, server, f"n{i}")
        time.sleep(1.1)
        codes = [create(http, server, f"m{i}").status_code for i in range(3)]
        assert codes == [200, 200, 200]  # the window slid past the first three
        assert server.stats.max_requests_per_second == 3
        assert server.stats.throttled == 0


# --------------------------------------------------------------------------- CLI helpers


def test_load_lists_file(tmp_path: Path) -> None:
    path = tmp_path / "lists.csv"
    path.write_text("name,country\nClients Paris,fr\n\n Berlin ,DE\n", encoding="utf-8-sig")
    assert load_lists_file(path) == [("Clients Paris", "FR"), ("Berlin", "DE")]
    path.write_text("Rome;IT\nOslo;NO\n", encoding="utf-8")
    assert load_lists_file(path) == [("Rome", "IT"), ("Oslo", "NO")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,country\nParis,FR\nLyon,Francia\n", "line 3: 'Francia' is not an ISO 3166"),
        ("name,country\nParis\n", "line 2: expected two columns"),
        ("name,country\n,FR\n", "line 2: empty list name"),
        ("Paris,FR\nPARIS,DE\n", "line 2: list 'PARIS' already on line 1"),
    ],
)
def test_load_lists_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lists.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_lists_file(path)


def test_load_lists_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.csv"):
        load_lists_file(tmp_path / "missing.csv")


def test_run_sandbox_serves_until_stopped(http: requests.Session) -> None:
    stop = threading.Event()
    urls: list[str] = []
    result: dict[str, Any] = {}

    def serve() -> None:
        result.update(
            run_sandbox("127.0.0.1", 0, None, [("Old", "FR")], urls.append, stop_event=stop)
        )

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for _ in range(100):
            if urls:
                break
            time.sleep(0.05)
        answer = http.post(urls[0] + LIST_PATH, data={"id": DEMO_ID, "key": DEMO_KEY}).json()
        assert answer["list_contact"][0]["list_contact_name"] == "Old"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert result["list_requests"] == 1


def test_run_sandbox_stops_on_sigterm(http: requests.Session) -> None:
    code = (
        "import json, sys\n"
        "from importer.sandbox import FaultPlan, run_sandbox\n"
        "ready = lambda url: print(url, flush=True)\n"
        "stats = run_sandbox('127.0.0.1', 0, FaultPlan(latency=0.01), [], ready)\n"
        "print(json.dumps(stats), flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        form = {"id": DEMO_ID, "key": DEMO_KEY, "listContactName": "A"}
        answer = http.post(url + CREATE_PATH, data={**form, "listContactCountryCode": "FR"})
        assert answer.json()["code"] == "OK"
        process.terminate()
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert json.loads(out)["created"] == {"a": 1}
