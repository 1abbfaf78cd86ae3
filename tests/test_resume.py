"""Safe re-runs: killed and interrupted runs resume without creating anything twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from importer.journal import Journal
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from tests.conftest import read_results, write_csv


def start_cli(server: SandboxServer, *args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    """The real CLI in its own process, as cron would start it."""
    env = os.environ | {"AVOSMS_ID": DEMO_ID, "AVOSMS_KEY": DEMO_KEY, "AVOSMS_BASE_URL": server.url}
    return subprocess.Popen(
        [sys.executable, "-m", "importer", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def wait_for_creates(server: SandboxServer, count: int, limit: float = 60.0) -> None:
    wait_until(lambda: sum(server.stats.created.values()) >= count, "never got going", limit)


def assert_complete(rows: list[dict[str, str]], server: SandboxServer, expected: int) -> None:
    ids = {name.casefold(): list_id for list_id, (name, _) in server.stats.lists.items()}
    assert len(rows) == expected
    assert {row["outcome"] for row in rows} <= {"created", "exists"}
    assert all(row["list_contact_id"] == ids[row["name"].casefold()] for row in rows)
    assert set(server.stats.created.values()) == {1}
    assert len(server.stats.created) == expected


def test_a_run_killed_at_a_random_point_resumes_and_creates_each_list_once(tmp_path):
    rows = [(f"Migrated list {number:05d}", "FR") for number in range(3000)]
    source = write_csv(tmp_path / "big.csv", rows)
    kill_after = random.Random(os.getpid()).uniform(0.5, 2.5)
    # 10 ms a request: 3,000 creates take longer than the latest kill (they once took 2 s).
    with SandboxServer(faults=FaultPlan(latency=0.01)) as server:
        first = start_cli(server, "run", source, "-o", "out.csv", "--rate", "0", cwd=tmp_path)
        wait_for_creates(server, 1)
        time.sleep(kill_after)
        first.kill()
        first.wait()
        killed_at = sum(server.stats.created.values())
        second = start_cli(server, "run", source, "-o", "out.csv", "--rate", "0", cwd=tmp_path)
        _, stderr = second.communicate(timeout=240)
        assert second.returncode == 0, stderr
        assert_complete(read_results(tmp_path / "out.csv"), server, 3000)
        assert killed_at < 3000, "the kill came too late to test anything"


def test_sigterm_leaves_pending_rows_and_the_next_run_finishes_them(tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"Term {number}", "FR") for number in range(200)])
    with SandboxServer(faults=FaultPlan(latency=0.05)) as server:
        process = start_cli(server, "run", source, "-o", "out.csv", "--workers", "2", cwd=tmp_path)
        wait_for_creates(server, 5)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 3, stderr
        assert "SIGTERM" in stderr and "rows left pending; run the same command again" in stderr
        rows = read_results(tmp_path / "out.csv")
        assert len(rows) == 200
        assert "pending" in {row["outcome"] for row in rows}
        assert all(row["list_contact_id"] for row in rows if row["outcome"] == "created")

        again = start_cli(server, "run", source, "-o", "out.csv", "--rate", "0", cwd=tmp_path)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, stderr
        assert_complete(read_results(tmp_path / "out.csv"), server, 200)


def test_a_second_run_on_the_same_state_exits_3_naming_the_lock(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("A", "FR")])
    journal = Journal.open(tmp_path / "state.db")
    try:
        with journal.lock():
            result = cli("run", source, "--state", "state.db")
    finally:
        journal.close()
    assert result.exit_code == 3
    assert "state.db.lock" in result.stderr and str(os.getpid()) in result.stderr
    assert api_env.stats.requests_total == 0


def test_runs_and_results_work_on_a_killed_runs_journal(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"K {number}", "FR") for number in range(400)])
    with SandboxServer(faults=FaultPlan(latency=0.02)) as server:
        process = start_cli(server, "run", source, "--workers", "2", cwd=tmp_path)
        wait_for_creates(server, 10)
        time.sleep(0.5)  # let the journal commit what was created
        process.kill()
        process.wait()
        runs = cli("runs")
        assert runs.exit_code == 0
        assert "did not finish" in runs.stdout and "in.csv" in runs.stdout
        rebuilt = cli("results", "1", "-o", "run1.csv")
        assert rebuilt.exit_code == 0, rebuilt.stderr
        rows = read_results(tmp_path / "run1.csv")
        assert len(rows) == 400
        created = [row for row in rows if row["outcome"] == "created"]
        assert created and all(row["list_contact_id"] in server.stats.lists for row in created)
        assert {row["outcome"] for row in rows} <= {"created", "pending"}


def test_a_second_signal_stops_at_once_and_leaves_a_consistent_journal(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"Slow {number}", "FR") for number in range(50)])
    with SandboxServer(faults=FaultPlan(latency=20)) as server:
        process = start_cli(server, "run", source, "--no-reconcile", "--rate", "0", cwd=tmp_path)
        deadline = time.monotonic() + 30
        while server.stats.max_in_flight < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert time.monotonic() - signalled < 15, "it waited for the 20 s answers"
        assert process.returncode == 3, stderr
        rows = read_results(tmp_path / "in.results.csv")
        assert len(rows) == 50 and {row["outcome"] for row in rows} == {"pending"}
        runs = cli("runs")
        assert runs.exit_code == 0 and "exit 3" in runs.stdout


def test_keep_runs_bounds_the_journal_but_lists_every_run(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("Nightly A", "FR"), ("Nightly B", "DE")])
    for _ in range(3):
        assert cli("run", source, "--keep-runs", "1").exit_code == 0
    runs = cli("runs")
    assert runs.exit_code == 0 and len(runs.stdout.strip().splitlines()) == 3
    pruned = cli("results", "1", "-o", "run1.csv")
    assert pruned.exit_code == 2
    assert "rows of run 1 were pruned" in pruned.stderr
    kept = cli("results", "3", "-o", "run3.csv")
    assert kept.exit_code == 0, kept.stderr
    assert {row["outcome"] for row in read_results(tmp_path / "run3.csv")} == {"exists"}


def test_results_without_a_journal_says_so_and_creates_nothing(cli, tmp_path):
    result = cli("results", "1", "-o", "out.csv", "--state", "missing.db")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "avosms-import: missing.db: no journal here; give --state, or run a job first"
    )
    assert not (tmp_path / "missing.db").exists()


def test_a_second_sigint_records_requests_in_flight_as_sent_and_the_next_run_credits_them(
    tmp_path,
):
    # Every answer takes 3 s: the first create is in flight when both signals arrive.
    source = write_csv(tmp_path / "in.csv", [(f"In flight {n}", "FR") for n in range(8)])
    args = ("run", source, "-o", "out.csv", "--rate", "0", "--no-reconcile", "--no-progress")
    with SandboxServer(faults=FaultPlan(latency=3)) as server:
        first = start_cli(server, *args, cwd=tmp_path)
        wait_until(lambda: server.stats.create_requests.total() > 0, "nothing was sent")
        first.send_signal(signal.SIGINT)
        time.sleep(0.2)
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=60)
        assert first.returncode == 3, stderr
        assert "SIGINT received again" in stderr
        rows = read_results(tmp_path / "out.csv")
        flying = [row for row in rows if row["code"] == "IN_FLIGHT"]
        assert len(flying) == server.stats.create_requests.total() >= 1
        for row in flying:
            assert row["outcome"] == "pending" and row["attempts"] == "1", row
            assert "may have been processed" in row["message"], row
            assert "the next run settles it" in row["message"], row
        assert all(row["code"] == "NOT_SENT" for row in rows if row not in flying)
        assert all(row["attempts"] == "0" for row in rows if row not in flying)
        journal = Journal.open(tmp_path / ".avosms-import" / "state.db")
        try:
            recorded = journal.run_rows(1)
        finally:
            journal.close()
        assert recorded["code"].tolist() == [row["code"] for row in rows]

        # The server went on with the abandoned request and created its list.
        wait_until(lambda: len(server.stats.lists) == len(flying), "the list was never made")
        server.set_faults(FaultPlan())
        again = start_cli(server, *args, cwd=tmp_path)
        _, stderr = again.communicate(timeout=60)
        assert again.returncode == 0, stderr
        rows = read_results(tmp_path / "out.csv")
        for row in rows:
            if row["name"] in {flown["name"] for flown in flying}:
                assert row["outcome"] == "exists", row
                assert "created by run 1 (interrupted)" in row["message"], row
            else:
                assert row["outcome"] == "created", row
        assert set(server.stats.created.values()) == {1} and len(server.stats.created) == 8
