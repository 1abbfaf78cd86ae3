"""Stopping keeps every answer: signals only set flags; after a send, never exit 2."""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlencode

import pytest

from importer.api.endpoints import LIST_INFORMATION, LIST_RETRIEVE
from importer.errors import ExitCode, ImporterError, JournalError
from importer.journal import Journal
from importer.journal_records import RowRecord
from importer.run import JobResult
from importer.sandbox import FaultPlan, SandboxServer
from tests.conftest import library_run, read_results, write_csv
from tests.test_client import Answer, Stub
from tests.test_contacts_run import contacts_csv
from tests.test_resume import start_cli, wait_until


def signal_at(steps: dict[str, int]) -> Callable[[str], None]:
    """A checkpoint hook sending SIGINT to this process at the n-th time a step is reached."""
    seen: Counter[str] = Counter()

    def checkpoint(step: str) -> None:
        seen[step] += 1
        if steps.get(step) == seen[step]:
            os.kill(os.getpid(), signal.SIGINT)

    return checkpoint


def run_with_hook(
    tmp_path: Path,
    server: SandboxServer,
    checkpoint: Callable[[str], None],
    rows: int = 60,
    *,
    reconcile: bool = True,
) -> JobResult:
    """The library run, signals handled, with the test-only checkpoint hook."""
    source = write_csv(tmp_path / "in.csv", [(f"Stop {n:03d}", "FR") for n in range(rows)])
    return library_run(tmp_path, server, source, checkpoint, workers=2, reconcile=reconcile)


def assert_every_answer_kept(tmp_path: Path, server: SandboxServer, result: JobResult) -> None:
    rows = read_results(tmp_path / "out.csv")
    ids = {name: list_id for list_id, (name, _) in server.stats.lists.items()}
    created = [row for row in rows if row["outcome"] == "created"]
    # Every list the sandbox created is a `created` row with its id; the rest never left.
    assert {row["name"]: row["list_contact_id"] for row in created} == ids
    assert {row["outcome"] for row in rows} == {"created", "pending"}
    journal = Journal.open(tmp_path / "state.db")
    try:
        info = journal.run_info(1)
        recorded = journal.run_rows(1)
    finally:
        journal.close()
    assert info.finished and info.exit_code == 3
    assert recorded["outcome"].tolist() == [row["outcome"] for row in rows]
    assert recorded["list_contact_id"].tolist() == [row["list_contact_id"] for row in rows]
    assert int(result.exit_code) == 3


@pytest.mark.parametrize("second", ["final flush", "finish run", "write results"])
def test_a_second_sigint_during_the_wrap_up_loses_no_answer(tmp_path, second):
    with SandboxServer(faults=FaultPlan(latency=0.01)) as server:
        result = run_with_hook(tmp_path, server, signal_at({"collected": 10, second: 1}))
        assert 10 <= len(server.stats.lists) < 60
        assert_every_answer_kept(tmp_path, server, result)
        assert "interrupted by a signal" in str(result.stopped_by)


def test_both_signals_during_the_final_flush_still_write_everything(tmp_path):
    seen: Counter[str] = Counter()

    def twice_at_the_flush(step: str) -> None:
        seen[step] += 1
        if step == "final flush":
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    with SandboxServer() as server:
        result = run_with_hook(tmp_path, server, twice_at_the_flush, rows=20)
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"created"}  # every row was sent already
    assert int(result.exit_code) == 0


def test_a_second_signal_ends_a_wait_for_a_read_and_the_first_does_not():
    from importer.errors import Interrupted
    from importer.stop import StopSignal

    stop = StopSignal()
    release = threading.Event()

    def read() -> str:
        release.wait(30)
        return "read"

    def signal_twice() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
        assert stop.event.is_set()  # the first signal: still waiting
        os.kill(os.getpid(), signal.SIGINT)

    with stop.installed():
        assert stop.wait_for(lambda: "answer", "read") == "answer"
        with pytest.raises(ZeroDivisionError):
            stop.wait_for(lambda: 1 / 0, "divide")
        threading.Timer(0.1, signal_twice).start()
        started = time.monotonic()
        with pytest.raises(Interrupted, match="stopped the wait to read the account"):
            stop.wait_for(read, "read the account")
        assert time.monotonic() - started < 5
    release.set()
    assert stop.abandoned


