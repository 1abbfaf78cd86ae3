"""The results file: one row per input row, as CSV, XLSX or JSON, written atomically.

The operator opens it in Excel the morning after, so CSV is UTF-8 *with* a BOM (the only way
Excel detects UTF-8) and comma-delimited, and cells that Excel would run as formulas are
neutralised (OWASP CSV injection). JSON is data for programs and is written unchanged.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from importer.atomic_file import atomic_write
from importer.code_meanings import explain_code
from importer.errors import ConfigError
from importer.formula_guard import E164_PATTERN, neutralise_formulas, neutralise_text
from importer.records import RESULT_COLUMNS, Outcome

if TYPE_CHECKING:  # pandas and pyarrow are imported lazily: `--help` must start fast.
    import pandas as pd
    import pyarrow as pa

    from importer.list_tally import ListTally

#: Columns holding whole numbers; every other result column is text.
INT_COLUMNS = frozenset({"row", "attempts"})

#: The formats `write_results` knows, by file extension.
RESULT_FORMATS = (".csv", ".xlsx", ".json")

#: Rows turned into Python objects at a time when writing JSON (bounds memory).
JSON_BATCH_ROWS = 50_000
#: Rows of a results CSV turned into text at a time: a million rows' copy is never whole.
CSV_BATCH_ROWS = 100_000


_OUTCOME_VALUES = frozenset(o.value for o in Outcome)

_DELIMITER_NAMES = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "pipe (|)"}


@dataclass
class RunSummary:
    """What a run did, for the summary line, the results' Summary sheet and the report.

    Never holds the API key: `parameters` are the run's options as shown to the operator.
    """

    run_id: int | None
    input_path: str
    input_sha256: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    started_at: datetime
    ended_at: datetime | None
    """None for a run that did not finish (killed), its results rebuilt from the journal."""
    counts: dict[str, int] = field(default_factory=dict)
    code_counts: dict[str, int] = field(default_factory=dict)
    throttled_seconds: float = 0.0
    parameters: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    """What the rows are (`lists`, `contacts`); the summary line starts with it when set."""
    lists_created: int | None = None
    """Contacts: how many of their lists this run created first (None for lists)."""
    excluded_present: dict[str, list[str]] = field(default_factory=dict)
    """Contacts: list key -> excluded numbers it already holds on the account."""
    lists: tuple[ListTally, ...] = ()
    """Contacts: per target list, its rows by outcome and its contacts before and after."""

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())

    @property
    def elapsed_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.started_at).total_seconds())

    def ordered_counts(self) -> list[tuple[str, int]]:
        """Counts per outcome in the order of `Outcome`, unknown outcomes last."""
        known = [(o.value, self.counts[o.value]) for o in Outcome if o.value in self.counts]
        others = [(k, v) for k, v in self.counts.items() if k not in _OUTCOME_VALUES]
        return known + sorted(others)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (datetimes as ISO 8601)."""
        return {
            "run_id": self.run_id,
            "input_path": self.input_path,
            "input_sha256": self.input_sha256,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "elapsed_seconds": None
            if self.ended_at is None
            else round(self.elapsed_seconds or 0, 3),
            "rows": self.total_rows,
            "counts": dict(self.ordered_counts()),
            "code_counts": dict(sorted(self.code_counts.items())),
            "throttled_seconds": round(self.throttled_seconds, 3),
            "parameters": dict(self.parameters),
            "kind": self.kind,
            "lists_created": self.lists_created,
            "excluded_present": self.excluded_present,
            "lists": [tally.to_dict() for tally in self.lists],
        }

    def source_description(self) -> list[tuple[str, str]]:
        """How the input was read, as (label, value) pairs worth showing."""
        pairs = [("Input", self.input_path), ("Input SHA-256", self.input_sha256)]
        if self.encoding:
            pairs.append(("Encoding", self.encoding))
        if self.delimiter:
            pairs.append(("Delimiter", _DELIMITER_NAMES.get(self.delimiter, self.delimiter)))
        if self.sheet:
            pairs.append(("Sheet", self.sheet))
        return pairs


