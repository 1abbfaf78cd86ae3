"""The contacts plan: which rows are already in their list on the account, and which to add.

Each target list that exists is read once (`/contact/list/information`); its numbers are
normalized with the same phone function as the file's, so `0612345678` on the account and
`+33 6 12 34 56 78` in the file are one contact. A row whose number is in its list is `exists`
(no request) and its message names the fields that differ; with `--update` it is an update of
the full merged record instead (the API blanks a field left out): an empty cell in the file
keeps the account's value, unless `--clear-empty`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from importer.api.answers import AccountContact
from importer.api.endpoints import CONTACT_FIELDS
from importer.cells import CellFact
from importer.client import AvoSmsClient
from importer.kinds.contacts import (
    Action,
    ContactOptions,
    excluded_numbers,
    prepare,
)
from importer.kinds.exclusions import present_in_lists
from importer.kinds.roles import OPTIONAL_ROLES, Role
from importer.kinds.row_notes import reading_notes, set_message, with_notes
from importer.records import LIST_CODE_PREFIX, Outcome
from importer.rules import fields as rules
from importer.rules.phones import ANY_TYPE, Phone, normalize_phone

if TYPE_CHECKING:
    from importer.reconcile import KnownList

#: The API's request field of each optional role (the API documents them in this order).
REQUEST_FIELDS: Mapping[Role, str] = MappingProxyType(
    dict(zip(OPTIONAL_ROLES, CONTACT_FIELDS, strict=True))
)


@dataclass(frozen=True)
class ListOnAccount:
    """A target list that exists: its id, its country and its contacts by number in E.164."""

    list_contact_id: str
    country_code: str
    contacts: Mapping[str, AccountContact]
    #: Its name as the account spells it ("" when not known).
    name: str = ""


def index_contacts(
    country_code: str, contacts: Iterable[AccountContact]
) -> dict[str, AccountContact]:
    """A list's contacts keyed by E.164 (the account's own spelling when it does not parse)."""
    index: dict[str, AccountContact] = {}
    for contact in contacts:
        phone = normalize_phone(contact.number, country_code, number_types=ANY_TYPE)
        index.setdefault(phone.e164 if isinstance(phone, Phone) else contact.number, contact)
    return index


def _comparable(role: Role, value: str) -> str:
    """A value as the file's own rules would send it, so spellings of one value compare equal."""
    if role is Role.CIVILITY:
        return rules.civility(value).value or value
    if role is Role.EMAIL:
        return (rules.email(value).value or value).casefold()
    if role is Role.BIRTHDAY:
        return rules.birthday(value).value or value
    return " ".join(value.split())


def merge(
    row: Mapping[Any, object], contact: AccountContact, *, clear: Collection[Role] = ()
) -> tuple[list[str], dict[Role, str]]:
    """The record an update would send: each optional field the row sets, else the account's
    value (the API blanks a field left out of an update), or "" for the roles in `clear`.

    Out: the fields whose value would change (compared as the file's rules would send them, so
    an empty cell never differs unless cleared, and e-mails compare without case) and the merged
    record by role. A field that does not change is sent as the account holds it (`P1@EX.FR`
    in the file keeps the account's `p1@ex.fr`): an update only changes the fields it names.
    """
    changed, merged = [], {}
    for role in OPTIONAL_ROLES:
        mine = str(row.get(role.value) or "")
        theirs = contact.fields.get(REQUEST_FIELDS[role], "")
        merged[role] = mine or ("" if role in clear else theirs)
        if _comparable(role, merged[role]) != _comparable(role, theirs):
            changed.append(role.value)
        else:
            merged[role] = theirs
    return changed, merged


def empty_cells(cells: pd.DataFrame | None, count: int) -> dict[Role, np.ndarray]:
    """Per optional role whose column the file has, which of its cells are empty (`cells` is
    the reader's frame, one text column per role found, aligned with the prepared rows).

    A field left out because its cell was not valid is not empty: `--clear-empty` keeps the
    account's value there, as it does for a field the file has no column for.
    """
    if cells is None:
        return {}
    return {
        role: (cells[role.value].astype(str).str.strip() == "").to_numpy()
        for role in OPTIONAL_ROLES
        if role.value in cells.columns and len(cells) == count
    }