def test_a_first_signal_during_a_wait_for_a_read_is_announced_at_once(caplog):
    """The operator sees the Ctrl-C taken while the read still runs, not when it ends."""
    from importer.stop import StopSignal

    stop = StopSignal()
    release = threading.Event()
    seen_while_reading: list[bool] = []

    def signal_then_look() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)
        seen_while_reading.append("SIGINT received" in caplog.text)
        release.set()

    def read() -> str:
        release.wait(30)
        return "read"

    caplog.set_level(logging.WARNING, logger="importer")
    with stop.installed():
        threading.Timer(0.1, signal_then_look).start()
        assert stop.wait_for(read, "read the account") == "read"
    assert seen_while_reading == [True]
    assert not stop.abandoned


def test_the_signal_handlers_only_set_flags():
    from importer.stop import StopSignal

    stop = StopSignal()
    with stop.installed():
        os.kill(os.getpid(), signal.SIGINT)  # delivered here, in the main thread
        assert stop.event.is_set() and not stop.abandon.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.abandon.is_set()
    assert stop.received == ["SIGINT", "SIGTERM"]


# --------------------------------------------------------------------------- exit codes


def fail(*args: object, **kwargs: object) -> None:
    raise JournalError("the journal could not be written: disk I/O error")


@pytest.mark.parametrize("step", ["finish_run", "prune"])
def test_a_journal_failure_after_sending_exits_3_and_still_writes_the_results(
    cli, api_env, tmp_path, monkeypatch, step
):
    monkeypatch.setattr(Journal, step, fail)
    source = write_csv(tmp_path / "in.csv", [("After A", "FR"), ("After B", "DE")])
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 3, result.stderr
    assert "run the same command again" in result.stderr
    assert "disk I/O error" in result.stderr
    assert "Traceback" not in result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"created"}
    assert len(api_env.stats.lists) == 2


def test_a_journal_failure_while_sending_exits_3_with_the_results(
    cli, api_env, tmp_path, monkeypatch
):
    record_rows = Journal.record_rows

    def fail_once_sent(journal: Journal, run_id: int, rows: Iterable[RowRecord]) -> None:
        rows = list(rows)
        if any(row.code != "IN_FLIGHT" for row in rows):  # an answer, not the rows handed out
            fail()
        record_rows(journal, run_id, rows)

    monkeypatch.setattr(Journal, "record_rows", fail_once_sent)
    source = write_csv(tmp_path / "in.csv", [("During A", "FR")])
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 3, result.stderr
    assert "lists may have been created" in result.stderr
    assert read_results(tmp_path / "out.csv")[0]["outcome"] == "created"


def test_a_journal_failure_before_the_first_request_sends_nothing(
    cli, api_env, tmp_path, monkeypatch
):
    monkeypatch.setattr(Journal, "record_rows", fail)
    source = write_csv(tmp_path / "in.csv", [("Before A", "FR")])
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 3, result.stderr
    assert api_env.stats.create_requests == {}  # the rows are journaled before they go out
    assert read_results(tmp_path / "out.csv")[0]["outcome"] == "pending"


def test_an_error_class_that_says_nothing_does_not_claim_nothing_was_sent():
    class Unclassified(ImporterError):
        """An error that does not say what it knows."""

    assert Unclassified.exit_code == ExitCode.STOPPED
    assert JournalError.exit_code == ExitCode.USAGE  # opened before anything is sent


@pytest.mark.parametrize("reconcile", [True, False])
def test_the_next_run_says_which_lists_an_interrupted_run_created(tmp_path, reconcile):
    with SandboxServer(faults=FaultPlan(latency=0.01)) as server:
        first = run_with_hook(tmp_path, server, signal_at({"collected": 8}))
        assert int(first.exit_code) == 3
        made = {name for name, _ in server.stats.lists.values()}
        assert 8 <= len(made) < 60
        again = run_with_hook(tmp_path, server, lambda step: None, reconcile=reconcile)
        assert int(again.exit_code) == 0
        rows = read_results(tmp_path / "out.csv")
    for row in rows:
        if row["name"] in made:
            assert row["outcome"] == "exists", row
            assert "created by run 1 (interrupted)" in row["message"], row
        else:
            assert row["outcome"] == "created", row
    assert set(server.stats.created.values()) == {1}


def test_results_that_cannot_be_written_after_sending_exit_3_naming_the_journal(
    cli, api_env, tmp_path, monkeypatch
):
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("importer.results.write_results", disk_full)
    source = write_csv(tmp_path / "in.csv", [("Full A", "FR")])
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 3, result.stderr
    assert "No space left on device" in result.stderr
    assert "avosms-import results 1 -o FILE" in result.stderr
    assert len(api_env.stats.lists) == 1


