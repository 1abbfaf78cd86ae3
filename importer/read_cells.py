"""Find the workbook cells of the wanted columns that are not what the sheet shows.

calamine gives every cell's stored value fast, but not its number format, and it shows an
error cell or a formula saved without its value as an empty cell. So only the suspect cells
(a number, a date or a time; an empty cell in a row that is not blank) are looked at again:
in .xlsx/.xlsm through openpyxl, which reads the number formats, errors and formulas of just
the rows that hold them; in .ods, which keeps the text each cell shows, from that text, its
error marks and formulas; in .xls/.xlsb, whose formats no dependency reads, dates and times are
still caught (calamine types them) and a number is kept as Excel's General format shows it,
with a warning naming the cell.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from importer.cells import (
    CellFact,
    CellTrap,
    cell_address,
    cell_text,
    displayed_text,
    whole_digits,
)

#: Workbooks whose number formats, errors and formulas openpyxl reads.
STYLED_SUFFIXES = frozenset({".xlsx", ".xlsm"})


@dataclass(frozen=True)
class Suspect:
    """A cell worth a second look: its place in the body, column and stored value."""

    index: int  # position in the body (the rows below the header)
    column: int  # 0-based column index
    role: str
    value: Any


@dataclass
class CellReview:
    """What the second look found: facts, and the displayed text of cells that have one."""

    facts: list[CellFact]
    texts: dict[tuple[int, int], str]  # (body index, column) -> the text the sheet shows


def review_cells(
    suffix: str,
    data: bytes,
    sheet: str,
    first_row: int,
    suspects: Sequence[Suspect],
    digit_roles: frozenset[str] = frozenset(),
) -> CellReview:
    """Facts about the suspect cells; `first_row` is the sheet row of body index 0.

    In the columns of `digit_roles` (a phone) a whole number is read as its digits when its
    format's display cannot be derived (`0.00E+00`, `#,##0`): the value is exact; a date or a
    time is a fact even when its display is known (it is no number).
    """
    review = CellReview([], {})
    styled = suffix in STYLED_SUFFIXES
    empty = any(type(suspect.value) is str for suspect in suspects)
    if styled and empty and not _may_hide_values(data, sheet):
        # No formula and no error cell anywhere: an empty cell is just empty.
        suspects = [suspect for suspect in suspects if type(suspect.value) is not str]
    if not suspects:
        return review
    looks = None
    if styled:
        looks = _openpyxl_cells(data, sheet, first_row, suspects)
    elif suffix == ".ods":
        looks = _ods_cells(data, sheet, {(first_row + s.index, s.column) for s in suspects})
    for suspect in suspects:
        row = first_row + suspect.index
        look = None if looks is None else looks.get((row, suspect.column))
        found = _judge(suspect.value, look)
        formatted = isinstance(found, tuple) and found[0] is CellTrap.FORMATTED_NUMBER
        if formatted and suspect.role in digit_roles:
            found = whole_digits(suspect.value) or found
        date_trap = _date_or_time(suspect.value)
        if isinstance(found, str) and date_trap is not None and suspect.role in digit_roles:
            # A date shown as such is not a phone number: never read its text as one.
            found = date_trap, found, None
        if isinstance(found, str):
            review.texts[(suspect.index, suspect.column)] = found
        elif found is not None:
            trap, detail, sent_as = found
            address = cell_address(row, suspect.column)
            review.facts.append(CellFact(row, address, suspect.role, trap, detail, sent_as))
    return review


def _judge(value: object, look: _Look | None) -> str | tuple[CellTrap, str, str | None] | None:
    """The text the sheet shows, or a fact (trap, detail, text sent), or None: nothing wrong."""
    if type(value) is str:  # empty to calamine: an error, a formula without value, or empty
        if look is not None and look.data_type == "e":
            return CellTrap.ERROR, str(look.value), None
        if look is not None and look.formula:
            return CellTrap.FORMULA_WITHOUT_VALUE, look.formula, None
        return None
    trap = _date_or_time(value)
    if look is not None and look.data_type == "e":  # an ODS error reads as a number
        return CellTrap.ERROR, look.shown or str(look.value), None
    if look is not None and look.shown is not None:  # ODS keeps the text it shows
        if trap is not None:
            return trap, f"{cell_text(value)}, shown as {look.shown}", None
        return look.shown if look.shown else None
    if look is not None:
        shown = displayed_text(value, look.number_format)
        if shown is not None:
            return shown
        if trap is not None:
            return trap, f"{cell_text(value)}, shown as {look.number_format}", None
        return CellTrap.FORMATTED_NUMBER, look.number_format, None
    if trap is not None:
        return trap, cell_text(value), None
    if isinstance(value, bool):
        return None
    return CellTrap.UNKNOWN_FORMAT, cell_text(value), cell_text(value)


# A formula (its end tag `</f>` or `</x:f>`: a sheet with shared formulas holds at least one) or
# an error cell (`t="e"`) in a sheet's XML. Plain byte searches, many times faster than a
# regular expression on a big sheet; a chance match elsewhere only costs a needless second look.
_HIDING = (b"f>", b't="e"')
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _may_hide_values(data: bytes, sheet: str) -> bool:
    """Whether the sheet's XML holds a formula or an error cell: one streamed scan.

    True whenever the sheet's part cannot be found, so that the careful path is taken.
    """
    import xml.etree.ElementTree as ET

    try:
        with _sheet_xml(data, sheet) as stream:
            if stream is None:
                return True
            tail = b""
            while chunk := stream.read(1 << 20):
                window = tail + chunk
                if any(mark in window for mark in _HIDING):
                    return True
                tail = chunk[-16:]
    except (KeyError, OSError, zipfile.BadZipFile, ET.ParseError):
        return True
    return False


@contextmanager
def _sheet_xml(data: bytes, sheet: str) -> Iterator[IO[bytes] | None]:
    """A sheet's XML in an .xlsx/.xlsm archive, streamed; None when its part cannot be told.

    Damaged archives raise KeyError, OSError, BadZipFile or ParseError: callers decide.
    """
    import xml.etree.ElementTree as ET

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        book = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        ids = {e.get(_RELATIONSHIPS) for e in book.iter() if e.get("name") == sheet}
        targets = [e.get("Target", "") for e in rels.iter() if e.get("Id") in ids]
        if len(targets) != 1:
            yield None
            return
        target = targets[0]
        with archive.open(target.lstrip("/") if target.startswith("/") else f"xl/{target}") as xml:
            yield xml


def _empty_text_results(data: bytes, sheet: str, addresses: set[str]) -> set[str]:
    """Which of these formula cells hold a computed value that is empty text.

    Excel and LibreOffice store `=""` as `<c t="str"><f>""</f><v></v></c>`: a value, empty.
    A formula saved without its value has no `<v>` (or, from openpyxl, no `t="str"`); openpyxl
    reads both as None, so the sheet's XML tells them apart, in one streamed pass.
    """
    import xml.etree.ElementTree as ET

    found: set[str] = set()
    try:
        with _sheet_xml(data, sheet) as stream:
            for _, element in ET.iterparse(stream) if stream is not None else ():
                if element.tag.rpartition("}")[2] != "c":
                    continue
                address = element.get("r", "")
                if (
                    address in addresses
                    and element.get("t") == "str"
                    and any(child.tag.rpartition("}")[2] == "v" for child in element)
                ):
                    found.add(address)
                element.clear()
    except (KeyError, OSError, zipfile.BadZipFile, ET.ParseError):
        return set()
    return found


def _date_or_time(value: object) -> CellTrap | None:
    if isinstance(value, dt.date):
        return CellTrap.DATE
    if isinstance(value, dt.time | dt.timedelta):
        return CellTrap.TIME
    return None


@dataclass(frozen=True)
class _Look:
    """A cell as a second reader sees it."""

    value: object
    data_type: str  # "e" for an error
    number_format: str
    formula: str | None
    shown: str | None = None  # the text the sheet shows, where the file keeps it (ODS)


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODS_CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
_ODS_CELLS = (f"{_ODS_TABLE}table-cell", f"{_ODS_TABLE}covered-table-cell")


def _ods_cells(
    data: bytes, sheet: str, wanted: set[tuple[int, int]]
) -> dict[tuple[int, int], _Look] | None:
    """The wanted cells (sheet row, column) of an ODS sheet: shown text, errors, formulas.

    OpenDocument keeps the text each cell shows beside its value, so nothing is derived.
    None when the file cannot be read this way.
    """
    import xml.etree.ElementTree as ET

    last = max(row for row, _ in wanted)
    looks: dict[tuple[int, int], _Look] = {}
    row, inside = 1, False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("content.xml") as xml:
            for event, element in ET.iterparse(xml, events=("start", "end")):
                tag = element.tag
                if tag == f"{_ODS_TABLE}table":
                    if event == "start":
                        inside = element.get(f"{_ODS_TABLE}name") == sheet
                    elif inside:
                        break
                elif not inside or event == "start" or tag != f"{_ODS_TABLE}table-row":
                    continue
                else:
                    repeat = int(element.get(f"{_ODS_TABLE}number-rows-repeated", "1"))
                    for offset in range(min(repeat, last + 1 - row)):
                        _ods_row(element, row + offset, wanted, looks)
                    row += repeat
                    element.clear()
                    if row > last:
                        break
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, ET.ParseError):
        return None
    return looks


def _ods_row(
    element: Any, row: int, wanted: set[tuple[int, int]], looks: dict[tuple[int, int], _Look]
) -> None:
    column = 0
    for cell in element:
        if cell.tag not in _ODS_CELLS:
            continue
        repeat = int(cell.get(f"{_ODS_TABLE}number-columns-repeated", "1"))
        hits = [(row, c) for c in range(column, column + repeat) if (row, c) in wanted]
        if hits:
            kind = cell.get(f"{_ODS_OFFICE}value-type")
            error = cell.get(f"{_ODS_CALCEXT}value-type") == "error"
            formula = cell.get(f"{_ODS_TABLE}formula")
            shown = "\n".join("".join(p.itertext()) for p in cell.iter(f"{_ODS_TEXT}p"))
            look = _Look(
                shown,
                "e" if error else "",
                "",
                formula if formula and kind is None else None,
                shown if kind is not None else None,
            )
            looks.update(dict.fromkeys(hits, look))
        column += repeat


def _openpyxl_cells(
    data: bytes, sheet: str, first_row: int, suspects: Sequence[Suspect]
) -> dict[tuple[int, int], _Look] | None:
    """The suspect cells as openpyxl reads them (values, errors, formats, formulas).

    Only the rows from the first suspect to the last are parsed. None when openpyxl cannot
    read the workbook: then the cells are judged as in a workbook without formats.
    """
    rows = [first_row + s.index for s in suspects]
    columns = [s.column for s in suspects]
    bounds = {
        "min_row": min(rows),
        "max_row": max(rows),
        "min_col": min(columns) + 1,
        "max_col": max(columns) + 1,
    }
    wanted = set(zip(rows, columns, strict=True))
    try:
        values = _scan(data, sheet, bounds, wanted, data_only=True)
        # Formulas are read only where a cell still looks empty: a second, bounded pass.
        empty = {key for key, (value, _, _) in values.items() if value is None}
        formulas = _scan(data, sheet, bounds, empty, data_only=False) if empty else {}
    except Exception:  # openpyxl raises many kinds on workbooks calamine reads fine
        return None
    lost = {key for key, (text, data_type, _) in formulas.items() if data_type == "f"}
    empty_text = _empty_text_results(data, sheet, {cell_address(*key) for key in lost})
    looks = {}
    for key, (value, data_type, number_format) in values.items():
        formula = formulas.get(key, (None, "", ""))
        kept = formula[1] == "f" and cell_address(*key) not in empty_text
        text = formula[0] if kept else None
        looks[key] = _Look(value, data_type, number_format, None if text is None else str(text))
    return looks


def _scan(
    data: bytes,
    sheet: str,
    bounds: dict[str, int],
    wanted: set[tuple[int, int]],
    *,
    data_only: bool,
) -> dict[tuple[int, int], tuple[object, str, str]]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    try:
        found = {}
        cells = book[sheet].iter_rows(**bounds)
        for row, line in enumerate(cells, start=bounds["min_row"]):
            for column, cell in enumerate(line, start=bounds["min_col"] - 1):
                if (row, column) in wanted:
                    found[(row, column)] = (cell.value, cell.data_type, cell.number_format)
        return found
    finally:
        book.close()
