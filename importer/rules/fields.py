"""A contact's optional fields: civility, e-mail and birthday, each to one spelling or left out.

A bad optional field never blocks a contact: each check returns the value to send, or "" and
the reason it was left out, which the row's message repeats. Cells arrive already tidied like
list names (NFC, trimmed, invisible characters and whitespace runs handled by the reader and
`normalize_names`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType

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
#: The everyday address, which `email-validator` accepts unchanged: an ASCII dot-atom before
#: the `@`, lower-case host labels of letters, digits and inner hyphens after it, the last one
#: alphabetic. Anything else (capitals, Unicode, quotes, `--`, …) goes to the library.
_PLAIN_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9._%+-]{1,64})@"
    r"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})"
)
#: The library's length limits of a whole address and of a host name (RFC 5321, RFC 1035).
_EMAIL_MAX_LENGTH = 254
_DOMAIN_MAX_LENGTH = 253
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
    if is_plain_email(cell):
        return Field(cell)
    try:
        checked = validate_email(cell, check_deliverability=False)
    except EmailNotValidError as exc:
        return Field("", f"e-mail {cell!r} is not valid ({exc}), left out")
    return Field(checked.normalized)


def is_plain_email(cell: str) -> bool:
    """Whether `cell` is an everyday address that `email-validator` would return unchanged.

    The library costs ~50 µs an address, most of it on the host name's Unicode rules; this
    shape (`_PLAIN_EMAIL`, within the library's lengths, no special-use domain, no mailbox name
    the library lower-cases) is settled without it. False only means "ask the library": a
    property test holds every cell this accepts to the library's own verdict.
    """
    match = _PLAIN_EMAIL.fullmatch(cell)
    if match is None or len(cell) > _EMAIL_MAX_LENGTH:
        return False
    local, domain = match.group("local", "domain")
    if ".." in local or local.startswith(".") or local.endswith("."):
        return False
    if "--" in domain or len(domain) > _DOMAIN_MAX_LENGTH:
        return False
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        return False
    return not any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)


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
