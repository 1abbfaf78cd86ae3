"""The .xlsx layout of a results file: one sheet of text cells, tinted by outcome, the
`Summary` sheet, and for contacts a `Lists` sheet (the per-list table); written by
rustpy-xlsxwriter (Rust, constant memory) in about a second for 100,000 rows, where a style
object per cell took most of a minute.

The layout follows the columns it is given (the results' columns today, more for other
kinds tomorrow). Formulas are neutralised by the caller (`formula_guard.neutralise_formulas`); this
module only makes text an .xlsx can hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from importer.errors import ConfigError
from importer.records import Outcome

if TYPE_CHECKING:  # imported lazily: `--help` must start fast.
    import pyarrow as pa

#: Row tints by outcome, light enough to read black text on.
OUTCOME_FILLS: dict[str, str] = {
    Outcome.CREATED: "C6EFCE",  # light green
    Outcome.UPDATED: "C6EFCE",
    Outcome.EXISTS: "DDEBF7",  # light blue
    Outcome.DELETED: "F2E6DC",  # light brown
    Outcome.DUPLICATE: "EDEDED",  # light grey
    Outcome.PLANNED: "EDEDED",
    Outcome.EXCLUDED: "E4DFEC",  # light purple
    Outcome.FAILED: "FFC7CE",  # light red
    Outcome.INVALID: "FFC7CE",
    Outcome.PENDING: "FFEB9C",  # light yellow
}

#: The column whose value picks a row's tint, when the table has it.
TINT_COLUMN = "outcome"
#: Excel's limits: rows per sheet (header included) and characters per cell.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELL_CHARS = 32_767
#: Column widths, in characters (what Excel's column-width box shows).
XLSX_MIN_WIDTH, XLSX_MAX_WIDTH = 6, 60
#: The Summary sheet's column widths, in characters; the Lists sheet's name column is as wide
#: as the first, its counts `SUMMARY_COUNT_WIDTH`.
SUMMARY_WIDTHS = (24, 70, 80)
SUMMARY_COUNT_WIDTH = 16
#: Control characters an .xlsx cannot hold (XML 1.0); replaced by U+FFFD there.
XLSX_ILLEGAL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
#: Excel's number format for text: a cell typed into later stays text too.
TEXT_FORMAT = "@"


@dataclass(frozen=True)
class Section:
    """One block of the Summary sheet: a bold heading row, then its rows (text or numbers)."""

    headings: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


def check_rows_fit(rows: int, what: str) -> None:
    """Refuse a table of `rows` data rows that one .xlsx sheet cannot hold (header included)."""
    if rows >= XLSX_MAX_ROWS:
        raise ConfigError(
            f"{what}{rows} rows do not fit in one .xlsx sheet ({XLSX_MAX_ROWS - 1} at most); "
            "write the results as .csv"
        )


def write_workbook(
    handle: IO[bytes],
    table: pa.Table,
    *,
    sheet_name: str,
    summary: Iterable[Section] | None = None,
    lists: Section | None = None,
) -> None:
    """`table` as a sheet of text cells, and, if given, a `Summary` sheet of `summary` and a
    `Lists` sheet of `lists` (its headings as its header row, frozen, with an autofilter).

    The table's sheet has a frozen bold header, an autofilter over every row, column widths
    from the longest value (capped), and, when it has an `outcome` column, each row tinted by
    its outcome through one row format per outcome (Excel paints a row's empty cells too).
    Every cell is text with the text number format, so Excel never turns `007` into 7.
    """
    import rustpy_xlsxwriter as xlsx

    check_rows_fit(table.num_rows, "")
    text = xlsx_text(table)
    header = xlsx.Format().set_bold().set_num_format(TEXT_FORMAT)
    sheets: list[tuple[str, Any]] = [(sheet_name, text)]
    widths: dict[str, Any] = {sheet_name: column_widths(text)}
    row_formats = {sheet_name: _row_formats(text, xlsx.Format)}
    if summary is not None:
        summary = list(summary)
        records, bold_rows = _summary_records(summary)
        sheets.append(("Summary", records))
        columns = max((len(section.headings) for section in summary), default=0)
        extra = [SUMMARY_COUNT_WIDTH] * max(0, columns - len(SUMMARY_WIDTHS))
        widths["Summary"] = [*SUMMARY_WIDTHS, *extra]
        row_formats["Summary"] = dict.fromkeys(bold_rows, header)
    framed = [sheet_name]
    if lists is not None:
        sheets.append(("Lists", [_record(lists.headings, row) for row in lists.rows]))
        others = [SUMMARY_COUNT_WIDTH] * (len(lists.headings) - 1)
        widths["Lists"] = [SUMMARY_WIDTHS[0], *others]
        row_formats["Lists"] = {}
        framed.append("Lists")
    try:
        xlsx.write_worksheets(
            sheets,
            cast(BinaryIO, handle),  # the writer needs only `write`
            freeze_panes={name: {"row": 1, "col": 0} for name in framed},
            autofilter=dict.fromkeys(framed, True),
            header_format=dict.fromkeys(row_formats, header),
            column_widths=widths,
            row_formats=row_formats,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        # The Rust writer reports a refused write (disk full, file too large) as a panic, which
        # Python sees as a BaseException: an OSError here, so the caller says it in one line.
        raise OSError(f"the workbook writer stopped: {error}") from error


def xlsx_text(table: pa.Table) -> pa.Table:
    """Every column as text an .xlsx can hold: numbers as digits, no control chars, capped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        text = pc.cast(column, pa.large_string()).fill_null("")
        # Most columns hold no control character: rewrite only those that do.
        if pc.any(pc.match_substring_regex(text, XLSX_ILLEGAL_PATTERN)).as_py():
            text = pc.replace_substring_regex(text, XLSX_ILLEGAL_PATTERN, "\ufffd")
        if (pc.max(pc.utf8_length(text)).as_py() or 0) > XLSX_MAX_CELL_CHARS:
            text = pc.utf8_slice_codeunits(text, 0, XLSX_MAX_CELL_CHARS)
        columns.append(text)
    return pa.Table.from_arrays(columns, names=table.column_names)


def column_widths(text: pa.Table) -> list[int]:
    """Each column's width in characters: its longest value or header, within the bounds."""
    import pyarrow.compute as pc

    widths = []
    for name, column in zip(text.column_names, text.columns, strict=True):
        longest = pc.max(pc.utf8_length(column)).as_py() or 0
        widths.append(min(XLSX_MAX_WIDTH, max(XLSX_MIN_WIDTH, len(name), longest)) + 2)
    return widths


def _row_formats(text: pa.Table, new_format: Any) -> dict[int, Any]:
    """Sheet row (0 is the header) → its format: text, tinted by outcome when there is one.

    One format object per outcome, shared by its rows: the writer copies a row's format into
    each cell it writes in that row, and Excel paints the row's empty cells with it.
    """
    plain = new_format().set_num_format(TEXT_FORMAT)
    if TINT_COLUMN not in text.column_names:
        return dict.fromkeys(range(1, text.num_rows + 1), plain)
    tinted = {
        str(outcome): new_format().set_num_format(TEXT_FORMAT).set_background_color(colour)
        for outcome, colour in OUTCOME_FILLS.items()
    }
    outcomes = text.column(TINT_COLUMN).to_pylist()
    return {row: tinted.get(outcome, plain) for row, outcome in enumerate(outcomes, start=1)}


def _summary_records(sections: Iterable[Section]) -> tuple[list[dict[str, Any]], list[int]]:
    """The Summary sheet as records under the first heading, and the sheet rows to make bold.

    The writer takes the first record's keys as the header row: the first section's headings
    (padded with blank headers up to the widest section), so every section, the first one
    included, starts with a bold heading row.
    """
    sections = list(sections)
    width = max((len(s.headings) for s in sections), default=1)
    first = sections[0].headings if sections else ()
    # Record keys must differ: the first blank heading is "", any further one a space or two.
    keys = [*first, *(" " * n for n in range(width - len(first)))]

    def record(values: Sequence[Any]) -> dict[str, Any]:
        return _record(keys, [*values, *[None] * (width - len(values))])

    records: list[dict[str, Any]] = []
    bold_rows: list[int] = []
    for number, section in enumerate(sections):
        if number:
            records.append(record(()))  # a blank row between two sections
            bold_rows.append(len(records) + 1)
            records.append(record(section.headings))
        records += [record(row) for row in section.rows]
    return records, bold_rows


def _record(keys: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(keys, [_cell(value) for value in values], strict=True))


def _cell(value: Any) -> Any:
    """One Summary value: numbers stay numbers, text loses what an .xlsx cannot hold."""
    return re.sub(XLSX_ILLEGAL_PATTERN, "\ufffd", value) if isinstance(value, str) else value
