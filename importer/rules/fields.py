"""A contact's optional fields: civility, e-mail and birthday, each to one spelling or left out.

A bad optional field never blocks a contact: each check returns the value to send, or "" and
the reason it was left out, which the row's message repeats. Cells arrive already tidied like
list names (NFC, trimmed, invisible characters and whitespace runs handled by the reader and
`normalize_names`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType

#: The pair of civility values sent to the API (it documents none): `M` and `Mme`.
CIVILITY_MR = "M"
CIVILITY_MRS = "Mme"

#: Every civility spelling accepted, folded (lower case, no dot, no space) -> the value sent.
CIVILITIES: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("m", "mr", "monsieur", "mister", "sir", "herr", "sr", "senor"), "M"),
        **dict.fromkeys(
            (
                "mme",
                "madame",
                "mrs",
                "ms",
                "miss",
                "mlle",
                "melle",
                "mademoiselle",
                "frau",
                "sra",
                "senora",
            ),
            "Mme",
        ),
    }
)


class BirthdayFormat(StrEnum):
    """How a birthday is sent (`--birthday-format`); DD/MM/YYYY is the API's date style."""

    DAY_FIRST = "DD/MM/YYYY"
    ISO = "YYYY-MM-DD"
    MONTH_FIRST = "MM/DD/YYYY"


_STRFTIME: Mapping[BirthdayFormat, str] = MappingProxyType(
    {
        BirthdayFormat.DAY_FIRST: "%d/%m/%Y",
        BirthdayFormat.ISO: "%Y-%m-%d",
        BirthdayFormat.MONTH_FIRST: "%m/%d/%Y",
    }
)

#: An ISO date, with the midnight time a workbook date cell is read with.
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?)?")
#: `12/03/1985`, `12-03-1985`, `12.03.1985`: day first unless told month first.
_DMY_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
#: The oldest birthday taken for real (older ones are typing mistakes).
OLDEST_YEAR = 1900


@dataclass(frozen=True)
class Field:
    """One optional field after its check: the value to send ("" when left out) and why not."""

    value: str
    problem: str = ""
    """Why the cell was left out ("" when it was not): the row's message says it."""


def civility(cell: str) -> Field:
    """`M.`, `Monsieur`, `Mr` -> `M`; `Mme`, `Madame`, `Mrs`, `Ms`, `Mlle` -> `Mme`.

    The table is `CIVILITIES`; anything else is left out with the reason.
    """
    if not cell:
        return Field("")
    folded = re.sub(r"[\s.]", "", cell.casefold()).replace("ñ", "n")
    value = CIVILITIES.get(folded)
    if value is None:
        return Field("", f"civility {cell!r} not recognised (M or Mme), left out")
    return Field(value)


def email(cell: str) -> Field:
    """The address with its domain lower-cased, or left out when its syntax is wrong.

    Syntax only (`email-validator`, no DNS lookup: validating a file never touches the network).
    """
    if not cell:
        return Field("")
    # Loaded with the first address (~20 ms of regular expressions a file without e-mails skips).
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(cell, check_deliverability=False)
    except EmailNotValidError as exc:
        return Field("", f"e-mail {cell!r} is not valid ({exc}), left out")
    return Field(checked.normalized)


def emails(cells: Sequence[str]) -> tuple[list[str], list[str]]:
    """`email` for many cells, as two lists (`Field.value`s, `Field.problem`s), with no object
    kept per cell. Each cell is checked by `email-validator` (~50-70 µs an address, most of it
    the library's host-name rules): pass distinct cells (`importer.kinds.contacts` does), so
    that each address is checked once and no table of verdicts is held beside the results."""
    values: list[str] = []
    problems: list[str] = []
    for cell in cells:
        checked = email(cell)
        values.append(checked.value)
        problems.append(checked.problem)
    return values, problems


def birthday(
    cell: str,
    *,
    month_first: bool = False,
    output: BirthdayFormat = BirthdayFormat.DAY_FIRST,
    today: date | None = None,
) -> Field:
    """An ISO date, `DD/MM/YYYY`, `DD-MM-YYYY` or `DD.MM.YYYY` (month first when told) in `output`.

    Left out when it is not one of those, not a real day, before `OLDEST_YEAR` or in the future.
    """
    if not cell:
        return Field("")
    iso = _ISO_DATE.fullmatch(cell)
    dmy = _DMY_DATE.fullmatch(cell)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif dmy:
        first, _, second, year_text = dmy.groups()
        day, month = (int(second), int(first)) if month_first else (int(first), int(second))
        year = int(year_text)
    else:
        return Field("", f"birthday {cell!r} is not a date (DD/MM/YYYY or YYYY-MM-DD), left out")
    try:
        born = date(year, month, day)
    except ValueError:
        order = "month first" if month_first else "day first"
        return Field("", f"birthday {cell!r} is not a real day (read {order}), left out")
    today = today or datetime.now().date()
    if born.year < OLDEST_YEAR or born > today:
        return Field("", f"birthday {cell!r} is not a plausible birth date, left out")
    return Field(born.strftime(_STRFTIME[output]))
