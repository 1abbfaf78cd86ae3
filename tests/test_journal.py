"""The journal against real SQLite files: schema, upgrades, refusals, rows, the lock, crashes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import importer
from importer import errors, journal_schema
from importer.journal import Journal
from importer.journal_records import KnownList, RowRecord
from importer.records import RESULT_COLUMNS

PROJECT_ROOT = str(Path(importer.__file__).resolve().parent.parent)


class Clock:
    """A clock the test moves by hand, so 'latest wins' does not depend on timing."""

    def __init__(self) -> None:
        self.moment = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def opened(state: Path) -> Iterator[Journal]:
    with Journal.open(state, now=Clock()) as journal_:
        yield journal_


def record(row: int, name: str, outcome: str = "planned", **changes: object) -> RowRecord:
    base = RowRecord(
        row=row,
        list_name=name,
        country="France",
        name=name,
        country_code="FR",
        outcome=outcome,
        code="",
        message="",
        list_contact_id="",
        attempts=0,
        name_key=name.casefold(),
    )
    return base._replace(**changes)  # type: ignore[arg-type]


def prepared_frame(names: list[str], first_row: int = 2) -> pd.DataFrame:
    """A frame shaped like normalize.prepare's output."""
    count = len(names)
    return pd.DataFrame(
        {
            "row": range(first_row, first_row + count),
            "list_name": names,
            "country": ["fr"] * count,
            "name": names,
            "country_code": ["FR"] * count,
            "outcome": ["planned"] * count,
            "code": [""] * count,
            "message": [""] * count,
            "list_contact_id": [""] * count,
            "attempts": [0] * count,
            "name_key": [name.casefold() for name in names],
        }
    )


def start(journal_: Journal, **options: object) -> int:
    return journal_.start_run(input_path="lists.csv", input_sha256="ab" * 32, options=options)


# -- schema -----------------------------------------------------------------------------------


def test_open_creates_folder_schema_and_wal(state: Path) -> None:
    Journal.open(state).close()
    connection = sqlite3.connect(state)
    assert (
        connection.execute("PRAGMA user_version").fetchone()[0]
        == len(journal_schema.MIGRATIONS)
        == 3
    )
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "rows"} <= tables
    connection.close()


def test_reopening_keeps_runs(state: Path) -> None:
    with Journal.open(state) as first:
        run_id = start(first)
    with Journal.open(state) as second:
        assert [run.run_id for run in second.runs()] == [run_id]


def test_newer_schema_is_refused_naming_file(state: Path) -> None:
    Journal.open(state).close()
    connection = sqlite3.connect(state)
    connection.execute("PRAGMA user_version = 4")
    connection.commit()
    connection.close()
    with pytest.raises(errors.JournalError) as caught:
        Journal.open(state)
    assert str(caught.value) == (
        f"{state} was written by a newer avosms-import (schema 4, this one knows 3): "
        "upgrade, or use another --state"
    )


@pytest.mark.parametrize(
    "content",
    [b"row,list_name\n2,Clients\n", os.urandom(4096), b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["csv", "random", "bad-header"],
)
def test_file_that_is_not_sqlite_is_refused(state: Path, content: bytes) -> None:
    state.parent.mkdir(parents=True)
    state.write_bytes(content)
    with pytest.raises(errors.JournalError, match="is not an avosms-import journal") as caught:
        Journal.open(state)
    assert str(state) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert state.read_bytes() == content  # never overwritten


def test_other_sqlite_database_is_refused(state: Path) -> None:
    state.parent.mkdir(parents=True)
    connection = sqlite3.connect(state)
    connection.execute("CREATE TABLE customers (id INTEGER)")
    connection.commit()
    connection.close()
    with pytest.raises(errors.JournalError, match=r"it holds other tables: customers"):
        Journal.open(state)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ('DROP TABLE "rows"', "it has no rows table"),
        ("ALTER TABLE runs DROP COLUMN tool_version", "its runs table lacks tool_version"),
    ],
)
def test_journal_lacking_tables_or_columns_is_refused(
    state: Path, damage: str, problem: str
) -> None:
    Journal.open(state).close()
    connection = sqlite3.connect(state)
    connection.execute(damage)
    connection.commit()
    connection.close()
    with pytest.raises(errors.JournalError, match=problem) as caught:
        Journal.open(state)
    assert str(state) in str(caught.value)


