"""The contacts plan: which rows are already in their list on the account, and which to add.

Each target list that exists is read once (`/contact/list/information`); its numbers are
normalized with the same phone function as the file's, so `0612345678` on the account and
`+33 6 12 34 56 78` in the file are one contact. A row whose number is in its list is `exists`
(no request) and its message names the fields that differ (updating them is a later step);
an empty cell in the file never differs from a value on the account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from importer.api.endpoints import CONTACT_FIELDS
from importer.cells import CellFact
from importer.client import AccountContact, AvoSmsClient
from importer.kinds.contacts import ContactOptions, excluded_numbers, prepare
from importer.kinds.exclusions import present_in_lists
from importer.kinds.roles import OPTIONAL_ROLES, Role
from importer.records import LIST_CODE_PREFIX, LocalCode, Outcome
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


def differing_fields(row: Mapping[Any, object], contact: AccountContact) -> list[str]:
    """The optional fields the row sets to something else than the account holds."""
    differ = []
    for role in OPTIONAL_ROLES:
        mine = str(row.get(role.value) or "")
        if not mine:
            continue  # an empty cell never differs
        theirs = contact.fields.get(REQUEST_FIELDS[role], "")
        if _comparable(role, mine) != _comparable(role, theirs):
            differ.append(role.value)
    return differ


def plan(frame: pd.DataFrame, lists: Mapping[str, ListOnAccount]) -> int:
    """Mark rows to send whose list exists: their list id, and `exists` when already in it.

    In: `kinds.contacts.prepare`'s frame (changed in place) and the existing target lists by
    list key. Out: how many rows became `exists`.
    """
    to_send = frame["outcome"].isin([Outcome.PLANNED, Outcome.PENDING]) & frame["list_key"].isin(
        lists.keys()
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
    indexes = [index for index, _, _ in found]
    rows = frame.loc[indexes, [role.value for role in OPTIONAL_ROLES] + ["code", "message"]]
    messages = []
    for row, (_, target, contact) in zip(rows.to_dict("records"), found, strict=True):
        message = f"already in list {target.list_contact_id}"
        differ = differing_fields(row, contact)
        if differ:
            message += f"; differs on the account: {', '.join(differ)} (not updated)"
        # What reading said (a field left out) stays; a "not sent yet" placeholder does not.
        said = "" if row["code"] == LocalCode.NOT_SENT else str(row["message"])
        messages.append(f"{message}; {said}" if said else message)
    frame.loc[indexes, "outcome"] = Outcome.EXISTS.value
    frame.loc[indexes, "code"] = "OK"
    frame.loc[indexes, "message"] = messages
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
        frame.loc[rows, ["outcome", "code", "message"]] = [
            Outcome.FAILED.value,
            LIST_CODE_PREFIX + code,
            f"list {message}",
        ]


def read_account(
    client: AvoSmsClient,
    source: pd.DataFrame,
    options: ContactOptions,
    cells: Sequence[CellFact] = (),
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Prepare and plan a contacts file against the account (read-only).

    One read of the account's lists gives each existing list's country (the numbers are
    checked against it); each target list that exists is then read once with its contacts
    (with exclusions, every list the file names: an excluded number may be there). Rows to
    add whose list is missing say the list will be created first. Out: the frame, and list
    key -> the excluded numbers it already holds.
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
    lists = {}
    for key in targets:
        item = known[key]
        contacts = client.fetch_list_contacts(item.list_contact_id)
        lists[key] = ListOnAccount(
            item.list_contact_id, item.country_code, index_contacts(item.country_code, contacts)
        )
    plan(frame, lists)
    new = to_send & ~frame["list_key"].isin(known.keys())
    if new.any():
        said = frame.loc[new, "message"]
        note = "list not on the account: it is created first"
        frame.loc[new, "message"] = said.where(said == "", said + "; ") + note
    held = {key: target.contacts for key, target in lists.items()}
    return frame, present_in_lists(frame, excluded, held)
