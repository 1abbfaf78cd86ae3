"""The journal's SQLite schema: its tables, migrations, the checks made on opening a file, and
the statements the journal runs (`importer.journal_records` holds the records, `importer.journal`
the `Journal`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from importer import errors
from importer.records import CONTACT_COLUMNS, RESULT_COLUMNS

#: Upgrades a connection's schema by one version, inside the caller's transaction.
Migration = Callable[[sqlite3.Connection], None]


def _sql(*statements: str) -> Migration:
    """A migration made of plain statements (not `executescript`, which would commit early)."""

    def migrate(connection: sqlite3.Connection) -> None:
        for statement in statements:
            connection.execute(statement)

    return migrate


_CREATE_RUNS = """
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT    NOT NULL,
    ended_at      TEXT,
    input_path    TEXT    NOT NULL,
    input_sha256  TEXT    NOT NULL,
    options_json  TEXT    NOT NULL DEFAULT '{}',
    counts_json   TEXT,
    exit_code     INTEGER,
    pid           INTEGER NOT NULL,
    host          TEXT    NOT NULL,
    tool_version  TEXT    NOT NULL
)"""

# WITHOUT ROWID: the (run_id, row) key is the only B-tree, so the bulk insert at run start
# writes each row once instead of twice.
_CREATE_ROWS = """
CREATE TABLE "rows" (
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    "row"            INTEGER NOT NULL,
    list_name        TEXT    NOT NULL DEFAULT '',
    country          TEXT    NOT NULL DEFAULT '',
    name             TEXT    NOT NULL DEFAULT '',
    country_code     TEXT    NOT NULL DEFAULT '',
    name_key         TEXT    NOT NULL DEFAULT '',
    outcome          TEXT    NOT NULL,
    code             TEXT    NOT NULL DEFAULT '',
    message          TEXT    NOT NULL DEFAULT '',
    list_contact_id  TEXT    NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (run_id, "row")
) WITHOUT ROWID"""

# Partial: only rows holding a list id are indexed, so recording a million planned rows at run
# start costs nothing here. Covering: `known_lists` reads the index alone, already grouped by
# name. The WHERE must match `KNOWN_LISTS_SQL` for the planner to use it.
_KNOWN_WHERE = "outcome IN ('created', 'exists') AND list_contact_id <> ''"
_CREATE_KNOWN_INDEX = (
    'CREATE INDEX rows_known_lists ON "rows" '
    f"(name_key, updated_at, run_id, list_contact_id, country_code, outcome) WHERE {_KNOWN_WHERE}"
)

#: Contacts: one row per input row of a contacts run, its results columns plus its key in the
#: account (the list's key and the number in E.164), as `kinds.contacts` declares them, and the
#: request it is planned for (`kinds.contacts.Action`; a removal's row is -1, -2, …).
CONTACT_ROW_FIELDS: tuple[str, ...] = (*CONTACT_COLUMNS, "list_key", "e164", "action")
#: The contacts table as its migration first made it: frozen, whatever the fields become later.
_FIRST_CONTACT_FIELDS = (
    *("list_name", "country", "phone", "list_contact_id", "number", "civility", "last_name"),
    *("first_name", "email", "birthday", "other", "outcome", "code", "message", "attempts"),
    *("list_key", "e164"),
)
_CREATE_CONTACT_ROWS = (
    'CREATE TABLE contact_rows (run_id INTEGER NOT NULL REFERENCES runs(id), "row" INTEGER NOT '
    "NULL, "
    + ", ".join(
        f'"{name}" INTEGER NOT NULL DEFAULT 0'
        if name == "attempts"
        else f"\"{name}\" TEXT NOT NULL DEFAULT ''"
        for name in _FIRST_CONTACT_FIELDS
    )
    + ', updated_at TEXT NOT NULL, PRIMARY KEY (run_id, "row")) WITHOUT ROWID'
)

#: MIGRATIONS[n] upgrades a version-n journal to version n+1; the newest version is its length.
#: Version 0 is an empty file. Append, never edit: journals in the field were written by the
#: earlier entries.
MIGRATIONS: list[Migration] = [
    _sql(_CREATE_RUNS, _CREATE_ROWS, _CREATE_KNOWN_INDEX),
    # Contacts: a lists-only journal gains the contacts table, its runs and rows kept.
    _sql(_CREATE_CONTACT_ROWS),
    # Updates and removals: each contacts row says its request; earlier rows were all adds.
    _sql("ALTER TABLE contact_rows ADD COLUMN action TEXT NOT NULL DEFAULT 'add'"),
]

#: Columns this code reads and writes; a journal lacking any of them is refused, not misread.
_EXPECTED_COLUMNS: dict[str, frozenset[str]] = {
    "runs": frozenset(
        {
            "id",
            "started_at",
            "ended_at",
            "input_path",
            "input_sha256",
            "options_json",
            "counts_json",
            "exit_code",
            "pid",
            "host",
            "tool_version",
        }
    ),
    "rows": frozenset({"run_id", "updated_at", "name_key", *RESULT_COLUMNS}),
    "contact_rows": frozenset({"run_id", "updated_at", *CONTACT_ROW_FIELDS}),
}

ROW_FIELDS: tuple[str, ...] = (*RESULT_COLUMNS, "name_key")
INT_FIELDS = frozenset({"row", "attempts"})


def _upsert_sql(table: str, fields: tuple[str, ...]) -> str:
    """Insert a row of `table` (run_id, `fields`, updated_at), or update it by (run_id, row)."""
    names = ", ".join(f'"{name}"' for name in fields)
    return (
        f"INSERT INTO {table} (run_id, {names}, updated_at) "
        f"VALUES ({', '.join('?' * (len(fields) + 2))}) "
        'ON CONFLICT (run_id, "row") DO UPDATE SET '
        + ", ".join(f'"{name}" = excluded."{name}"' for name in (*fields[1:], "updated_at"))
    )


UPSERT_SQL = _upsert_sql('"rows"', ROW_FIELDS)
# SQLite takes the bare columns from the row holding max(updated_at): the latest record wins.
KNOWN_LISTS_SQL = (
    "SELECT name_key, list_contact_id, country_code, run_id, max(updated_at) "
    f'FROM "rows" WHERE {_KNOWN_WHERE} {{account}} GROUP BY name_key'
)
# The unary + keeps the planner on the covering index instead of fetching every row by run.
ACCOUNT_RUNS_SQL = (
    "AND +run_id IN (SELECT id FROM runs WHERE json_extract(options_json, '$.account') = ?)"
)
_ACCOUNT_RUN = "json_extract(options_json, '$.account') = ?2"
_INTERRUPTED_RUNS = (
    f"SELECT id FROM runs WHERE id < ?1 AND (ended_at IS NULL OR exit_code = 3) AND {_ACCOUNT_RUN}"
)
_ROWS = '"rows"'
_MAY_HAVE_SENT = "(outcome = 'pending' AND (attempts > 0 OR code = 'IN_FLIGHT'))"


def _told_later(table: str, keys: str) -> str:
    """The CTE `told`: per key of `changed`, the latest later run that finished and settled it
    (its results told it; an interrupted run's credit is then spent). One pass over the later
    runs' rows, joined to the few changed ones (no index on the key: it would slow every run's
    bulk insert)."""
    return (
        f"told AS (SELECT {', '.join(f'later.{key}' for key in keys.split(', '))}, "
        f"max(later.run_id) AS run_id FROM {table} AS later JOIN changed USING ({keys}) "
        "WHERE later.run_id IN (SELECT id FROM runs WHERE id < ?1 AND id > (SELECT min(run_id) "
        f"FROM changed) AND ended_at IS NOT NULL AND {_ACCOUNT_RUN}) "
        "AND later.outcome NOT IN ('pending', 'planned') "
        f"GROUP BY {', '.join(f'later.{key}' for key in keys.split(', '))}) "
    )


# A list counts when a stopped or killed run created it, or may have (a request went out, or was
# handed to the workers when the run was killed: `IN_FLIGHT`), and no later run told it.
INTERRUPTED_CREATIONS_SQL = (
    'WITH changed AS (SELECT name_key, max(run_id) AS run_id FROM "rows" '
    f"WHERE run_id IN ({_INTERRUPTED_RUNS}) AND (outcome = 'created' OR {_MAY_HAVE_SENT}) "
    f"GROUP BY name_key), {_told_later(_ROWS, 'name_key')}"
    "SELECT changed.name_key, changed.run_id, runs.started_at FROM changed "
    "JOIN runs ON runs.id = changed.run_id LEFT JOIN told USING (name_key) "
    "WHERE told.run_id IS NULL OR told.run_id <= changed.run_id"
)
CONTACT_UPSERT_SQL = _upsert_sql("contact_rows", CONTACT_ROW_FIELDS)
_CONTACT_NAMES = ", ".join(f'"{name}"' for name in CONTACT_ROW_FIELDS)
# Per contact, the latest row of an interrupted run that changed it, or may have; a row never
# sent (`NOT_SENT`) was not changed by that run. SQLite takes the bare columns from the row
# holding max(run_id).
INTERRUPTED_CHANGES_SQL = (
    f"WITH changed AS (SELECT {_CONTACT_NAMES}, max(run_id) AS run_id FROM contact_rows "
    f"WHERE run_id IN ({_INTERRUPTED_RUNS}) AND (outcome IN ('created', 'updated', 'deleted') "
    f"OR {_MAY_HAVE_SENT}) GROUP BY list_key, e164), "
    f"{_told_later('contact_rows', 'list_key, e164')}"
    f"SELECT {', '.join(f'changed.{name}' for name in _CONTACT_NAMES.split(', '))}, "
    "changed.run_id FROM changed LEFT JOIN told USING (list_key, e164) "
    "WHERE told.run_id IS NULL OR told.run_id <= changed.run_id"
)
RUN_COLUMNS_SQL = (
    "id, started_at, ended_at, input_path, input_sha256, options_json, counts_json, exit_code, "
    "pid, host, tool_version"
)


def prepare_database(path: Path, connection: sqlite3.Connection) -> None:
    """Check the file is our journal, switch to WAL and bring the schema up to date."""
    newest = len(MIGRATIONS)
    refuse = "move it away, or use another --state"
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = _tables(connection)
    except sqlite3.DatabaseError:
        raise errors.JournalError(
            f"{path} is not an avosms-import journal (not a SQLite database): {refuse}"
        ) from None
    if version > newest:
        raise errors.JournalError(
            f"{path} was written by a newer avosms-import (schema {version}, this one knows "
            f"{newest}): upgrade, or use another --state"
        )
    if version == 0 and tables:
        raise errors.JournalError(
            f"{path} is not an avosms-import journal (it holds other tables: "
            f"{', '.join(sorted(tables))}): {refuse}"
        )
    try:
        # WAL: readers (`runs`, `results`) never block the run, and a killed writer leaves
        # the last commit intact. NORMAL sync is safe against a killed process.
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise errors.JournalError(f"{path}: cannot open the journal ({exc}); {refuse}") from None
    if version < newest:
        _migrate(path, connection)
    _check_columns(path, connection)


def _tables(connection: sqlite3.Connection) -> set[str]:
    found = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {name for (name,) in found}


def _migrate(path: Path, connection: sqlite3.Connection) -> None:
    """Upgrade step by step, all in one transaction: a failure leaves the file as it was."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise errors.JournalError(f"{path}: cannot upgrade the journal ({exc})") from None
    # Read again under the write lock: another process may have upgraded meanwhile.
    version = start = connection.execute("PRAGMA user_version").fetchone()[0]
    try:
        while version < len(MIGRATIONS):
            MIGRATIONS[version](connection)
            version += 1
            connection.execute(f"PRAGMA user_version = {version:d}")
        connection.execute("COMMIT")
    except Exception as exc:
        connection.rollback()
        raise errors.JournalError(
            f"{path}: could not upgrade the journal from schema {start} to {len(MIGRATIONS)} "
            f"({exc}); it was left unchanged: use the previous avosms-import, or another --state"
        ) from None


def _check_columns(path: Path, connection: sqlite3.Connection) -> None:
    for table, expected in _EXPECTED_COLUMNS.items():
        found = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        missing = expected - found
        if not found:
            problem = f"it has no {table} table"
        elif missing:
            problem = f"its {table} table lacks {', '.join(sorted(missing))}"
        else:
            continue
        raise errors.JournalError(
            f"{path} is not a usable avosms-import journal ({problem}): move it away, "
            "or use another --state"
        )
