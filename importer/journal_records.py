"""What the journal keeps, as its callers see it: the record types `importer.journal` takes
and returns, and how their values are stored (timestamps, run options without any key).

`importer.journal_schema` holds the tables and statements; `importer.journal` the `Journal`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple


class RowRecord(NamedTuple):
    """One row's state as the journal keeps it: the results-file columns plus the dedupe key
    (a tuple: the send loop makes two per row, a frozen dataclass cost 3 µs each)."""

    row: int
    list_name: str
    country: str
    name: str
    country_code: str
    outcome: str
    code: str
    message: str
    list_contact_id: str
    attempts: int
    name_key: str


@dataclass(frozen=True, slots=True)
class KnownList:
    """A list some run created or found, so a later run neither sends nor loses it."""

    list_contact_id: str
    country_code: str
    run_id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InterruptedCreation:
    """A stopped or killed run that created a list, or may have: its id and when it started."""

    run_id: int
    started_at: datetime


@dataclass(frozen=True)
class RunInfo:
    """One run as `avosms-import runs` shows it; a killed run has no end, counts from its rows."""

    run_id: int
    started_at: datetime
    ended_at: datetime | None
    input_path: str
    input_sha256: str
    options: dict[str, Any]
    counts: dict[str, int]
    exit_code: int | None
    pid: int
    host: str
    tool_version: str
    running: bool = False  # still going: it holds the journal's lock (`journal_lock`)

    @property
    def finished(self) -> bool:
        """False for a run still going or killed before it could record its end."""
        return self.ended_at is not None


def timestamp(moment: datetime) -> str:
    """`moment` as the journal stores it: UTC ISO text to the microsecond, one fixed format,
    so text order is time order in SQL."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _is_secret_name(name: object) -> bool:
    folded = str(name).casefold().replace("-", "_")
    return folded == "key" or folded.endswith("_key")


def without_secrets(value: Any) -> Any:
    """Drop every `key`-like entry, however deep: the API key must never reach the journal."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not _is_secret_name(k)}
    if isinstance(value, list | tuple):
        return [without_secrets(item) for item in value]
    return value


def run_info_from_record(record: tuple[Any, ...], live_counts: dict[str, int]) -> RunInfo:
    """The `RunInfo` of one `runs` row (`RUN_COLUMNS_SQL` order); `live_counts` stand in for
    the counts of a run that never recorded its own (killed)."""
    (run_id, started, ended, input_path, sha256, options, counts, exit_code, pid, host, version) = (
        record
    )
    return RunInfo(
        run_id=run_id,
        started_at=datetime.fromisoformat(started),
        ended_at=datetime.fromisoformat(ended) if ended is not None else None,
        input_path=input_path,
        input_sha256=sha256,
        options=json.loads(options) if options else {},
        counts=json.loads(counts) if counts is not None else dict(live_counts),
        exit_code=exit_code,
        pid=pid,
        host=host,
        tool_version=version,
    )


__all__ = [
    "InterruptedCreation",
    "KnownList",
    "RowRecord",
    "RunInfo",
    "run_info_from_record",
    "timestamp",
    "without_secrets",
]
