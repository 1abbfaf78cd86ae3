"""The journal: a SQLite file recording every run and every row's outcome as it happens.

It is what makes re-runs safe. A killed run's rows can be rebuilt from it, lists already created
are known by name before anything is sent, and a lock beside it keeps two runs apart. WAL mode
means a process killed mid-write leaves the last committed batch intact and the rest rolled back.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from importer import __version__, errors
from importer.journal_lock import lock_info_path
from importer.journal_records import (
    InterruptedCreation,
    KnownList,
    RowRecord,
    RunInfo,
    run_info_from_record,
    timestamp,
    without_secrets,
)
from importer.journal_schema import (
    ACCOUNT_RUNS_SQL,
    CONTACT_ROW_FIELDS,
    CONTACT_UPSERT_SQL,
    INT_FIELDS,
    INTERRUPTED_CHANGES_SQL,
    INTERRUPTED_CREATIONS_SQL,
    KNOWN_LISTS_SQL,
    ROW_FIELDS,
    RUN_COLUMNS_SQL,
    UPSERT_SQL,
    prepare_database,
)
from importer.records import CONTACT_COLUMNS, RESULT_COLUMNS, Outcome


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _pending_if_unfinished(outcome: str, finished: bool) -> str:
    # A run killed before finishing never sent its planned rows: they are pending.
    return Outcome.PENDING.value if not finished and outcome == Outcome.PLANNED else outcome


class Journal:
    """The state database of every run, owned by one connection (safe to share across threads)."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, now: Callable[[], datetime]
    ) -> None:
        self.path = path
        self._connection = connection
        self._now = now
        self._guard = threading.RLock()
        self._lock_info_path = lock_info_path(path)
        self._lock_started: datetime | None = None  # set while this journal holds the lock

    # -- opening and schema ---------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, now: Callable[[], datetime] = _utc_now) -> Journal:
        """Open (creating it and its folder if needed) and upgrade the journal at `path`."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise errors.JournalError(
                f"{path}: cannot open the journal ({exc}); check the folder is writable, "
                "or use another --state"
            ) from None
        try:
            prepare_database(path, connection)
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, now)

    def close(self) -> None:
        """Close the connection; committed work is already on disk."""
        with self._guard:
            self._connection.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; any SQLite failure becomes a one-line JournalError."""
        with self._guard:
            connection = self._connection
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    connection.rollback()
                    raise
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                if connection.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        connection.rollback()
                raise errors.JournalError(
                    f"{self.path}: cannot {doing} ({exc}); check the disk and the file's "
                    "permissions, or use another --state"
                ) from None

    # -- lock -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold `<state>.lock` for one run; a second run fails at once with RunLocked.

        The OS releases the lock when the holder dies, even by SIGKILL; the side file
        `<state>.lock.info` only tells the refused run who holds it.
        """
        lock_path = f"{self.path}.lock"
        file_lock = FileLock(lock_path, timeout=0, thread_local=False)
        try:
            file_lock.acquire()
        except Timeout:
            raise errors.RunLocked(self._locked_message(lock_path)) from None
        try:
            self._lock_started = self._now()
            self._write_lock_info(run_id=None)
            yield
        finally:
            self._lock_started = None
            with contextlib.suppress(OSError):
                self._lock_info_path.unlink()
            file_lock.release()

    def _write_lock_info(self, *, run_id: int | None) -> None:
        assert self._lock_started is not None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": timestamp(self._lock_started),
            "run_id": run_id,
        }
        temporary = self._lock_info_path.with_name(self._lock_info_path.name + f".{os.getpid()}")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps(info), encoding="utf-8")
            os.replace(temporary, self._lock_info_path)

    def _locked_message(self, lock_path: str) -> str:
        advice = "wait for it to finish or stop it"
        try:
            info = json.loads(self._lock_info_path.read_text(encoding="utf-8"))
            holder = f"pid {int(info['pid'])} on host {info['host']}"
            started = datetime.fromisoformat(info["started_at"]).strftime("%Y-%m-%d %H:%M:%S %Z")
            run = f"run {int(info['run_id'])}, " if info.get("run_id") is not None else ""
        except (OSError, ValueError, KeyError, TypeError):
            return f"{self.path} is in use by another run (lock {lock_path}); {advice}"
        return (
            f"{self.path} is in use by another run ({run}{holder}, started {started}; "
            f"lock {lock_path}); {advice}"
        )

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, *, input_path: str, input_sha256: str, options: dict[str, Any]) -> int:
        """Record a new run and return its id; `options` is stored without any key."""
        options_json = json.dumps(without_secrets(options), default=str, sort_keys=True)
        with self._transaction("record the run's start") as connection:
            cursor = connection.execute(
                "INSERT INTO runs (started_at, input_path, input_sha256, options_json, pid, host,"
                " tool_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    timestamp(self._now()),
                    str(input_path),
                    input_sha256,
                    options_json,
                    os.getpid(),
                    socket.gethostname(),
                    __version__,
                ),
            )
            run_id = cursor.lastrowid
        assert run_id is not None
        if self._lock_started is not None:
            self._write_lock_info(run_id=run_id)
        return run_id

    def finish_run(self, run_id: int, *, counts: dict[str, int], exit_code: int) -> None:
        """Record the run's end, its counts per outcome and the exit code it returned."""
        with self._transaction("record the run's end") as connection:
            cursor = connection.execute(
                "UPDATE runs SET ended_at = ?, counts_json = ?, exit_code = ? WHERE id = ?",
                (
                    timestamp(self._now()),
                    json.dumps({str(k): int(v) for k, v in counts.items()}),
                    int(exit_code),
                    run_id,
                ),
            )
            if cursor.rowcount != 1:
                raise self._unknown_run(run_id)

    def runs(self) -> list[RunInfo]:
        """Every run, newest first, killed ones included (no end, counts taken from rows)."""
        with self._guard:
            records = self._read(f"SELECT {RUN_COLUMNS_SQL} FROM runs ORDER BY id DESC")
            live = self._live_counts([r[0] for r in records if r[6] is None])
        return [run_info_from_record(record, live.get(record[0], {})) for record in records]

    def run_info(self, run_id: int) -> RunInfo:
        """One run; JournalError when the journal has no such run."""
        with self._guard:
            records = self._read(f"SELECT {RUN_COLUMNS_SQL} FROM runs WHERE id = ?", (run_id,))
            if not records:
                raise self._unknown_run(run_id)
            live = self._live_counts([run_id]) if records[0][6] is None else {}
        return run_info_from_record(records[0], live.get(run_id, {}))

    def prune(self, *, keep_runs: int) -> list[int]:
        """Forget the rows of every run but the newest ``keep_runs``; return the runs pruned.

        A nightly job records every row each night, so without this the journal grows by the
        size of the file every night. Lists and contacts runs alike (a contacts run's rows and
        those of the lists it created). The runs themselves (when, input, counts, exit code)
        stay listed, a killed run's counts taken from its rows before they go (so `run_rows`
        tells it from a run killed before it recorded any); each run records all its rows
        again, so what `known_lists` needs for the next run survives, and an interrupted run's
        credit is spent once a later run finished and reported its rows. ``keep_runs`` 0 keeps
        everything.
        """
        if keep_runs <= 0:
            return []
        with self._guard:
            pruned = [
                run_id
                for (run_id,) in self._read(
                    "SELECT id FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC "
                    'LIMIT ?) AND (EXISTS (SELECT 1 FROM "rows" WHERE run_id = runs.id) '
                    "OR EXISTS (SELECT 1 FROM contact_rows WHERE run_id = runs.id)) ORDER BY id",
                    (keep_runs,),
                )
            ]
            if pruned:
                marks = ", ".join("?" for _ in pruned)
                unrecorded = self._read(
                    f"SELECT id FROM runs WHERE id IN ({marks}) AND counts_json IS NULL",
                    tuple(pruned),
                )
                frozen = self._live_counts([run_id for (run_id,) in unrecorded])
                with self._transaction("prune old runs' rows") as connection:
                    connection.executemany(
                        "UPDATE runs SET counts_json = ? WHERE id = ?",
                        [(json.dumps(counts), run_id) for run_id, counts in frozen.items()],
                    )
                    for table in ('"rows"', "contact_rows"):
                        connection.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", pruned)
        return pruned

    def _live_counts(self, run_ids: list[int]) -> dict[int, dict[str, int]]:
        """Counts per outcome straight from the rows, for runs that never recorded theirs
        (a contacts run's from its contacts rows, not the rows of the lists it created)."""
        counts: dict[int, dict[str, int]] = {}
        for run_id in run_ids:
            per_outcome = counts.setdefault(run_id, {})
            contacts = self._read(
                "SELECT 1 FROM runs WHERE id = ? AND "
                "json_extract(options_json, '$.kind') = 'contacts'",
                (run_id,),
            )
            table = "contact_rows" if contacts else '"rows"'
            for outcome, count in self._read(
                f"SELECT outcome, count(*) FROM {table} WHERE run_id = ? GROUP BY outcome",
                (run_id,),
            ):
                key = _pending_if_unfinished(outcome, finished=False)
                per_outcome[key] = per_outcome.get(key, 0) + count
        return counts

    def _unknown_run(self, run_id: int) -> errors.JournalError:
        return errors.JournalError(
            f"{self.path} has no run {run_id}; `avosms-import runs` lists the runs it holds"
        )

    def _read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._guard:
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise errors.JournalError(
                    f"{self.path}: cannot read the journal ({exc}); move it away, "
                    "or use another --state"
                ) from None

    # -- rows -----------------------------------------------------------------------------

    def record_rows(self, run_id: int, rows: Iterable[RowRecord]) -> None:
        """Insert or update a batch of rows in one transaction: all of the batch, or none."""
        now = timestamp(self._now())
        parameters = (
            (
                run_id,
                r.row,
                r.list_name,
                r.country,
                r.name,
                r.country_code,
                r.outcome,
                r.code,
                r.message,
                r.list_contact_id,
                r.attempts,
                r.name_key,
                now,
            )
            for r in rows
        )
        self._upsert(run_id, parameters)

    def record_frame(self, run_id: int, frame: pd.DataFrame) -> None:
        """Record a whole prepared frame (RESULT_COLUMNS + name_key) in one transaction.

        Used at run start for every row, so a killed run can be rebuilt; columns go to SQLite as
        plain lists, without a Python object per row.
        """
        self._upsert(run_id, self._frame_rows(run_id, frame, ROW_FIELDS))

    def record_contacts(self, run_id: int, frame: pd.DataFrame) -> None:
        """Record contacts rows (`CONTACT_ROW_FIELDS` columns of `frame`) in one transaction."""
        self._upsert(
            run_id, self._frame_rows(run_id, frame, CONTACT_ROW_FIELDS), CONTACT_UPSERT_SQL
        )

    def _frame_rows(
        self, run_id: int, frame: pd.DataFrame, fields: tuple[str, ...]
    ) -> Iterator[tuple[Any, ...]]:
        """The upsert parameters of `frame`'s rows: columns as plain lists, no object per row."""
        columns: list[list[Any]] = []
        for name in fields:
            column = frame[name]
            if name in INT_FIELDS:
                columns.append(column.fillna(0).astype("int64").tolist())
            else:
                columns.append(column.fillna("").astype(str).tolist())
        now = timestamp(self._now())
        return zip(repeat(run_id), *columns, repeat(now), strict=False)

    def interrupted_changes(self, *, account: str, before_run: int) -> pd.DataFrame:
        """Per (list key, E.164), the latest contacts row (`CONTACT_ROW_FIELDS` and `run_id`)
        that a run before `before_run` on `account` that did not finish (killed, or exit 3)
        added, updated or removed, or may have. A killed run's rows in flight are journaled
        `pending` (`IN_FLIGHT`) with no attempt yet (the count comes with the answer): all of
        them count."""
        records = self._read(INTERRUPTED_CHANGES_SQL, (before_run, account))
        return pd.DataFrame.from_records(records, columns=[*CONTACT_ROW_FIELDS, "run_id"])

    def _upsert(
        self, run_id: int, parameters: Iterable[tuple[Any, ...]], sql: str = UPSERT_SQL
    ) -> None:
        try:
            with self._transaction("record rows") as connection:
                connection.executemany(sql, parameters)
        except errors.JournalError:
            if not self._read("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
                raise self._unknown_run(run_id) from None
            raise

    def run_rows(self, run_id: int) -> pd.DataFrame:
        """A run's rows as the results file has them (RESULT_COLUMNS, in row order).

        Rows of a run that never finished that are still `planned` were never sent: they come
        back `pending`.
        """
        info = self.run_info(run_id)
        columns, table = RESULT_COLUMNS, '"rows"'
        if info.options.get("kind") == "contacts":
            columns, table = CONTACT_COLUMNS, "contact_rows"
        names = ", ".join(f'"{name}"' for name in columns)
        records = self._read(
            f'SELECT {names} FROM {table} WHERE run_id = ? ORDER BY "row" < 1, abs("row")',
            (run_id,),
        )
        if not records and any(info.counts.values()):
            raise errors.JournalError(
                f"{self.path}: the rows of run {run_id} were pruned (only the newest runs keep "
                "theirs, see keep_runs); its counts are in `avosms-import runs`"
            )
        frame = pd.DataFrame.from_records(records, columns=list(columns))
        frame = frame.astype({name: ("int64" if name in INT_FIELDS else str) for name in columns})
        if not info.finished:
            frame.loc[frame["outcome"] == Outcome.PLANNED.value, "outcome"] = Outcome.PENDING.value
        return frame

    def known_lists(self, *, account: str | None = None) -> dict[str, KnownList]:
        """name_key → the list some run created or found, across runs; the latest wins.

        With `account`, only runs whose options recorded that same `account` count: a list
        made on one account (or a throwaway sandbox) says nothing about another.
        """
        if account is None:
            records = self._read(KNOWN_LISTS_SQL.format(account=""))
        else:
            records = self._read(KNOWN_LISTS_SQL.format(account=ACCOUNT_RUNS_SQL), (account,))
        moments: dict[str, datetime] = {}  # a batch shares one timestamp: parse it once
        known: dict[str, KnownList] = {}
        for name_key, list_contact_id, country_code, run_id, updated_at in records:
            moment = moments.get(updated_at)
            if moment is None:
                moment = moments[updated_at] = datetime.fromisoformat(updated_at)
            known[name_key] = KnownList(list_contact_id, country_code, run_id, moment)
        return known

    def interrupted_creations(
        self, *, account: str, before_run: int
    ) -> dict[str, InterruptedCreation]:
        """name_key → the run before `before_run` that created it, or may have, and was stopped.

        Runs on `account` that did not finish (killed) or exited 3 (stopped) count; their rows
        `created`, or `pending` after a request went out or may have (`IN_FLIGHT`: handed to
        the workers when the run was killed; an answer never received). The
        latest such run wins; its start comes with it, to tell its lists from older ones.
        """
        records = self._read(INTERRUPTED_CREATIONS_SQL, (before_run, account))
        return {
            name_key: InterruptedCreation(run_id, datetime.fromisoformat(started))
            for name_key, run_id, started in records
        }


__all__ = ["Journal"]
