"""Contacts, the second kind: every row's list, number and fields checked, deduplicated, planned.

A row is one contact in one list. Its list goes through the lists kind's own rules first
(`importer.normalize.prepare`: the one "same list name" rule, the country table, the API's
list codes); a row whose list is invalid is `invalid` with the list's code prefixed `LIST_`
(`LIST_ERR_103`: the codes are per endpoint). Two rows naming one list with two countries:
the later ones are `invalid` (`COUNTRY_CONFLICT`). The number is checked against the list's
country — the account's when the list exists there (what the API checks), else the file's —
by `importer.rules.phones`; the optional fields by `importer.rules.fields`, a bad one left out
with its reason. Two rows are the same contact when they go to the same list and their numbers
are equal in E.164: the first valid row wins, later ones are `duplicate`. A number that opted
out (an opt-out column, or the `--exclude` STOP list) makes every row with it `excluded`
(`importer.kinds.exclusions`), whatever else the row says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

import numpy as np
import pandas as pd

from importer import normalize
from importer.cells import CellFact
from importer.kinds import exclusions
from importer.kinds.columns import (
    distinct_pairs,
    first_positions,
    shared,
    text_series,
)
from importer.kinds.contacts_checks import Checks, FieldCheck, Fields, each
from importer.kinds.contacts_checks import cells as _cells
from importer.kinds.contacts_checks import tidy as _tidy
from importer.kinds.roles import OPTIONAL_ROLES, Role
from importer.records import (
    CONTACT_COLUMNS,
    LIST_CODE_PREFIX,
    NAME_AS_TYPED,
    LocalCode,
    Outcome,
)
from importer.rules import fields as rules
from importer.rules.phones import (
    DEFAULT_NUMBER_TYPES,
    NumberFormat,
    NumberType,
)

#: Working columns kept next to the results: the list's key, its country, the number in E.164,
#: the request the row is planned for (`Action`, "" for none), what it changes in words (the
#: fields an update sets, why a contact is removed) and the name as typed (for the report).
CONTACT_KEYS: tuple[str, ...] = (
    "list_key",
    "country_code",
    "e164",
    "action",
    "change",
    NAME_AS_TYPED,
)


class Action(StrEnum):
    """The request a contacts row is planned for (the `action` working column)."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"


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
    update: bool = False
    """`--update`: a contact already in its list whose fields differ is updated."""
    clear_empty: bool = False
    """`--clear-empty`: an update blanks the fields whose cell is empty."""
    sync: bool = False
    """`--sync`: each target list is made to hold exactly the file's contacts for it."""
    max_delete: str = "10%"
    """`--max-delete N` or `P%`: the most `--sync` may remove from one list."""
    exclude: exclusions.StopList | None = field(default=None, compare=False)
    """`--exclude FILE`: the STOP list, read."""
    opt_out_header: str = "opt-out column"
    """The header of the file's opt-out column, for messages."""


def _field_checks(options: ContactOptions) -> dict[Role, FieldCheck]:
    birthday = partial(
        rules.birthday, month_first=options.month_first, output=options.birthday_format
    )
    return {
        Role.CIVILITY: each(rules.civility),
        Role.EMAIL: rules.emails,
        Role.BIRTHDAY: each(birthday),
        Role.LAST_NAME: None,
        Role.FIRST_NAME: None,
        Role.OTHER: None,
    }


