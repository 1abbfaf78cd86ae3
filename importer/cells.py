"""Workbook cells that are not what they show: the facts found about them, and their text.

A spreadsheet cell can hold something other than the text a person reads in it: a formula
saved without its computed value, an error (`#N/A`), a date Excel made of `MAR1`, a number
shown as `12%`. Readers report each such cell as a :class:`CellFact` (row, cell address,
column, kind of trap); every kind of import decides what a fact means for its row: in a
required column the row is `invalid` (``BAD_CELL``), in an optional one the field is left out.
The facts are data, never parsed strings; :meth:`CellFact.message` says them in words.

:func:`displayed_text` derives what the sheet shows from a number format when that is
reliable whatever the reader's locale (General, integers, zero-padded integers, digit formats
with literal spaces, dashes or parentheses such as the French phone format `0# ## ## ## ##`,
whole percentages, ISO dates); otherwise the cell is a fact and nothing is guessed.
:func:`whole_digits` reads a whole number's digits whatever its format, for columns that hold
numbers rather than text shown (phones).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "CellFact",
    "CellTrap",
    "cell_address",
    "cell_text",
    "displayed_text",
    "whole_digits",
]


class CellTrap(StrEnum):
    """What is wrong with a cell."""

    FORMULA_WITHOUT_VALUE = "formula_without_value"
    ERROR = "error"
    DATE = "date"
    TIME = "time"
    FORMATTED_NUMBER = "formatted_number"
    UNKNOWN_FORMAT = "unknown_format"
    """A number in a workbook whose formats cannot be read (.xls, .ods): sent as General."""


@dataclass(frozen=True)
class CellFact:
    """One cell of a wanted column that is not (or may not be) what the sheet shows."""

    row: int
    """The sheet's row number (1 = the first row of the sheet)."""
    cell: str
    """The cell's address, e.g. ``A3``."""
    column: str
    """The column's role in the row: ``list_name``, ``country`` (a kind's field name)."""
    trap: CellTrap
    detail: str
    """The formula, the error, the stored value or the number format, as found."""
    sent_as: str | None = None
    """The text used instead, when the cell is still usable (a warning, not a refusal)."""

    @property
    def usable(self) -> bool:
        """Whether the row may still use the cell's text (`sent_as`), with a warning."""
        return self.sent_as is not None

    def message(self) -> str:
        """What is wrong with the cell and what to do, in one sentence."""
        where = f"cell {self.cell}"
        if self.trap is CellTrap.FORMULA_WITHOUT_VALUE:
            return (
                f"{where} holds a formula with no computed value ({_cut(self.detail)}): open and "
                "save the file in Excel or LibreOffice so the value is stored"
            )
        if self.trap is CellTrap.ERROR:
            return f"{where} holds the error {self.detail}: fix the formula, then save again"
        if self.trap in (CellTrap.DATE, CellTrap.TIME):
            return (
                f"{where} holds a {self.trap.value} ({self.detail}), not text: the spreadsheet "
                "likely converted what was typed; format the column as text and type it again"
            )
        if self.trap is CellTrap.FORMATTED_NUMBER:
            return (
                f"{where} holds a number shown with the format {_cut(self.detail)}, which "
                "cannot be read back reliably: format the column as text and type it again"
            )
        return (
            f"{where} holds the number {self.detail}, sent as {self.sent_as} (as Excel's "
            "General format shows it); if the sheet shows it otherwise, format the column as text"
        )


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell_address(row: int, column: int) -> str:
    """`A1`-style address of a 1-based row and a 0-based column index."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row}"


# Formats whose display is the same in every locale: no separators, no month names.
_ZERO_PADDED = re.compile(r"0+")
_WHOLE_PERCENT = re.compile(r"0+%")
_ISO_DATE = "yyyy-mm-dd"
_ISO_DATETIMES = ("yyyy-mm-dd h:mm:ss", "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd hh:mm")


def _whole(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def displayed_text(value: object, number_format: str) -> str | None:
    """The text a workbook shows for a number, date or time under `number_format`.

    None when the display depends on the reader's locale or on a format this function does
    not read: then the caller reports the cell rather than guess.
    """
    fmt = number_format.strip().lower()
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        if isinstance(value, dt.datetime) and fmt in _ISO_DATETIMES:
            return value.strftime("%Y-%m-%d %H:%M:%S" if fmt.endswith("ss") else "%Y-%m-%d %H:%M")
        if isinstance(value, dt.date) and fmt == _ISO_DATE:
            return value.strftime("%Y-%m-%d")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return cell_text(value)
    if fmt in ("general", "@", ""):
        return cell_text(value)
    number = Decimal(repr(value))
    if _ZERO_PADDED.fullmatch(fmt):
        whole = _whole(number)
        return ("-" if whole < 0 else "") + str(abs(whole)).zfill(len(fmt))
    if _WHOLE_PERCENT.fullmatch(fmt):
        whole = _whole(number * 100)
        return ("-" if whole < 0 else "") + str(abs(whole)).zfill(len(fmt) - 1) + "%"
    return _digit_format(_whole(number), number_format.strip())


#: Characters a number format shows as they are, in every locale, without quotes.
_PLAIN_LITERALS = frozenset(" -+()\u00a0")
#: Bracketed parts of a format that change nothing of the digits: a colour, a locale tag.
_HARMLESS_BRACKET = re.compile(r"\[(?:[a-z]+\d*|\$-[0-9a-f]+)\]", re.IGNORECASE)


def _digit_format(whole: int, number_format: str) -> str | None:
    """A whole number under a format of digit placeholders (`0`, `#`, `?`) and literals, as
    Excel shows it: `612345678` under `0# ## ## ## ##` is `06 12 34 56 78`. Digits fill the
    placeholders from the right; the leftmost takes any digits left over; a `0` with no digit
    shows 0, a `#` nothing, a `?` a space. None for anything else (decimals, thousands
    separators, several sections, conditions, dates): their display may depend on the locale.
    """
    if ";" in number_format:
        return None
    tokens: list[str] = []  # a placeholder is one of 0 # ?; anything else is literal text
    rest = _HARMLESS_BRACKET.sub("", number_format)
    at = 0
    while at < len(rest):
        char = rest[at]
        if char == '"':
            end = rest.find('"', at + 1)
            if end < 0:
                return None
            tokens.append("L" + rest[at + 1 : end])
            at = end + 1
            continue
        if char in "\\_" and at + 1 < len(rest):
            tokens.append("L" + (rest[at + 1] if char == "\\" else " "))
            at += 2
            continue
        if char in "0#?":
            tokens.append(char)
        elif char in _PLAIN_LITERALS:
            tokens.append("L" + char)
        else:
            return None
        at += 1
    placeholders = [i for i, token in enumerate(tokens) if token in ("0", "#", "?")]
    if not placeholders:
        return None
    digits = str(abs(whole)) if whole else ""
    shown = [token[1:] if token.startswith("L") else "" for token in tokens]
    for i in reversed(placeholders):
        if i == placeholders[0]:
            taken, digits = digits, ""
        else:
            taken, digits = digits[-1:], digits[:-1]
        shown[i] = taken or {"0": "0", "#": "", "?": " "}[tokens[i]]
    return ("-" if whole < 0 else "") + "".join(shown)


def whole_digits(value: object) -> str | None:
    """The digits of a number cell that holds a whole number exactly (`612345678.0` ->
    `612345678`), whatever format shows it; None for anything else. A phone stored as a number
    is its digits: a scientific or thousands format only hides some on screen."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (value.is_integer() and abs(value) < 2**53):
        return None
    return str(int(value))


def _to_second(moment: dt.datetime) -> dt.datetime:
    """Rounded to the second: a sheet stores `9:30` as a fraction of a day (09:29:59.997)."""
    whole = moment.replace(microsecond=0)
    return whole + dt.timedelta(seconds=1) if moment.microsecond >= 500_000 else whole


def cell_text(cell: object) -> str:
    """A workbook cell as the operator reads it: 2024 not 2024.0, dates in ISO form."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        # 15 significant digits is what a spreadsheet shows: 0.1+0.2 reads 0.3.
        return format(cell, ".15g")
    if isinstance(cell, dt.datetime):
        cell = _to_second(cell)
        if cell.time() == dt.time():
            return cell.date().isoformat()
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.time):
        moment = _to_second(dt.datetime.combine(dt.date.min, cell))
        return "23:59:59" if moment.date() != dt.date.min else moment.time().isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    if cell is None:
        return ""
    return str(cell)