def test_results_that_become_unwritable_during_the_run_exit_3_and_the_journal_says_3(
    cli, api_env, tmp_path
):
    # The results path is checked before sending; a folder appears there while the run sends.
    api_env.set_faults(FaultPlan(latency=0.3))
    source = write_csv(tmp_path / "in.csv", [("Blocked A", "FR"), ("Blocked B", "DE")])

    def block_the_results() -> None:
        deadline = time.monotonic() + 30
        while not api_env.stats.create_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "out.csv").mkdir()

    blocker = threading.Thread(target=block_the_results)
    blocker.start()
    result = cli("run", source, "-o", "out.csv", "--rate", "0")
    blocker.join()
    assert result.exit_code == 3, result.stderr
    assert "could not write the results" in result.stderr
    assert "avosms-import results 1 -o FILE" in result.stderr
    assert "run the same command again" in result.stderr
    assert len(api_env.stats.lists) == 2
    runs = cli("runs")
    assert runs.exit_code == 0, runs.stderr
    (line,) = runs.stdout.strip().splitlines()
    assert "exit 3" in line and "2 created" in line
    rebuilt = cli("results", "1", "-o", "rebuilt.csv")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert {row["outcome"] for row in read_results(tmp_path / "rebuilt.csv")} == {"created"}


# --------------------------------------------------------------------------- waits and reads


def logged(log_file: Path) -> str:
    """What the run's log file holds so far."""
    return log_file.read_text() if log_file.exists() else ""


def test_a_long_retry_after_is_logged_once_and_a_stop_leaves_the_refused_rows_pending(tmp_path):
    # Two requests a second: the account read and one create pass, the other workers' creates
    # are answered 429 with an hour's Retry-After (300 s once capped), then comes a Ctrl-C.
    source = write_csv(tmp_path / "in.csv", [(f"Throttled {n:02d}", "FR") for n in range(40)])
    log_file = tmp_path / "run.log"
    args = ("run", source, "-o", "out.csv", "--workers", "8", "--rate", "0", "--no-progress")
    with SandboxServer(faults=FaultPlan(rate_limit=2, retry_after="3600")) as server:
        process = start_cli(server, *args, "--log-file", log_file, cwd=tmp_path)
        wait_until(lambda: "no request is sent" in logged(log_file), "no warning of the wait")
        time.sleep(0.3)  # the other workers' 429s come in meanwhile: still one warning
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        throttled = server.stats.throttled
    assert process.returncode == 3, stderr
    log = log_file.read_text()
    assert log.count("no request is sent") == 1, log
    assert "no request is sent for 300 s (it asked for 3600 s; the importer waits 300 s at" in log
    assert re.search(r"until \d\d:\d\d:\d\d", log)
    rows = read_results(tmp_path / "out.csv")
    refused = [row for row in rows if row["code"] == "HTTP_429"]
    assert len(refused) == throttled >= 1
    for row in refused:
        assert row["outcome"] == "pending" and row["attempts"] == "1", row
        assert row["message"].startswith("not finished: the run stopped while retrying"), row
    assert {row["outcome"] for row in rows} == {"created", "pending"}


def start_run_reading_slowly(
    tmp_path: Path, server: SandboxServer, *options: str, kind: str = "lists"
) -> subprocess.Popen[str]:
    """The CLI's `run` of five rows of `kind`, its account read (the first request) held up by
    the sandbox's latency; returned once that read is on its way."""
    if kind == "lists":
        source = write_csv(tmp_path / "in.csv", [(f"Unread {n}", "FR") for n in range(5)])
    else:
        rows = [(f"Unread {n}", "FR", f"06{10000000 + n:08d}") for n in range(5)]
        source = contacts_csv(tmp_path / "in.csv", rows)
    args = ("run", source, "-o", "out.csv", "--rate", "0", "--no-progress", *options)
    process = start_cli(server, *args, cwd=tmp_path)
    wait_until(lambda: server.stats.list_requests > 0, "the account was never read")
    return process


def finish(process: subprocess.Popen[str], limit: float = 20) -> str:
    """The process's stderr once it ended; killed if it did not end within `limit` s."""
    try:
        return process.communicate(timeout=limit)[1]
    finally:
        process.kill()


def interrupt_twice(process: subprocess.Popen[str]) -> tuple[str, float]:
    """Two SIGINTs 0.2 s apart: the process's stderr, and the seconds from the second signal
    to its end."""
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    stderr = finish(process)
    return stderr, time.monotonic() - signalled


def assert_interrupted_before_sending(tmp_path: Path, server: SandboxServer, stderr: str) -> None:
    assert "interrupted by a signal: 5 rows left pending" in stderr, stderr
    assert "Traceback" not in stderr
    assert server.stats.create_requests.total() == 0
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"pending"}


