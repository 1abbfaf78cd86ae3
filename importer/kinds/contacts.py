"""Contacts, the second kind: every row's list, number and fields checked, deduplicated, planned.

A row is one contact in one list. Its list goes through the lists kind's own rules first
(`importer.normalize.prepare`: the one "same list name" rule, the country table, the API's
list codes); a row whose list is invalid is `invalid` with the list's code prefixed `LIST_`
(`LIST_ERR_103`: the codes are per endpoint). Two rows naming one list with two countries:
the later ones are `invalid` (`COUNTRY_CONFLICT`). The number is checked against the list's
country — the account's when the list exists there (what the API checks), else the file's —
by `importer.rules.phones`; the optional fields by `importer.rules.fields`, a bad one left out
with its reason. Two rows are the same contact when they go to the same list and their numbers
are equal in E.164: the first valid row wins, later ones are `duplicate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from importer import normalize
from importer.kinds.roles import OPTIONAL_ROLES, Role
from importer.records import LocalCode, Outcome
from importer.rules import fields as rules
from importer.rules.phones import (
    DEFAULT_NUMBER_TYPES,
    NumberFormat,
    NumberType,
    Phone,
    PhoneProblem,
    normalize_phone,
)

#: The results file's columns for contacts, in order. Exactly these, nothing else.
CONTACT_COLUMNS: tuple[str, ...] = (
    "row",
    "list_name",
    "country",
    "phone",
    "list_contact_id",
    "number",
    "civility",
    "last_name",
    "first_name",
    "email",
    "birthday",
    "other",
    "outcome",
    "code",
    "message",
    "attempts",
)
#: Working columns kept next to the results: the list's key, its country, the number in E.164.
CONTACT_KEYS: tuple[str, ...] = ("list_key", "country_code", "e164")

#: Prefix of a code that comes from the list stage (`LIST_ERR_103`).
LIST_CODE_PREFIX = "LIST_"
#: Two rows name one list with two different countries.
CODE_COUNTRY_CONFLICT = "COUNTRY_CONFLICT"


@dataclass(frozen=True)
class ContactOptions:
    """How a contacts file is read into requests (the contacts options of `run`/`validate`)."""

    list_name: str | None = None
    """`--list NAME`: every row goes into this list (a list column is then ignored)."""
    default_country: str | None = None
    number_types: frozenset[NumberType] = field(default=DEFAULT_NUMBER_TYPES)
    number_format: NumberFormat = NumberFormat.E164
    month_first: bool = False
    birthday_format: rules.BirthdayFormat = rules.BirthdayFormat.DAY_FIRST


def _cells(source: pd.DataFrame, column: str) -> pd.Series:
    if column not in source:
        return pd.Series([""] * len(source), index=source.index, dtype=object)
    return source[column].fillna("").astype(str)


def _tidy(values: pd.Series) -> list[str]:
    """Trimmed, NFC, whitespace runs as one space: like list names."""
    return [str(value) for value in normalize.normalize_names(values).tolist()]


def _checked_fields(source: pd.DataFrame, options: ContactOptions) -> dict[Role, list[rules.Field]]:
    """Each optional field of each row, as sent, with why it was left out when it was."""
    checks = {
        Role.CIVILITY: rules.civility,
        Role.EMAIL: rules.email,
        Role.BIRTHDAY: lambda cell: rules.birthday(
            cell, month_first=options.month_first, output=options.birthday_format
        ),
    }
    checked: dict[Role, list[rules.Field]] = {}
    for role in OPTIONAL_ROLES:
        tidy = _tidy(_cells(source, role.value))
        check = checks.get(role)
        if check is None:
            checked[role] = [rules.Field(value) for value in tidy]
            continue
        cache: dict[str, rules.Field] = {}
        checked[role] = [cache[v] if v in cache else cache.setdefault(v, check(v)) for v in tidy]
    return checked


def prepare(
    source: pd.DataFrame,
    options: ContactOptions | None = None,
    account_countries: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every row's plan: `planned`, or `invalid` with its code, or `duplicate`.

    In: the reader's frame (`row` and a text column per `Role` found; missing roles are empty),
    and the account's lists as list key -> country code (empty offline).
    Out: `CONTACT_COLUMNS` plus `CONTACT_KEYS`, one row per input row, in input order.
    Raises errors.ConfigError when the default country is not a country.
    """
    options = options or ContactOptions()
    account_countries = account_countries or {}
    count = len(source)
    rows = np.asarray(source["row"], dtype=np.int64)
    list_cells = (
        _cells(source, Role.LIST_NAME)
        if options.list_name is None
        else pd.Series([options.list_name] * count, index=source.index, dtype=object)
    )
    country_cells = _cells(source, Role.COUNTRY)
    lists = normalize.prepare(
        pd.DataFrame(
            {"row": rows, "list_name": list_cells.values, "country": country_cells.values}
        ),
        default_country=options.default_country,
    )
    list_keys = lists["name_key"].astype(str).tolist()
    list_names = lists["name"].astype(str).tolist()
    row_codes = lists["country_code"].astype(str).tolist()
    list_outcomes = lists["outcome"].astype(str).tolist()
    list_errors = lists["code"].astype(str).tolist()
    list_messages = lists["message"].astype(str).tolist()
    phones = _cells(source, Role.PHONE).tolist()
    tidy_phones = _tidy(_cells(source, Role.PHONE))
    checked = _checked_fields(source, options)

    first_of_list: dict[str, int] = {}  # list key -> position of its first valid row
    first_of_contact: dict[tuple[str, str], int] = {}
    phone_cache: dict[tuple[str, str], Phone | PhoneProblem] = {}
    outcome = [Outcome.PLANNED.value] * count
    code = [""] * count
    message = [""] * count
    number = [""] * count
    e164 = [""] * count
    region_of = [""] * count
    for i in range(count):
        key = list_keys[i]
        if list_outcomes[i] == Outcome.INVALID:
            outcome[i] = Outcome.INVALID
            code[i] = LIST_CODE_PREFIX + list_errors[i]
            message[i] = f"list not usable: {list_messages[i]}"
            continue
        first = first_of_list.setdefault(key, i)
        if row_codes[i] != row_codes[first]:
            outcome[i] = Outcome.INVALID
            code[i] = CODE_COUNTRY_CONFLICT
            message[i] = (
                f"list {list_names[first]!r} is {row_codes[first]} on row {rows[first]} and "
                f"{row_codes[i]} here: a list has one country"
            )
            continue
        region = account_countries.get(key, row_codes[i])
        region_of[i] = region
        notes = []
        if region != row_codes[i]:
            notes.append(
                f"list {list_names[i]!r} is {region} on the account (the file says "
                f"{row_codes[i]}): the number is checked against {region}"
            )
        cache_key = (tidy_phones[i], region)
        result = phone_cache.get(cache_key)
        if result is None:
            result = phone_cache[cache_key] = normalize_phone(
                tidy_phones[i],
                region,
                number_types=options.number_types,
                number_format=options.number_format,
            )
        if isinstance(result, PhoneProblem):
            outcome[i], code[i] = Outcome.INVALID, result.code
            message[i] = "; ".join([result.message, *notes])
            continue
        number[i], e164[i] = result.number, result.e164
        if result.note:
            notes.append(result.note)
        notes.extend(
            checked[role][i].problem for role in OPTIONAL_ROLES if checked[role][i].problem
        )
        contact = (key, result.e164)
        seen = first_of_contact.setdefault(contact, i)
        if seen != i:
            outcome[i], code[i] = Outcome.DUPLICATE, LocalCode.DUPLICATE
            differ = [
                role.value
                for role in OPTIONAL_ROLES
                if checked[role][i].value != checked[role][seen].value
            ]
            said = f"same number {number[seen]} in list {list_names[seen]!r} as row {rows[seen]}"
            if differ:
                said += f" (other fields differ: {', '.join(differ)})"
            notes.insert(0, said)
        message[i] = "; ".join(notes)

    sent = {
        role: [f.value if number[i] else "" for i, f in enumerate(checked[role])]
        for role in OPTIONAL_ROLES
    }
    frame = pd.DataFrame(
        {
            "row": rows,
            "list_name": list_cells.tolist(),
            "country": country_cells.tolist(),
            "phone": phones,
            "list_contact_id": [""] * count,
            "number": number,
            **{role.value: sent[role] for role in OPTIONAL_ROLES},
            "outcome": [str(value) for value in outcome],
            "code": [str(value) for value in code],
            "message": message,
            "attempts": np.zeros(count, dtype=np.int64),
            "list_key": list_keys,
            "country_code": region_of,
            "e164": e164,
        },
        columns=[*CONTACT_COLUMNS, *CONTACT_KEYS],
    )
    return frame
