"""What the journal keeps and tells of contacts runs: pruning, the credit of an interrupted
run, and a killed run's `runs` line and results."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from importer.sandbox import FaultPlan, SandboxServer
from importer.send import LAUNCH_WINDOWS, QUEUED_PER_WORKER
from tests.conftest import read_results, write_csv
from tests.test_contacts_run import contacts_csv, many_contacts
from tests.test_resume import start_cli

STATE = Path(".avosms-import/state.db")


def journal_rows(tmp_path: Path, table: str) -> dict[int, int]:
    """Run id -> how many rows of `table` the journal holds for it."""
    with sqlite3.connect(tmp_path / STATE) as connection:
        found = connection.execute(f'SELECT run_id, count(*) FROM "{table}" GROUP BY run_id')
        return dict(found.fetchall())


def lists_planned(tmp_path: Path) -> bool:
    """Whether a run has journaled the lists it is about to create (false while the journal is
    being made)."""
    try:
        return bool((tmp_path / STATE).exists() and journal_rows(tmp_path, "rows"))
    except sqlite3.OperationalError:
        return False


def start_until_lists_planned(
    server: SandboxServer, source: Path, tmp_path: Path
) -> subprocess.Popen[str]:
    """A run of `source` in its own process, returned once it journaled the lists it is about
    to create (slowly: every answer takes a second)."""
    args = ("run", source, "-o", "out.csv", "--rate", "0", "--workers", "2")
    process = start_cli(server, *args, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not lists_planned(tmp_path):
        assert time.monotonic() < deadline and process.poll() is None, "no list was planned"
        time.sleep(0.02)
    return process


def test_keep_runs_prunes_contacts_runs_that_created_no_list(cli, api_env, tmp_path: Path):
    source = contacts_csv(tmp_path / "in.csv", many_contacts(6, 2))
    for _ in range(4):  # the first run creates the two lists, the others none
        assert cli("run", source, "-o", "out.csv", "--keep-runs", "2").exit_code == 0
    assert journal_rows(tmp_path, "contact_rows") == {3: 6, 4: 6}
    assert journal_rows(tmp_path, "rows") == {}
    runs = cli("runs")
    assert runs.exit_code == 0 and len(runs.stdout.strip().splitlines()) == 4
    pruned = cli("results", "2", "-o", "run2.csv")
    assert pruned.exit_code == 2 and "rows of run 2 were pruned" in pruned.stderr
    kept = cli("results", "4", "-o", "run4.csv")
    assert kept.exit_code == 0, kept.stderr
    assert {row["outcome"] for row in read_results(tmp_path / "run4.csv")} == {"exists"}


@pytest.mark.parametrize("kind", ["contacts", "lists"])
def test_the_credit_of_a_killed_run_goes_to_its_own_rows_and_only_until_a_run_reported_them(
    tmp_path: Path, kind: str
) -> None:
    if kind == "contacts":
        source = contacts_csv(tmp_path / "in.csv", many_contacts(60, 1))
    else:
        source = write_csv(tmp_path / "in.csv", [(f"L{n}", "FR") for n in range(60)])
    credit = "by run 1 (interrupted)"
    with SandboxServer(existing_lists=[("Liste 0", "FR")], faults=FaultPlan(latency=2)) as server:
        args = ("run", source, "-o", "out.csv", "--rate", "0", "--workers", "4")
        first = start_cli(server, *args, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while server.stats.in_flight < 4:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        time.sleep(0.3)
        first.kill()
        first.wait()
        while server.stats.in_flight:  # the requests the killed run left finish at the server
            time.sleep(0.05)
        server.set_faults(FaultPlan())
        outcomes: dict[int, list[dict[str, str]]] = {}
        for number in (2, 3, 4):
            again = start_cli(server, *args[:3], f"run{number}.csv", *args[4:], cwd=tmp_path)
            _, stderr = again.communicate(timeout=120)
            assert again.returncode == 0, stderr
            outcomes[number] = read_results(tmp_path / f"run{number}.csv")
    second = outcomes[2]
    credited = [row for row in second if credit in row["message"]]
    made = [row for row in second if row["outcome"] == "created"]
    # Only what run 1 sent, or may have (at most its launched rows), is credited to it.
    assert 4 <= len(credited) <= LAUNCH_WINDOWS * QUEUED_PER_WORKER * 4 + 1
    assert len(made) >= 60 - LAUNCH_WINDOWS * QUEUED_PER_WORKER * 4 - 1
    assert len(credited) + len(made) == 60
    for number in (3, 4):
        rows = outcomes[number]
        assert {row["outcome"] for row in rows} == {"exists"}
        assert not [row for row in rows if "interrupted" in row["message"]], number
        if kind == "contacts":
            assert {row["message"] for row in rows} == {
                f"already in list {rows[0]['list_contact_id']}"
            }


def test_a_contacts_run_killed_while_creating_its_lists_shows_every_row_not_sent(
    cli, tmp_path: Path
) -> None:
    source = contacts_csv(tmp_path / "in.csv", many_contacts(60, 12))
    with SandboxServer(faults=FaultPlan(latency=1)) as server:
        first = start_until_lists_planned(server, source, tmp_path)
        first.kill()
        first.wait()
        assert not server.stats.added, "the kill came after the lists were made"
    runs = cli("runs")
    assert runs.exit_code == 0 and "60 pending" in runs.stdout, runs.stdout
    rebuilt = cli("results", "1", "-o", "killed.csv")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert "contacts: 60 rows" in rebuilt.stderr
    rows = read_results(tmp_path / "killed.csv")
    assert len(rows) == 60
    assert {(row["outcome"], row["code"]) for row in rows} == {("pending", "NOT_SENT")}
    # It did not finish: no end, no elapsed time (not its start again, not 0.0 s).
    assert "contacts: 60 rows (did not finish): 60 pending" in rebuilt.stderr
    assert " in 0.0 s" not in rebuilt.stderr
    assert cli("results", "1", "-o", "killed.xlsx").exit_code == 0
    sheet = load_workbook(tmp_path / "killed.xlsx", read_only=True)["Summary"]
    pairs = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert pairs["Ended at"] == "did not finish"
    assert pairs["Elapsed (s)"] in (None, "")
    assert pairs["Started at"] != pairs["Ended at"]


def test_runs_says_running_while_the_run_holds_the_lock_and_did_not_finish_once_killed(
    cli, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "in.csv", [(f"L{n}", "FR") for n in range(30)])
    with SandboxServer(faults=FaultPlan(latency=1)) as server:
        first = start_until_lists_planned(server, source, tmp_path)
        going = cli("runs")
        first.kill()
        first.wait()
    assert going.exit_code == 0 and going.stdout.split()[3] == "running", going.stdout
    killed = cli("runs")  # the killed run's lock side file is left behind: its pid is gone
    assert (tmp_path / ".avosms-import/state.db.lock.info").exists()
    assert killed.stdout.split()[3:6] == ["did", "not", "finish"], killed.stdout