@pytest.mark.parametrize("kind", ["lists", "contacts"])
def test_a_second_sigint_stops_waiting_for_the_account_read_at_once(tmp_path, kind):
    with SandboxServer(faults=FaultPlan(latency=30)) as server:
        process = start_run_reading_slowly(tmp_path, server, kind=kind)  # --timeout: 30 s
        stderr, took = interrupt_twice(process)
        assert process.returncode == 3, stderr
        assert took < 5, f"{took:.1f} s after the second signal"  # not the read's 30 s
        assert "SIGINT received again" in stderr
        assert_interrupted_before_sending(tmp_path, server, stderr)
        assert server.stats.list_requests == 1


def test_a_first_sigint_during_the_account_read_ends_the_run_after_its_attempt(tmp_path):
    with SandboxServer(faults=FaultPlan(latency=30)) as server:
        process = start_run_reading_slowly(tmp_path, server, "--timeout", "1")
        process.send_signal(signal.SIGINT)
        stderr = finish(process)
        assert process.returncode == 3, stderr
        assert "could not fetch" not in stderr
        assert_interrupted_before_sending(tmp_path, server, stderr)
        assert server.stats.list_requests == 1  # no retry once stopping


def interrupted_while_held(
    tmp_path: Path, sandbox: SandboxServer, held_path: str, source: Path, *options: str
) -> tuple[subprocess.Popen[str], str, float]:
    """The CLI's `run` of `source` through a front that relays every request to `sandbox`
    but holds each one to `held_path` (up to 30 s); two SIGINTs once the first is held. Gives
    the process, its stderr and the seconds from the second signal to its end."""
    release = threading.Event()

    def relay(number: int, path: str, form: dict[str, str]) -> Answer:
        if path == held_path:
            release.wait(30)
        connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", path, urlencode(form), form_type)
        answer = connection.getresponse()
        headers = {"Content-Type": answer.getheader("Content-Type", "")}
        return answer.status, headers, answer.read()

    front = Stub(relay)
    try:
        args = ("run", source, "-o", "out.csv", "--rate", "0", "--no-progress", *options)
        process = start_cli(front, *args, cwd=tmp_path)  # type: ignore[arg-type]
        wait_until(
            lambda: any(path == held_path for _, path, _ in front.requests),
            f"no request to {held_path}",
        )
        stderr, took = interrupt_twice(process)
    finally:
        release.set()
        front.close()
    return process, stderr, took


def test_a_second_sigint_stops_waiting_for_a_lists_contacts_read_at_once(tmp_path):
    """A contacts run reads each target list's contacts after the account's lists: a second
    signal stops waiting for that read too, rather than for its `--timeout` (30 s here)."""
    with SandboxServer(existing_lists=[("Unread", "FR")]) as sandbox:
        rows = [("Unread", "FR", f"06{10000000 + n:08d}") for n in range(5)]
        source = contacts_csv(tmp_path / "in.csv", rows)
        process, stderr, took = interrupted_while_held(
            tmp_path, sandbox, LIST_INFORMATION.path, source
        )
        assert process.returncode == 3, stderr
        assert took < 5, f"{took:.1f} s after the second signal"
        assert "SIGINT received again" in stderr
        assert_interrupted_before_sending(tmp_path, sandbox, stderr)
        assert sandbox.stats.add_requests.total() == 0


def test_a_second_sigint_stops_waiting_for_the_re_read_that_settles_rows(tmp_path):
    """A create answered ERR_104 is settled by re-reading the account's lists, once every row
    is sent: a second signal stops waiting for that re-read at once; the row stays pending
    (the next run settles it), the others keep their answers."""
    with SandboxServer(existing_lists=[("Taken", "FR")]) as sandbox:
        source = write_csv(tmp_path / "in.csv", [("Taken", "FR"), ("Fresh 1", "FR")])
        process, stderr, took = interrupted_while_held(
            tmp_path, sandbox, LIST_RETRIEVE.path, source, "--no-reconcile"
        )
        assert process.returncode == 3, stderr
        assert took < 5, f"{took:.1f} s after the second signal"
        assert "Traceback" not in stderr
        rows = {row["name"]: row for row in read_results(tmp_path / "out.csv")}
        assert rows["Taken"]["outcome"] == "pending", rows["Taken"]
        assert rows["Fresh 1"]["outcome"] == "created", rows["Fresh 1"]
        assert sandbox.stats.create_requests.total() == 2
