"""Reading a contacts file, and telling a contacts file from a lists file.

The reader of `importer.read` is used unchanged (encodings, delimiters, workbooks, every cell
as text, header below titles, traps), one role at a time: its required column is the phone,
its second column each other role in turn, and the passes are joined on the spreadsheet row.
Each pass parses the file again — a price in time, not in behaviour — until the reader learns
to return any number of columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pandas as pd

from importer.cells import CellFact
from importer.errors import InputError
from importer.formula_guard import unguard
from importer.kinds.roles import (
    WEAK_PHONE_ALIASES,
    Role,
    is_phone_header,
    is_weak_phone,
    left_out,
    map_hint,
    match_roles,
    phone_headers,
    undecided_keys,
)
from importer.read import MissingColumn, SourceTable, header_key, read_table

#: A weak phone header (`N°`, `numéro`) whose filled cells are mostly whole numbers of at most
#: this many digits holds row numbers: no phone number is that short (`612345678` has 9).
ROW_NUMBER_DIGITS = 6


@dataclass(frozen=True)
class ContactsSource:
    """A contacts file as read: its description, and one text column per role found."""

    source: SourceTable
    """What was detected about the file (its frame holds no cells)."""
    frame: pd.DataFrame
    """`row` (header = 1) and one text column per `Role` found, "" when empty."""
    roles: Mapping[Role, str]
    """Role -> the header it was read from."""
    cells: tuple[CellFact, ...] = ()
    """The reader's facts about workbook cells that are not what they show, by role."""
    notes: tuple[str, ...] = ()
    """Columns not imported because their meaning is not guessed, one line each."""


class ContactsFileError(InputError):
    """An input error of a file whose header has a recognised phone column: a contacts file
    whatever else is wrong, so its error is the one to report (`importer.job`), not the lists
    reader's."""


def _phone_pass(
    path: Path,
    *,
    sheet: str | None,
    phone_header: str | None,
    weak: bool,
    max_rows: int,
    preset: str | None,
    map_option: str,
) -> SourceTable:
    aliases = (*phone_headers(preset), *(WEAK_PHONE_ALIASES if weak else ()))
    return read_table(
        path,
        sheet=sheet,
        name_column=phone_header,
        max_rows=max_rows,
        country_required=False,
        name_aliases=aliases,
        name_role="phone",
        name_digits=True,
        name_option=map_hint(map_option, Role.PHONE.value),
        name_test=partial(is_phone_header, preset=preset),
    )


def _row_numbers(cells: pd.Series) -> bool:
    """Whether most filled cells of a column are short whole numbers (row numbers)."""
    filled = cells[cells.str.strip() != ""]
    short = filled.str.fullmatch(rf"\s*\d{{1,{ROW_NUMBER_DIGITS}}}\s*")
    return bool(len(filled)) and float(short.mean()) > 0.5


def read_contacts(
    path: Path,
    *,
    sheet: str | None = None,
    mapping: Mapping[str, Role] | None = None,
    list_given: bool = False,
    max_rows: int = 1_000_000,
    preset: str | None = None,
    map_option: str = "--map",
) -> ContactsSource:
    """Read every recognised (or mapped) column of a contacts file, all as text.

    `preset` (`--preset`) picks one provider's reading of headers the tables disagree on.

    Raises InputError in one line naming the file: no phone column, no list column without
    `--list`, two columns for one role, a phone column known only by a weak header (`N°`)
    that holds row numbers, and everything the reader refuses. Hints name `map_option`.
    """
    mapping = mapping or {}
    phone_header = next((h for h, role in mapping.items() if role is Role.PHONE), None)
    phone_pass = partial(
        _phone_pass, path, sheet=sheet, max_rows=max_rows, preset=preset, map_option=map_option
    )
    strong = True
    try:
        first = phone_pass(phone_header=phone_header, weak=False)
    except MissingColumn:
        if phone_header is not None:
            raise
        strong = False
        # `numéro`, `number`, `n°` are the phone only in a file known to hold contacts.
        try:
            first = phone_pass(phone_header=None, weak=True)
        except MissingColumn as error:
            undecided = undecided_keys(preset)
            if any(header_key(cell) in undecided for cell in error.header):
                # Say which columns could be the phone, and why none is taken.
                match_roles(
                    str(path),
                    error.header,
                    mapping,
                    list_given=True,
                    preset=preset,
                    map_option=map_option,
                )
            raise
    except InputError as error:  # the header has a phone column; the rest went wrong
        raise ContactsFileError(str(error)) from None
    try:
        return _read_roles(path, first, sheet, mapping, list_given, max_rows, preset, map_option)
    except ContactsFileError:
        raise
    except InputError as error:
        if strong:
            raise ContactsFileError(str(error)) from None
        raise


def _read_roles(
    path: Path,
    first: SourceTable,
    sheet: str | None,
    mapping: Mapping[str, Role],
    list_given: bool,
    max_rows: int,
    preset: str | None,
    map_option: str,
) -> ContactsSource:
    """Every role's column of a contacts file whose phone column `first` has read."""
    label = str(path)
    roles = match_roles(
        label, first.header, mapping, list_given=list_given, preset=preset, map_option=map_option
    )
    headers = {role: first.header[index].strip() for role, index in roles.items()}
    phone = headers[Role.PHONE]
    phone_given = any(role is Role.PHONE for role in mapping.values())
    if not phone_given and is_weak_phone(phone) and _row_numbers(first.frame["list_name"]):
        raise InputError(
            f"{label}: column {phone!r} holds row numbers (short whole numbers), not phone "
            f"numbers, and no column is recognised as the phone: name the phone column with "
            f"{map_hint(map_option, Role.PHONE.value)} (or {map_hint(map_option, 'phone', phone)}"
            " if that column does hold the phones)"
        )
    frame = pd.DataFrame({"row": first.frame["row"], Role.PHONE.value: first.frame["list_name"]})
    # Each pass reads the phone in the list-name slot and one role in the country slot.
    cells = [replace(fact, column=Role.PHONE.value) for fact in first.cells]
    for role, header in headers.items():
        if role is Role.PHONE or (role is Role.LIST_NAME and list_given):
            continue
        part = read_table(
            path,
            sheet=sheet,
            name_column=headers[Role.PHONE],
            country_column=header,
            max_rows=max_rows,
            country_required=False,
            name_role="phone",
            name_digits=True,
            name_option=map_hint(map_option, Role.PHONE.value),
        )
        column = part.frame[["row", "country"]].rename(columns={"country": role.value})
        frame = frame.merge(column, on="row", how="outer")
        cells += [
            replace(fact, column=role.value) for fact in part.cells if fact.column == "country"
        ]
    frame = frame.sort_values("row", kind="stable").reset_index(drop=True)
    text = [column for column in frame.columns if column != "row"]
    frame[text] = frame[text].fillna("").astype(str)
    for name in text:  # a results file or an export reads back as it was written for
        frame[name] = unguard(frame[name])
    frame["row"] = frame["row"].astype("int64")
    if len(frame) > max_rows:  # pragma: no cover - every pass checks it first
        raise InputError(f"{label}: {len(frame):,} rows, more than the limit of {max_rows:,}")
    cells.sort(key=lambda fact: fact.row)
    source = replace(first, frame=first.frame.iloc[0:0], cells=())
    notes = tuple(left_out(first.header, roles, preset))
    return ContactsSource(source, frame, headers, tuple(cells), notes)