def test_unopenable_path_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(errors.JournalError, match="cannot open the journal"):
        Journal.open(blocker / "state.db")


# -- migrations -------------------------------------------------------------------------------


def _add_note_column(connection: sqlite3.Connection) -> None:
    """A plausible v1 -> v2 step: a column with a default, plus a data fix-up."""
    connection.execute("ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    connection.execute("UPDATE runs SET note = 'from v1'")


def test_older_journal_is_migrated_keeping_its_data(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Journal.open(state) as old:
        run_id = start(old)
        old.record_rows(run_id, [record(2, "Clients", "created", list_contact_id="1001")])
        old.finish_run(run_id, counts={"created": 1}, exit_code=0)

    monkeypatch.setattr(
        journal_schema, "MIGRATIONS", [*journal_schema.MIGRATIONS, _add_note_column]
    )
    with Journal.open(state) as upgraded:
        assert upgraded.run_info(run_id).counts == {"created": 1}
        assert upgraded.known_lists()["clients"].list_contact_id == "1001"

    connection = sqlite3.connect(state)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 4
    assert connection.execute("SELECT note FROM runs").fetchall() == [("from v1",)]
    connection.close()


def test_failed_migration_leaves_journal_unchanged(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Journal.open(state) as old:
        start(old)

    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        connection.execute("SELECT no_such_column FROM runs")

    monkeypatch.setattr(journal_schema, "MIGRATIONS", [*journal_schema.MIGRATIONS, half_done])
    with pytest.raises(errors.JournalError, match="from schema 3 to 4") as caught:
        Journal.open(state)
    assert "left unchanged" in str(caught.value)

    connection = sqlite3.connect(state)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 3
    columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
    assert "note" not in columns
    connection.close()


# -- runs -------------------------------------------------------------------------------------


def test_run_lifecycle(opened: Journal) -> None:
    run_id = start(opened, workers=4, rate=5.0, output=Path("out.csv"))
    info = opened.run_info(run_id)
    assert not info.finished
    assert info.exit_code is None
    assert info.pid == os.getpid()
    assert info.tool_version == importer.__version__
    assert info.options == {"output": "out.csv", "rate": 5.0, "workers": 4}

    opened.finish_run(run_id, counts={"created": 3, "invalid": 1}, exit_code=1)
    info = opened.run_info(run_id)
    assert info.finished
    assert info.ended_at is not None and info.ended_at > info.started_at
    assert (info.counts, info.exit_code) == ({"created": 3, "invalid": 1}, 1)


def test_options_never_hold_a_key(opened: Journal, state: Path) -> None:
    run_id = start(
        opened,
        key="secret-1",
        workers=2,
        credentials={"id": "demo@example.com", "key": "secret-2", "API-Key": "secret-3"},
        layers=[{"avosms_key": "secret-4", "name_key": "kept? no"}],
    )
    assert opened.run_info(run_id).options == {
        "workers": 2,
        "credentials": {"id": "demo@example.com"},
        "layers": [{}],
    }
    assert b"secret" not in state.read_bytes() + Path(f"{state}-wal").read_bytes()


def test_runs_newest_first_including_killed(opened: Journal) -> None:
    finished = start(opened)
    opened.record_frame(finished, prepared_frame(["A", "B"]))
    opened.finish_run(finished, counts={"created": 2}, exit_code=0)
    killed = start(opened)
    opened.record_frame(killed, prepared_frame(["A", "B", "C"]))
    opened.record_rows(killed, [record(2, "A", "created", list_contact_id="7")])

    runs = opened.runs()
    assert [run.run_id for run in runs] == [killed, finished]
    assert (runs[0].ended_at, runs[0].exit_code) == (None, None)
    assert runs[0].counts == {"created": 1, "pending": 2}  # never sent: pending, not planned
    assert runs[1].counts == {"created": 2}


def test_unknown_run_is_a_journal_error(opened: Journal) -> None:
    for call in (
        lambda: opened.run_info(42),
        lambda: opened.run_rows(42),
        lambda: opened.finish_run(42, counts={}, exit_code=0),
        lambda: opened.record_rows(42, [record(2, "A")]),
    ):
        with pytest.raises(errors.JournalError, match=r"has no run 42"):
            call()


# -- rows -------------------------------------------------------------------------------------


def test_record_frame_then_updates_read_back_in_row_order(opened: Journal) -> None:
    run_id = start(opened)
    frame = prepared_frame(["Clients", "Fournisseurs", "=cmd", "007"])
    opened.record_frame(run_id, frame.iloc[::-1])  # order of recording does not matter
    opened.record_rows(
        run_id,
        [
            record(3, "Fournisseurs", "created", code="OK", list_contact_id="1002", attempts=2),
            record(2, "Clients", "failed", code="ERR_104", message="name taken", attempts=5),
        ],
    )
    opened.finish_run(run_id, counts={}, exit_code=1)

    rows = opened.run_rows(run_id)
    assert tuple(rows.columns) == RESULT_COLUMNS
    assert rows["row"].tolist() == [2, 3, 4, 5]
    assert rows["outcome"].tolist() == ["failed", "created", "planned", "planned"]
    assert rows["list_contact_id"].tolist() == ["", "1002", "", ""]
    assert rows["attempts"].tolist() == [5, 2, 0, 0]
    assert rows["list_name"].tolist() == ["Clients", "Fournisseurs", "=cmd", "007"]
    assert rows["row"].dtype == "int64" and rows["attempts"].dtype == "int64"
    assert all(pd.api.types.is_string_dtype(rows[c]) for c in RESULT_COLUMNS[1:-1])


def test_record_frame_accepts_missing_values(opened: Journal) -> None:
    run_id = start(opened)
    frame = prepared_frame(["Clients", "Nowhere"])
    frame["country_code"] = pd.Series(["FR", None], dtype="object")
    opened.record_frame(run_id, frame)
    assert opened.run_rows(run_id)["country_code"].tolist() == ["FR", ""]


def test_empty_run_reads_back_empty_frame(opened: Journal) -> None:
    run_id = start(opened)
    rows = opened.run_rows(run_id)
    assert rows.empty and tuple(rows.columns) == RESULT_COLUMNS


def test_a_batch_is_all_or_nothing(opened: Journal) -> None:
    run_id = start(opened)

    def broken_batch() -> Iterator[RowRecord]:
        yield record(2, "A", "created", list_contact_id="1")
        yield record(3, "B", "created", list_contact_id="2")
        raise RuntimeError("worker crashed")

    with pytest.raises(RuntimeError):
        opened.record_rows(run_id, broken_batch())
    assert opened.run_rows(run_id).empty
    opened.record_rows(run_id, [record(2, "A")])  # the journal is still usable
    assert len(opened.run_rows(run_id)) == 1


def test_known_lists_latest_wins_across_runs(opened: Journal) -> None:
    first = start(opened)
    opened.record_rows(
        first,
        [
            record(2, "Clients", "created", list_contact_id="1001"),
            record(3, "Fournisseurs", "failed", code="ERR_104"),
            record(4, "Partenaires", "exists", list_contact_id=""),  # no id: not known
            record(5, "Prospects", "planned"),
        ],
    )
    second = start(opened)
    opened.record_rows(
        second,
        [
            record(2, "CLIENTS", "exists", list_contact_id="2001", country_code="DE"),
            record(9, "Fournisseurs", "exists", list_contact_id="1002"),
        ],
    )
    # An older run's row updated later is the latest record.
    opened.record_rows(first, [record(5, "Prospects", "created", list_contact_id="1003")])

    known = opened.known_lists()
    assert set(known) == {"clients", "fournisseurs", "prospects"}
    clients = known["clients"]
    assert isinstance(clients, KnownList)
    assert (clients.list_contact_id, clients.country_code, clients.run_id) == ("2001", "DE", second)
    assert known["fournisseurs"].list_contact_id == "1002"
    assert (known["prospects"].list_contact_id, known["prospects"].run_id) == ("1003", first)
    assert known["prospects"].updated_at > clients.updated_at


def test_known_lists_are_scoped_to_the_account(opened: Journal) -> None:
    production = start(opened, account="https://api.avosms.com|me@example.com")
    opened.record_rows(production, [record(2, "Clients", "created", list_contact_id="1001")])
    sandbox = start(opened, account="sandbox:0f3a")
    opened.record_rows(sandbox, [record(2, "Clients", "created", list_contact_id="9")])
    opened.record_rows(sandbox, [record(3, "Tests", "created", list_contact_id="10")])

    scoped = opened.known_lists(account="https://api.avosms.com|me@example.com")
    assert {k: v.list_contact_id for k, v in scoped.items()} == {"clients": "1001"}
    assert set(opened.known_lists(account="sandbox:0f3a")) == {"clients", "tests"}
    assert opened.known_lists(account="elsewhere") == {}
    assert opened.known_lists()["clients"].list_contact_id == "9"  # every account, latest


def test_killed_run_rows_come_back_pending(opened: Journal) -> None:
    run_id = start(opened)
    frame = prepared_frame(["A", "B", "C"])
    frame.loc[2, ["outcome", "code"]] = ["invalid", "ERR_101"]
    opened.record_frame(run_id, frame)
    opened.record_rows(run_id, [record(2, "A", "created", list_contact_id="1")])
    assert opened.run_rows(run_id)["outcome"].tolist() == ["created", "pending", "invalid"]


# -- lock -------------------------------------------------------------------------------------


def _python(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": PROJECT_ROOT}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        assert process.stderr is not None
        pytest.fail(f"child ended early: {process.stderr.read()}")
    return line.strip()


def test_lock_is_exclusive_and_released(opened: Journal, state: Path) -> None:
    info_file = Path(f"{state}.lock.info")
    with opened.lock():
        run_id = start(opened)
        info = json.loads(info_file.read_text())
        assert (info["pid"], info["run_id"]) == (os.getpid(), run_id)
        with Journal.open(state) as other, pytest.raises(errors.RunLocked) as caught, other.lock():
            pass
        assert str(caught.value) == (
            f"{state} is in use by another run (run {run_id}, pid {os.getpid()} on host "
            f"{info['host']}, started 2024-01-15 10:00:01 UTC; lock {state}.lock); "
            "wait for it to finish or stop it"
        )
        assert caught.value.exit_code == errors.ExitCode.STOPPED
    assert not info_file.exists()
    with opened.lock():  # free again
        pass


def test_lock_held_by_killed_process_is_released(state: Path) -> None:
    holder = _python(
        f"""
        import time
        from pathlib import Path
        from importer.journal import Journal
        journal = Journal.open(Path({str(state)!r}))
        with journal.lock():
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    try:
        assert _wait_for_line(holder) == "locked"
        with Journal.open(state) as second:
            refused = pytest.raises(errors.RunLocked, match=rf"\(pid {holder.pid} on host ")
            with refused, second.lock():
                pass
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            with second.lock():  # the OS dropped the dead process's lock
                assert json.loads(Path(f"{state}.lock.info").read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()


def test_lock_message_without_info_file(opened: Journal, state: Path) -> None:
    with opened.lock():
        Path(f"{state}.lock.info").unlink()
        with Journal.open(state) as other, pytest.raises(errors.RunLocked) as caught, other.lock():
            pass
    assert str(caught.value) == (
        f"{state} is in use by another run (lock {state}.lock); wait for it to finish or stop it"
    )


# -- crashes ----------------------------------------------------------------------------------


def test_process_killed_mid_writes_leaves_consistent_journal(state: Path) -> None:
    batch = 500
    writer = _python(
        f"""
        import pandas as pd
        from pathlib import Path
        from importer.journal import Journal
        from importer.journal_records import RowRecord
        journal = Journal.open(Path({str(state)!r}))
        run_id = journal.start_run(input_path="big.csv", input_sha256="0", options={{}})
        names = [f"List {{i}}" for i in range(100_000)]
        frame = pd.DataFrame({{
            "row": range(2, len(names) + 2), "list_name": names, "country": "FR",
            "name": names, "country_code": "FR", "outcome": "planned", "code": "",
            "message": "", "list_contact_id": "", "attempts": 0,
            "name_key": [n.casefold() for n in names],
        }})
        journal.record_frame(run_id, frame)
        print("planned", flush=True)
        for start in range(0, len(names), {batch}):
            journal.record_rows(run_id, [
                RowRecord(i + 2, names[i], "FR", names[i], "FR", "created", "OK", "",
                          str(1000 + i), 1, names[i].casefold())
                for i in range(start, start + {batch})
            ])
            print(start + {batch}, flush=True)
        """
    )
    try:
        assert _wait_for_line(writer) == "planned"
        committed = 0
        while committed < 5 * batch:
            committed = int(_wait_for_line(writer))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        writer.kill()
        writer.wait()

    assert Path(f"{state}-wal").exists()  # killed before any clean checkpoint
    with Journal.open(state) as reopened:
        assert reopened._read("PRAGMA integrity_check") == [("ok",)]
        (run,) = reopened.runs()
        assert (run.ended_at, run.exit_code) == (None, None)
        rows = reopened.run_rows(run.run_id)
        assert len(rows) == 100_000
        created = int((rows["outcome"] == "created").sum())
        assert created >= committed
        assert created % batch == 0  # whole batches only
        assert set(rows["outcome"]) == {"created", "pending"}
        assert len(reopened.known_lists()) == created
        # the journal takes new work after the crash
        new_run = reopened.start_run(input_path="big.csv", input_sha256="0", options={})
        reopened.finish_run(new_run, counts={}, exit_code=0)


def test_readers_see_committed_rows_while_a_run_writes(opened: Journal, state: Path) -> None:
    run_id = start(opened)
    opened.record_rows(run_id, [record(2, "A", "created", list_contact_id="1")])
    with Journal.open(state) as reader:
        assert reader.run_rows(run_id)["list_contact_id"].tolist() == ["1"]
    time.sleep(0)  # readers never block the writer in WAL mode
    opened.record_rows(run_id, [record(3, "B")])


def test_prune_keeps_the_newest_runs_rows_and_every_run_listed(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "state.db") as journal:
        run_ids = []
        for number in range(4):
            run_id = journal.start_run(input_path="in.csv", input_sha256="0" * 64, options={})
            journal.record_rows(run_id, [record(2, f"List {number}", outcome="created")])
            journal.finish_run(run_id, counts={"created": 1}, exit_code=0)
            run_ids.append(run_id)
        assert journal.prune(keep_runs=2) == run_ids[:2]
        assert journal.prune(keep_runs=2) == []
        assert [info.run_id for info in journal.runs()] == run_ids[::-1]
        assert journal.runs()[-1].counts == {"created": 1}
        assert len(journal.run_rows(run_ids[-1])) == 1
        with pytest.raises(errors.JournalError, match=f"rows of run {run_ids[0]} were pruned"):
            journal.run_rows(run_ids[0])
        assert journal.prune(keep_runs=0) == []


def test_prune_keeps_a_killed_runs_counts_and_refuses_its_rows(opened: Journal) -> None:
    killed = start(opened)
    opened.record_rows(killed, [record(2, "A", "created"), record(3, "B"), record(4, "C")])
    finished = start(opened)
    opened.finish_run(finished, counts={}, exit_code=0)
    assert opened.prune(keep_runs=1) == [killed]
    info = opened.run_info(killed)
    assert (info.ended_at, info.counts) == (None, {"created": 1, "pending": 2})
    assert opened.runs()[-1].counts == info.counts
    with pytest.raises(errors.JournalError, match=f"rows of run {killed} were pruned"):
        opened.run_rows(killed)
