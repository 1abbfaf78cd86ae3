"""Throughput: parallel workers under one shared rate limit, Retry-After, the outage breaker.

The sandbox's own counters are the witnesses: what arrived per one-second window, how many
requests were in flight at once, which lists were really created. Timing bounds are generous.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from importer.sandbox import LIST_PATH, FaultPlan, SandboxServer, SandboxStats
from importer.throttle import Throttle
from tests.conftest import read_results, write_csv


@dataclass(frozen=True)
class Arrival:
    """One request as the sandbox saw it arrive."""

    at: float
    path: str
    throttled: bool


@pytest.fixture
def arrivals(api_env: SandboxServer) -> Iterator[list[Arrival]]:
    """Every request's arrival time, recorded by the sandbox's own counter (a spy, no mock)."""
    seen: list[Arrival] = []
    lock = threading.Lock()
    count = SandboxStats.arrive.__get__(api_env.stats)

    def arrive(path: str, key: str | None, rate_limit: float, now: float) -> bool:
        throttled = count(path, key, rate_limit, now)
        with lock:
            seen.append(Arrival(now, path, throttled))
        return throttled

    api_env.stats.arrive = arrive  # type: ignore[method-assign]
    yield seen


def assert_created_once_in_order(rows: list[dict[str, str]], names: list[str], sandbox) -> None:
    """Rows in input order, each with the id the sandbox gave its name, each list made once."""
    assert [int(row["row"]) for row in rows] == list(range(2, len(names) + 2))
    assert [row["name"] for row in rows] == names
    assert {row["outcome"] for row in rows} <= {"created", "exists"}
    ids = {name.casefold(): list_id for list_id, (name, _) in sandbox.stats.lists.items()}
    assert [row["list_contact_id"] for row in rows] == [ids[name.casefold()] for name in names]
    assert set(sandbox.stats.created.values()) == {1}
    assert len(sandbox.stats.created) == len(names)


@pytest.mark.parametrize(("rate", "count"), [(10, 50), (20, 100)])
def test_the_rate_cap_holds_in_every_one_second_window(cli, api_env, tmp_path, rate, count):
    api_env.set_faults(FaultPlan(latency=0.01))
    names = [f"Rate {rate} list {number}" for number in range(count)]
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in names])
    result = cli("run", source, "-o", "out.csv", "--workers", "8", "--rate", str(rate))
    assert result.exit_code == 0, result.stderr
    assert_created_once_in_order(read_results(tmp_path / "out.csv"), names, api_env)
    # Throttle(rate) with its default burst of 1: at most rate + 1 starts in any second.
    assert Throttle(rate).burst == 1
    assert api_env.stats.max_requests_per_second <= rate + 1
    # The cap was reached, not merely respected by a slow run.
    assert api_env.stats.max_requests_per_second >= rate // 2


def test_results_stay_in_input_order_with_16_workers(cli, api_env, tmp_path):
    # Latency keeps 16 requests in flight; ERR_9xx retries make rows finish out of order.
    api_env.set_faults(FaultPlan(latency=0.03, error_9xx_rate=0.25, seed=5))
    names = [f"Ordered {number:03d}" for number in range(300)]
    source = write_csv(tmp_path / "in.csv", [(name, "DE") for name in names])
    result = cli(
        "run", source, "-o", "out.csv", "--workers", "16", "--rate", "0", "--max-attempts", "10"
    )
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert_created_once_in_order(rows, names, api_env)
    assert max(int(row["attempts"]) for row in rows) > 1
    assert 4 < api_env.stats.max_in_flight <= 16


def test_a_429_with_retry_after_2_holds_back_every_worker(cli, api_env, arrivals, tmp_path):
    # Six requests a second at most; the seventh gets 429 with Retry-After: 2.
    api_env.set_faults(FaultPlan(latency=0.05, rate_limit=6, retry_after="2"))
    names = [f"Throttled {number}" for number in range(16)]
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in names])
    started = time.monotonic()
    result = cli(
        "run",
        source,
        "-o",
        "out.json",
        "--workers",
        "4",
        "--rate",
        "0",
        "--max-attempts",
        "10",
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert_created_once_in_order(document["rows"], names, api_env)
    assert api_env.stats.throttled >= 1
    assert api_env.stats.max_in_flight >= 2  # several workers were busy when the 429 came

    # After the first 429, nothing arrives from any worker until Retry-After has passed: only
    # requests already on their way within a few milliseconds of it (also refused) may land.
    first = next(arrival for arrival in arrivals if arrival.throttled)
    early = [a for a in arrivals if first.at + 0.8 < a.at < first.at + 1.9]
    assert early == []
    assert any(a.at >= first.at + 1.9 for a in arrivals)
    assert arrivals[0].path == LIST_PATH  # the reconcile fetch went through the same gate

    assert elapsed >= 2.0
    assert document["summary"]["throttled_seconds"] >= 1.5
    assert "throttled" in result.stderr


def test_the_outage_breaker_stops_the_run_and_the_next_run_completes_it(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(fail_everything=True))
    names = [f"Outage {number}" for number in range(20)]
    source = write_csv(tmp_path / "in.csv", [(name, "FR") for name in names])
    options = ("--workers", "2", "--rate", "0", "--max-attempts", "20", "--no-reconcile")
    started = time.monotonic()
    stopped = cli("run", source, "-o", "out.csv", "--max-outage", "1", *options)
    assert time.monotonic() - started < 60
    assert stopped.exit_code == 3, stopped.stderr
    messages = [line for line in stopped.stderr.splitlines() if line.startswith("avosms-import:")]
    assert len(messages) == 1, stopped.stderr
    assert "max_outage" in messages[0] and "HTTP_503" in messages[0]
    assert "Traceback" not in stopped.stderr
    rows = read_results(tmp_path / "out.csv")
    assert len(rows) == 20
    assert {row["outcome"] for row in rows} == {"pending"}
    assert api_env.stats.created.total() == 0
    assert api_env.stats.requests_total >= 2

    api_env.set_faults(FaultPlan())
    resumed = cli("run", source, "-o", "out.csv", "--max-outage", "1", *options)
    assert resumed.exit_code == 0, resumed.stderr
    assert_created_once_in_order(read_results(tmp_path / "out.csv"), names, api_env)