def tally(frame: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Counts per outcome and per code of a results frame, for `RunSummary`."""
    outcomes = frame["outcome"].astype("string").fillna("").value_counts(sort=False)
    codes = frame["code"].astype("string").fillna("")
    code_counts = codes[codes != ""].value_counts(sort=False)
    return (
        {str(k): int(v) for k, v in outcomes.items()},
        {str(k): int(v) for k, v in code_counts.items()},
    )


#: What a run that did not finish (killed) shows instead of its end.
DID_NOT_FINISH = "did not finish"


def ended_text(summary: RunSummary, sep: str) -> str:
    """The run's end to the second (date and time joined by `sep`), or `DID_NOT_FINISH`."""
    if summary.ended_at is None:
        return DID_NOT_FINISH
    return summary.ended_at.isoformat(sep=sep, timespec="seconds")


def format_duration(seconds: float) -> str:
    """`3.4 s`, `12 min 05 s`, `2 h 03 min`: short enough for a log line."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def summary_line(summary: RunSummary) -> str:
    """One line for stderr and the log: `lists: 12 rows in 3.4 s: 7 created, 1 failed`."""
    total, elapsed = summary.total_rows, summary.elapsed_seconds
    line = f"{summary.kind}: " if summary.kind else ""
    line += f"{total} {'row' if total == 1 else 'rows'} " + (
        f"({DID_NOT_FINISH})" if elapsed is None else f"in {format_duration(elapsed)}"
    )
    parts = [f"{count} {outcome}" for outcome, count in summary.ordered_counts() if count]
    if parts:
        line += ": " + ", ".join(parts)
    if summary.lists_created is not None:
        lists = "list" if summary.lists_created == 1 else "lists"
        line += f" ({summary.lists_created} {lists} created for them)"
    present = sum(map(len, summary.excluded_present.values()))
    if present:
        line += f", {present} excluded {'number' if present == 1 else 'numbers'} still in a list"
    if summary.throttled_seconds > 0:
        line += f", {format_duration(summary.throttled_seconds)} throttled"
    if "header_row" in summary.parameters:
        line += f" (header on row {summary.parameters['header_row']})"
    return line


def write_results(
    frame: pd.DataFrame,
    path: Path,
    summary: RunSummary,
    columns: Sequence[str] = RESULT_COLUMNS,
) -> None:
    """Write the results file, format chosen by extension (.csv, .xlsx, .json), atomically.

    `frame` holds at least `columns` (the kind's results columns; extra columns such as
    `name_key` are left out); exactly `columns` are written, in that order.
    """
    path = Path(path)
    writers = {".csv": _write_csv, ".xlsx": _write_xlsx, ".json": _write_json}
    writer = writers[_format_of(path)]
    with atomic_write(path) as handle:
        if writer is not _write_csv:
            writer(result_table(frame, columns), handle, summary)
            return
        for start in range(0, max(len(frame), 1), CSV_BATCH_ROWS):
            part = result_table(frame.iloc[start : start + CSV_BATCH_ROWS], columns)
            _write_csv(part, handle, summary, header=start == 0)


def write_table(frame: pd.DataFrame, path: Path, *, sheet_name: str = "Sheet1") -> None:
    """Any table (e.g. the account's lists) as .csv, .xlsx or .json, with the results' care:
    atomic, every cell text, formulas neutralised in CSV/XLSX; JSON is an array of objects.
    """
    path = Path(path)
    suffix = _format_of(path)
    table = text_table(frame)
    with atomic_write(path) as handle:
        if suffix == ".csv":
            _write_csv(table, handle, None)
        elif suffix == ".json":
            _write_json_rows(table, handle, prefix="[", suffix="\n]\n", indent="\n ")
        else:
            from importer.results_xlsx import write_workbook

            write_workbook(
                handle, neutralise_formulas(table, keep=E164_PATTERN), sheet_name=sheet_name
            )


def check_writable(path: Path, *, results: bool = True, rows: int = 0) -> None:
    """Refuse, before anything is sent, an output that could not be written afterwards.

    Checks the format (for results files), that the folder exists or can be made, and that it
    is writable; a run must not create lists and then fail to say so.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file name for the output")
    if results and _format_of(path) == ".xlsx":
        from importer.results_xlsx import check_rows_fit

        check_rows_fit(rows, f"{path}: ")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{path}: cannot create its folder: {error.strerror}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{path}: cannot write here (permission denied)")


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in RESULT_FORMATS:
        raise ConfigError(
            f"{path}: unknown file format {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(RESULT_FORMATS)}"
        )
    return suffix


def text_table(frame: pd.DataFrame) -> pa.Table:
    """Every column of `frame` as text ("" for missing), in the frame's order."""
    import pyarrow as pa

    arrays = [
        pa.array(frame[c].astype("string").fillna(""), type=pa.large_string(), from_pandas=True)
        for c in frame.columns
    ]
    return pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])


