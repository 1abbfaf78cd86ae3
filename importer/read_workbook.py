"""Read one sheet of a workbook (.xlsx .xlsm .xlsb .xls .ods) through calamine.

Cells come back as Python objects; :func:`cell_text` writes each as the operator sees it.
"""

from __future__ import annotations

import io
from typing import Any

from importer.cells import cell_text
from importer.errors import InputError
from importer.quoting import brief, quote, quote_all
from importer.read import (
    HEADER_SEARCH_ROWS,
    OLE_SIGNATURE,
    ZIP_SIGNATURE,
    RawTable,
    WantedColumns,
    find_header,
    match_columns,
)
from importer.read_cells import Suspect, review_cells


def read_workbook(
    label: str, suffix: str, data: bytes, sheet: str | None, want: WantedColumns
) -> RawTable:
    """The wanted columns of one sheet: the one named, or the first visible worksheet."""
    import pyarrow as pa
    import python_calamine

    _check_workbook_bytes(label, suffix, data)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise InputError(f"{label}: the workbook is password-protected") from None
    except Exception as error:  # calamine raises several kinds for damaged files
        raise InputError(f"{label}: not a readable {suffix} workbook ({brief(error)})") from None
    with workbook:
        chosen = _choose_sheet(label, workbook, sheet)
        try:
            grid = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        except Exception as error:
            raise InputError(
                f"{label}: sheet {quote(chosen)} cannot be read ({brief(error)})"
            ) from None
    top = [[cell_text(cell) for cell in cells] for cells in _top_rows(grid)]
    found = find_header(top, want)
    if found is None:
        raise InputError(f"{label}: sheet {quote(chosen)} is empty")
    header_index = found[0]
    columns = match_columns(label, top[header_index], want)
    body = grid[header_index + 1 :]
    wanted = {"list_name": columns.name}
    if columns.country is not None:
        wanted["country"] = columns.country
    texts: dict[str, list[str]] = {}
    suspects: list[Suspect] = []
    for role, index in wanted.items():
        texts[role], odd = _column_text(body, index)
        suspects += [Suspect(position, index, role, value) for position, value in odd]
    arrays = {role: pa.array(values, pa.string()) for role, values in texts.items()}
    suspects += _empty_in_filled_rows(arrays, wanted)
    suspects.sort(key=lambda suspect: (suspect.index, suspect.column))
    digits = frozenset({"list_name"}) if want.name_digits else frozenset()
    review = review_cells(suffix, data, chosen, header_index + 2, suspects, digits)
    changed = set()
    for (position, index), shown in review.texts.items():
        role = "list_name" if index == columns.name else "country"
        texts[role][position] = shown
        changed.add(role)
    for fact in review.facts:
        if fact.sent_as is not None:
            texts[fact.column][fact.row - header_index - 2] = fact.sent_as
            changed.add(fact.column)
    for role in changed:
        arrays[role] = pa.array(texts[role], pa.string())
    return RawTable(
        first_row=header_index + 2,
        names=arrays["list_name"],
        countries=arrays.get("country"),
        columns=columns,
        sheet=chosen,
        cells=tuple(review.facts),
    )


def _empty_in_filled_rows(arrays: dict[str, Any], wanted: dict[str, int]) -> list[Suspect]:
    """Empty cells of rows that are not blank: calamine shows errors and lost formulas so."""
    import numpy as np
    import pyarrow.compute as pc

    empties = {
        role: pc.equal(array, "").to_numpy(zero_copy_only=False) for role, array in arrays.items()
    }
    filled = ~np.logical_and.reduce(list(empties.values()))
    return [
        Suspect(position, wanted[role], role, "")
        for role, empty in empties.items()
        for position in np.flatnonzero(empty & filled).tolist()
    ]


def _check_workbook_bytes(label: str, suffix: str, data: bytes) -> None:
    """Say what the file really is when its content does not match its extension."""
    if data.startswith((ZIP_SIGNATURE, OLE_SIGNATURE)):
        if suffix != ".xls" and data.startswith(OLE_SIGNATURE):
            raise InputError(
                f"{label}: not a {suffix} workbook: it is an old .xls workbook, "
                "or the workbook is password-protected"
            )
        return
    head = data[:4096]
    if head.lstrip().startswith(b"<"):
        raise InputError(
            f"{label}: not a {suffix} workbook: it is an HTML or XML page; "
            "open it in a spreadsheet program and save it as .xlsx"
        )
    if b"\x00" not in head and _is_text(head):
        raise InputError(f"{label}: not a {suffix} workbook: it is a text file; rename it .csv")
    raise InputError(f"{label}: not a {suffix} workbook: the file is damaged or of another kind")


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:
            return False
    return True


def _choose_sheet(label: str, workbook: Any, sheet: str | None) -> str:
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    names: list[str] = list(workbook.sheet_names)
    if sheet is None:
        visible = [
            meta.name
            for meta in workbook.sheets_metadata
            if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet
        ]
        if not names:
            raise InputError(f"{label}: the workbook has no sheets")
        return visible[0] if visible else names[0]
    if sheet in names:
        return sheet
    loose = [name for name in names if name.strip().casefold() == sheet.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    raise InputError(f"{label}: no sheet named {quote(sheet)}; sheets: {quote_all(names)}")


def _top_rows(grid: list[list[Any]]) -> list[list[Any]]:
    """The rows up to the last one the header may be on: the first 20 that are not blank."""
    filled = 0
    for index, cells in enumerate(grid):
        filled += any(not isinstance(cell, str) or cell.strip() for cell in cells)
        if filled == HEADER_SEARCH_ROWS:
            return grid[: index + 1]
    return grid


def _column_text(body: list[list[Any]], index: int) -> tuple[list[str], list[tuple[int, Any]]]:
    """A column as text, and the cells that were not text (position, value) for a second look."""
    # calamine hands over Python objects: one pass per column is the vector operation here.
    values = [cells[index] if index < len(cells) else "" for cells in body]
    odd = [(position, value) for position, value in enumerate(values) if type(value) is not str]
    for position, value in odd:
        values[position] = cell_text(value)
    return values, odd