def prepare(
    source: pd.DataFrame,
    options: ContactOptions | None = None,
    account_countries: Mapping[str, str] | None = None,
    cells: Sequence[CellFact] = (),
) -> pd.DataFrame:
    """Every row's plan: `planned`, or `invalid` with its code, or `duplicate`.

    In: the reader's frame (`row` and a text column per `Role` found; missing roles are empty),
    the account's lists as list key -> country code (empty offline), and the reader's facts
    about workbook cells (`CellFact.column` a role): an unusable list or phone cell makes its
    row `invalid` (`LIST_BAD_CELL`, `BAD_CELL`), an unusable optional cell is left out.
    Out: `CONTACT_COLUMNS` plus `CONTACT_KEYS`, one row per input row, in input order.
    Every check runs once per distinct value (a number once per list country), so a million
    rows cost what their distinct values cost. Raises errors.ConfigError when the default
    country is not a country.
    """
    options = options or ContactOptions()
    account_countries = account_countries or {}
    count = len(source)
    rows = np.asarray(source["row"], dtype=np.int64)
    list_cells = (
        _cells(source, Role.LIST_NAME)
        if options.list_name is None
        else pd.Series([options.list_name] * count, index=source.index, dtype="str")
    )
    country_cells = _cells(source, Role.COUNTRY)
    facts: dict[int, list[CellFact]] = {}
    if cells:  # workbook facts only: a CSV's million rows need no row -> position map
        at = {row: position for position, row in enumerate(rows.tolist())}
        for fact in cells:
            if fact.row in at:
                facts.setdefault(at[fact.row], []).append(fact)
    list_facts = [f for f in cells if f.column in (Role.LIST_NAME.value, Role.COUNTRY.value)]
    # A list's verdict depends on its two cells only: each distinct pair is prepared once (a
    # million rows of a hundred lists: a hundred), unless workbook facts speak of some rows.
    pair_at, pair_of = distinct_pairs(list_cells, country_cells, whole=bool(list_facts))
    pairs = {"list_name": list_cells, "country": country_cells}
    lists = normalize.prepare(
        pd.DataFrame(
            {"row": rows[pair_at], **{k: v.iloc[pair_at].to_numpy() for k, v in pairs.items()}}
        ),
        default_country=options.default_country,
        cells=list_facts,
    )
    keys, names, row_codes = (
        shared(lists[c])[pair_of] for c in ("name_key", "name", "country_code")
    )
    outcome = np.full(count, Outcome.PLANNED.value, dtype=object)
    code = np.full(count, "", dtype=object)
    message = np.full(count, "", dtype=object)

    # The list stage first: an unusable list makes the row invalid with the list's code.
    list_invalid = (lists["outcome"] == Outcome.INVALID).to_numpy()[pair_of]
    outcome[list_invalid] = Outcome.INVALID.value
    list_code = (LIST_CODE_PREFIX + lists["code"].astype(str)).to_numpy(dtype=object)
    code[list_invalid] = list_code[pair_of][list_invalid]
    list_said = ("list not usable: " + lists["message"].astype(str)).to_numpy(dtype=object)
    message[list_invalid] = list_said[pair_of][list_invalid]
    del lists  # a frame per row: let it go before the numbers are checked
    usable = np.flatnonzero(~list_invalid)
    first = first_positions(keys[usable], usable)
    conflict = usable[row_codes[usable] != row_codes[first]]
    first_of = dict(
        zip(conflict.tolist(), first[row_codes[usable] != row_codes[first]].tolist(), strict=True)
    )
    for i, j in first_of.items():
        outcome[i], code[i] = Outcome.INVALID.value, CODE_COUNTRY_CONFLICT
        message[i] = (
            f"list {names[j]!r} is {row_codes[j]} on row {rows[j]} and "
            f"{row_codes[i]} here: a list has one country"
        )
    checked = np.setdiff1d(usable, conflict, assume_unique=True)
    list_unusable = list_invalid.copy()
    list_unusable[conflict] = True

    # The number, against the list's country: the account's when the list is there.
    region = np.full(count, "", dtype=object)
    region[checked] = [
        account_countries.get(k, c) for k, c in zip(keys[checked], row_codes[checked], strict=True)
    ]
    phones, emails = (_tidy(_cells(source, role)) for role in (Role.PHONE, Role.EMAIL))
    kinds = (options.number_types, options.number_format)
    checks = Checks.start(phones, region, checked, emails, kinds)
    del phones, emails  # factorized: let go while the two processes both hold their work
    numbers, mails = checks.results()
    del checks
    good = numbers.good
    refused = {
        position: fact
        for position, row_facts in facts.items()
        for fact in row_facts
        if fact.column == Role.PHONE.value and not fact.usable
    }
    e164, number, said = numbers.e164, numbers.number, numbers.said
    bad_at = checked[~good]
    outcome[bad_at] = Outcome.INVALID.value
    code[bad_at] = numbers.code[bad_at]
    for position, fact in refused.items():
        where = np.flatnonzero(checked == position)
        if len(where):
            good[where[0]] = False
            outcome[position], code[position] = Outcome.INVALID.value, LocalCode.BAD_CELL.value
            said[position], e164[position], number[position] = fact.message(), "", ""
    for position, row_facts in facts.items():
        warned = [f.message() for f in row_facts if f.column == Role.PHONE.value and f.usable]
        if warned and position not in refused:
            said[position] = "; ".join(filter(None, [said[position], *warned]))
    fields = Fields.check(source, _field_checks(options), facts, {Role.EMAIL: mails})
    del mails  # the addresses are Arrow strings in `fields` now

    # Same list, same number in E.164: the first valid row wins.
    valid = checked[good]
    key_codes = pd.factorize(keys[valid], use_na_sentinel=False)[0].astype(np.int64)
    # Only the count of distinct numbers is kept: their strings are `e164`'s, let go below.
    number_codes, uniques = pd.factorize(e164[valid], use_na_sentinel=False)
    first = first_positions(key_codes * max(len(uniques), 1) + number_codes, valid)
    del key_codes, number_codes, uniques
    repeats = valid[first != valid]
    outcome[repeats], code[repeats] = Outcome.DUPLICATE.value, LocalCode.DUPLICATE.value
    twin = dict(zip(repeats.tolist(), first[first != valid].tolist(), strict=True))
    differ = fields.differing(repeats, first[first != valid])

    # Messages, only for the rows that have something to say.
    field_said = np.zeros(count, dtype=bool)
    for role in OPTIONAL_ROLES:
        field_said |= fields.problems[role] != ""
    moved = np.zeros(count, dtype=bool)
    moved[checked] = region[checked] != row_codes[checked]
    talk = np.zeros(count, dtype=bool)
    talk[checked] = True
    talk &= (said != "") | field_said | moved
    talk[repeats] = True
    for i in np.flatnonzero(talk).tolist():
        notes = [str(said[i])] if said[i] else []
        if moved[i]:
            notes.append(
                f"list {names[i]!r} is {region[i]} on the account (the file says "
                f"{row_codes[i]}): the number is checked against {region[i]}"
            )
        if number[i]:
            notes.extend(
                str(fields.problems[r][i]) for r in OPTIONAL_ROLES if fields.problems[r][i]
            )
        if i in twin:
            j = twin[i]
            text = f"same number {number[j]} in list {names[j]!r} as row {rows[j]}"
            if i in differ:
                text += f" (other fields differ: {', '.join(differ[i])})"
            notes.insert(0, text)
        message[i] = "; ".join(notes)

    sent = number != ""
    action = np.full(count, "", dtype=object)  # one string shared, not a string per row
    action[outcome == Outcome.PLANNED.value] = Action.ADD.value
    # Each working array becomes Arrow strings (what the frame holds anyway) as soon as it is
    # final, and its Python strings are let go before the next: the peak of a million rows.
    del numbers, said, names
    columns: dict[str, pd.Series | np.ndarray] = {
        "row": rows,
        # The cells as read stay in the reader's (Arrow) strings: no Python object per cell.
        "list_name": list_cells.reset_index(drop=True),
        "country": country_cells.reset_index(drop=True),
        "phone": _cells(source, Role.PHONE).reset_index(drop=True),
    }
    typed = fields.values[Role.FIRST_NAME] + " " + fields.values[Role.LAST_NAME]
    columns[NAME_AS_TYPED] = typed.str.strip()  # for every row: the report names unsent ones
    del typed
    for role in OPTIONAL_ROLES:  # each field's cells let go as its column is made
        columns[role.value] = fields.values.pop(role).where(sent, "")
    del fields
    columns["number"] = text_series(number)
    # In E.164 (the default) the number as sent is the E.164 one: one Arrow column for both.
    same = options.number_format is NumberFormat.E164 and bool((number == e164).all())
    del number
    columns["e164"] = columns["number"] if same else text_series(e164)
    del e164
    columns["message"] = text_series(message)
    del message
    # The other text columns too, each object array let go once it is Arrow strings (the
    # frame would make them Arrow strings anyway, with every object array still held).
    columns["outcome"] = text_series(outcome)
    columns["code"] = text_series(code)
    del outcome, code
    columns["attempts"] = np.zeros(count, dtype=np.int64)
    columns["list_key"] = text_series(keys)
    del keys
    columns["country_code"] = text_series(region)
    columns["action"] = text_series(action)
    del action
    columns["list_contact_id"] = columns["change"] = text_series(np.full(count, "", dtype=object))
    frame = pd.DataFrame(columns, columns=[*CONTACT_COLUMNS, *CONTACT_KEYS])
    del columns
    opt_out = _cells(source, Role.OPT_OUT) if Role.OPT_OUT.value in source else None
    if Role.OUTCOME.value in source:  # our results read back: what opted out stays out
        was = exclusions.opted_out_results(
            _cells(source, Role.OUTCOME), _cells(source, Role.RESULT_CODE)
        )
        cells_out = _cells(source, Role.OPT_OUT) if opt_out is None else opt_out
        opt_out = cells_out.where(~was, Outcome.EXCLUDED.value)
    if options.exclude is not None or opt_out is not None:
        stop_region, how = _stop_region(options, region[checked])
        exclusions.mark(
            frame,
            np.where(region != "", region, row_codes),
            exclusions.Exclusions(
                None if opt_out is None else opt_out.reset_index(drop=True),
                options.opt_out_header,
                options.exclude,
                stop_region,
                how,
                list_unusable=list_unusable,
            ),
        )
    return frame


def excluded_numbers(frame: pd.DataFrame, options: ContactOptions) -> frozenset[str]:
    """Every number (E.164) `prepare` excluded: its excluded rows' and the STOP list's."""
    region, how = _stop_region(options, frame["country_code"].astype(str).to_numpy())
    return exclusions.excluded_numbers(
        frame, exclusions.Exclusions(stop=options.exclude, stop_region=region, stop_region_how=how)
    )


def _stop_region(options: ContactOptions, regions: np.ndarray) -> tuple[str | None, str]:
    """The country of a STOP list's numbers without a prefix, and where it comes from:
    `--default-country`, else the country of the job's one list (`--list`), else none."""
    if options.default_country:
        return options.default_country, "--default-country"
    found = set(regions.tolist()) - {""}
    if options.list_name is not None and len(found) == 1:
        return found.pop(), f"the country of list {options.list_name!r}"
    return None, ""