def result_table(frame: pd.DataFrame, columns: Sequence[str] = RESULT_COLUMNS) -> pa.Table:
    """Exactly `columns` as an Arrow table: `row`/`attempts` int64, the rest text ("")."""
    import pandas as pd
    import pyarrow as pa

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"results frame lacks column(s): {', '.join(missing)}")
    arrays = []
    for column in columns:
        values = frame[column]
        if column in INT_COLUMNS:  # a `row` below 1 is no input row (a removal): empty
            numbers = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64").to_numpy()
            arrays.append(pa.array(numbers, mask=(numbers < 1) & (column == "row")))
        else:
            text = values.astype("string").fillna("")
            arrays.append(pa.array(text, type=pa.large_string(), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=list(columns))


def _write_csv(
    table: pa.Table, handle: IO[bytes], summary: RunSummary | None, *, header: bool = True
) -> None:
    """UTF-8 with BOM, comma-delimited, fields quoted as needed; pyarrow's writer (fastest).
    `header=False`: more rows of a file already begun."""
    import pyarrow.csv as pacsv

    if header:
        handle.write("\ufeff".encode())
    pacsv.write_csv(
        neutralise_formulas(table), handle, write_options=pacsv.WriteOptions(include_header=header)
    )


def _write_json(table: pa.Table, handle: IO[bytes], summary: RunSummary) -> None:
    """`{"summary": {...}, "rows": [...]}`, one row per line so a diff stays readable."""
    head = '{"summary": ' + json.dumps(summary.to_dict(), ensure_ascii=False, indent=2)
    _write_json_rows(table, handle, prefix=head + ',\n "rows": [', suffix="\n ]}\n")


def _write_json_rows(
    table: pa.Table, handle: IO[bytes], *, prefix: str, suffix: str, indent: str = "\n  "
) -> None:
    """The rows as JSON objects, one a line, between `prefix` and `suffix`."""
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n", write_through=False)
    try:
        text.write(prefix)
        encode = json.JSONEncoder(ensure_ascii=False).encode
        separator = indent
        # In batches: a million row dicts at once would take most of a gigabyte.
        for batch in table.to_batches(max_chunksize=JSON_BATCH_ROWS):
            for row in batch.to_pylist():
                text.write(separator)
                text.write(encode(row))
                separator = "," + indent
        text.write(suffix)
        text.flush()
    finally:
        text.detach()  # the caller owns `handle` and syncs it


def _write_xlsx(table: pa.Table, handle: IO[bytes], summary: RunSummary) -> None:
    """Sheet "Results" (frozen header, autofilter, widths, rows tinted by outcome, text cells),
    sheet "Summary" and, for contacts, sheet "Lists"; see `results_xlsx`."""
    from importer.results_xlsx import Section, write_workbook

    headings = {
        "Run": ("Run", "Value"),
        "Outcomes": ("Outcome", "Rows"),
        "Codes": ("Code", "Rows", "Meaning"),
        "Parameters": ("Option", "Value"),
    }
    sections = []
    for name, pairs in summary_rows(summary).items():
        rows = []
        for key, value in pairs:
            row: list[Any] = [neutralise_text(key)]
            row.append(neutralise_text(value) if isinstance(value, str) else value)
            if name == "Codes":
                row.append(explain_code(key, summary.kind))
            rows.append(row)
        sections.append(Section(headings[name], rows))
    lists = None
    if summary.lists:
        from importer.list_tally import summary_table

        per_list, table_rows = summary_table(summary.lists, planning=summary.run_id is None)
        for row in table_rows:
            row[0] = neutralise_text(row[0])
        lists = Section(per_list, table_rows)
    results = neutralise_formulas(table, keep=E164_PATTERN)
    write_workbook(handle, results, sheet_name="Results", summary=sections, lists=lists)


def summary_rows(summary: RunSummary) -> Mapping[str, list[tuple[str, Any]]]:
    """The Summary sheet's sections: run facts, counts per outcome and code, parameters."""
    elapsed = summary.elapsed_seconds
    run: list[tuple[str, Any]] = [("Run id", "" if summary.run_id is None else summary.run_id)]
    run += summary.source_description()
    run += [
        ("Started at", summary.started_at.isoformat(timespec="seconds")),
        ("Ended at", ended_text(summary, "T")),
        ("Elapsed (s)", "" if elapsed is None else round(elapsed, 1)),
        ("Throttled (s)", round(summary.throttled_seconds, 1)),
    ]
    if summary.kind:
        run.insert(1, ("Kind", summary.kind))
    if summary.lists_created is not None:
        run.append(("Lists created for them", summary.lists_created))
    for name, numbers in summary.excluded_present.items():
        run.append((f"Excluded numbers still in list {name!r}", ", ".join(numbers)))
    outcomes: list[tuple[str, Any]] = list(summary.ordered_counts())
    outcomes.append(("total", summary.total_rows))
    codes = [(code, count) for code, count in sorted(summary.code_counts.items()) if code]
    params = [(key, str(value)) for key, value in summary.parameters.items()]
    return {"Run": run, "Outcomes": outcomes, "Codes": codes, "Parameters": params}