def plan(
    frame: pd.DataFrame,
    lists: Mapping[str, ListOnAccount],
    *,
    update: bool = False,
    clear_empty: bool = False,
    cells: pd.DataFrame | None = None,
) -> int:
    """Mark rows to add whose list exists: their list id, and `exists` when already in it, or,
    with `update` and fields that differ, an update (`Action.UPDATE`) of the merged record.

    In: `kinds.contacts.prepare`'s frame (changed in place), the existing target lists by list
    key, and for `clear_empty` the reader's cells (`empty_cells`). An update row holds the
    merged record it sends, the number as the account returned it, and in `change` the fields
    that change. Out: how many rows became `exists` or updates.
    """
    to_send = (
        (frame["action"] == Action.ADD)
        & frame["outcome"].isin([Outcome.PLANNED, Outcome.PENDING])
        & frame["list_key"].isin(lists.keys())
    )
    if not to_send.any():
        return 0
    at = frame.index[to_send]
    keys = frame.loc[at, "list_key"].astype(str).tolist()
    numbers = frame.loc[at, "e164"].astype(str).tolist()
    frame.loc[at, "list_contact_id"] = [lists[key].list_contact_id for key in keys]
    found = [
        (index, lists[key], lists[key].contacts[number])
        for index, key, number in zip(at, keys, numbers, strict=True)
        if number in lists[key].contacts
    ]
    if not found:
        return 0
    blank = empty_cells(cells, len(frame)) if clear_empty else {}
    indexes = [index for index, _, _ in found]
    rows = frame.loc[indexes, [role.value for role in OPTIONAL_ROLES] + ["code", "message"]]
    same, messages, updates = [], [], []
    for row, (index, target, contact) in zip(rows.to_dict("records"), found, strict=True):
        clear = [role for role, empty in blank.items() if empty[index]]
        changed, merged = merge(row, contact, clear=clear)
        if changed and update:
            updates.append((index, target, contact, changed, merged))
            continue
        message = f"already in list {target.list_contact_id}"
        if changed:
            message += f"; differs on the account: {', '.join(changed)} (not updated)"
        # What reading said (a field left out) stays; a "not sent yet" placeholder does not.
        messages.append(with_notes(message, reading_notes(str(row["message"]), str(row["code"]))))
        same.append(index)
    if same:
        frame.loc[same, "outcome"] = Outcome.EXISTS.value
        frame.loc[same, ["code", "action"]] = ["OK", ""]
        frame.loc[same, "message"] = messages
    if updates:
        changing = [index for index, *_ in updates]
        frame.loc[changing, "action"] = Action.UPDATE.value
        frame.loc[changing, "number"] = [contact.number for _, _, contact, _, _ in updates]
        frame.loc[changing, "change"] = [", ".join(changed) for *_, changed, _ in updates]
        for role in OPTIONAL_ROLES:
            frame.loc[changing, role.value] = [merged[role] for *_, merged in updates]
        planned = frame.loc[changing, "outcome"] == Outcome.PLANNED
        frame.loc[planned.index[planned], "message"] = [
            f"to update in list {target.list_contact_id}: {', '.join(changed)}"
            for (_, target, _, changed, _), shown in zip(updates, planned, strict=True)
            if shown
        ]
    return len(found)


def mark_ambiguous(frame: pd.DataFrame, lists: Mapping[str, KnownList]) -> None:
    """Rows to send whose list name matches several of the account's lists (`lists`, by list
    key): `failed` with `LIST_AMBIGUOUS_NAME` and the lists' ids, since which one is meant
    cannot be told."""
    from importer.reconcile import ambiguous_update

    for key, item in lists.items():
        code, message = ambiguous_update(item)
        rows = (frame["list_key"] == key) & frame["outcome"].isin(
            [Outcome.PLANNED, Outcome.PENDING]
        )
        set_message(frame, rows, f"list {message}")
        frame.loc[rows, ["outcome", "code"]] = [Outcome.FAILED.value, LIST_CODE_PREFIX + code]


def read_lists(client: AvoSmsClient, targets: Mapping[str, KnownList]) -> dict[str, ListOnAccount]:
    """Each of these lists (by list key, as the account knows them) read once with its contacts
    (`/contact/list/information`)."""
    lists = {}
    for key in sorted(targets):
        item = targets[key]
        contacts = client.fetch_list_contacts(item.list_contact_id)
        lists[key] = ListOnAccount(
            item.list_contact_id,
            item.country_code,
            index_contacts(item.country_code, contacts),
            item.name,
        )
    return lists


def read_account(
    client: AvoSmsClient,
    source: pd.DataFrame,
    options: ContactOptions,
    cells: Sequence[CellFact] = (),
) -> tuple[pd.DataFrame, dict[str, ListOnAccount], dict[str, list[str]]]:
    """Prepare and plan a contacts file against the account (read-only).

    One read of the account's lists gives each existing list's country (the numbers are
    checked against it); each target list that exists is then read once with its contacts
    (with exclusions, every list the file names: an excluded number may be there). Rows to
    add whose list is missing say the list will be created first. Out: the frame, the lists
    read by list key (for `--sync`), and list key -> the excluded numbers it already holds.
    """
    from importer.reconcile import account_index

    known = account_index(client.fetch_lists())
    countries = {key: item.country_code for key, item in known.items()}
    frame = prepare(source, options, countries, cells)
    to_send = frame["outcome"] == Outcome.PLANNED
    targets = sorted(set(frame.loc[to_send, "list_key"]) & known.keys())
    ambiguous = {key: known[key] for key in targets if known[key].others}
    mark_ambiguous(frame, ambiguous)
    targets = [key for key in targets if key not in ambiguous]
    excluded = excluded_numbers(frame, options)
    if excluded:
        named = set(frame["list_key"]) & known.keys()
        targets += sorted(key for key in named - set(targets) if key and not known[key].others)
    lists = read_lists(client, {key: known[key] for key in targets})
    plan(frame, lists, update=options.update, clear_empty=options.clear_empty, cells=source)
    new = to_send & ~frame["list_key"].isin(known.keys())
    if new.any():
        said = frame.loc[new, "message"]
        note = "list not on the account: it is created first"
        frame.loc[new, "message"] = said.where(said == "", said + "; ") + note
    held = {key: target.contacts for key, target in lists.items()}
    return frame, lists, present_in_lists(frame, excluded, held, sync=options.sync)
