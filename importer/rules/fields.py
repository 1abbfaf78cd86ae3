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

import numpy as np
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

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
#: The everyday address, which `email-validator` returns unchanged: an ASCII dot-atom before the
#: `@`, lower-case host labels of letters, digits and inner hyphens after it, the last one
#: alphabetic (RE2 syntax, for Arrow). Anything else (capitals, Unicode, quotes, …) goes to the
#: library.
_PLAIN_EMAIL = (
    r"^[A-Za-z0-9_%+-]{1,64}(?:\.[A-Za-z0-9_%+-]+)*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
#: The library's limits (RFC 5321): 64 characters before the `@`, 254 in all.
_LOCAL_TOO_LONG = r"^[^@]{65,}@"
_EMAIL_MAX_LENGTH = 254
#: What the library treats otherwise: `--` in a host label (IDNA rules), a special-use domain
#: (refused), a mailbox name it lower-cases (`Postmaster@`).
_NOT_PLAIN = (
    r"@.*--",
    "[@.](?:" + "|".join(map(re.escape, SPECIAL_USE_DOMAIN_NAMES)) + ")$",
    "(?i)^(?:" + "|".join(map(re.escape, CASE_INSENSITIVE_MAILBOX_NAMES)) + ")@",
)
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
    try:
        checked = validate_email(cell, check_deliverability=False)
    except EmailNotValidError as exc:
        return Field("", f"e-mail {cell!r} is not valid ({exc}), left out")
    return Field(checked.normalized)


def plain_emails(cells: Sequence[str]) -> np.ndarray:
    """Which cells are everyday addresses that `email-validator` would return unchanged.

    The library costs ~50 µs an address, most of it on the host name's Unicode rules; this
    shape is settled for a whole column at once (Arrow's regular expressions). False only
    means "ask the library": a property test holds every cell this accepts to the library's
    own verdict.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(cells, pa.string())
    plain = pc.and_(
        pc.match_substring_regex(array, _PLAIN_EMAIL),
        pc.less_equal(pc.utf8_length(array), _EMAIL_MAX_LENGTH),
    )
    for pattern in (_LOCAL_TOO_LONG, *_NOT_PLAIN):
        plain = pc.and_(plain, pc.invert(pc.match_substring_regex(array, pattern)))
    return np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)


def emails(cells: Sequence[str]) -> tuple[list[str], list[str]]:
    """`email` for many cells, as two lists (`Field.value`s, `Field.problem`s): the everyday
    ones (`plain_emails`) without the library, and no object per cell."""
    values, problems = list(cells), [""] * len(cells)
    for at in np.flatnonzero(~plain_emails(cells)).tolist():
        checked = email(cells[at])
        values[at], problems[at] = checked.value, checked.problem
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
