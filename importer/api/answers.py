"""The API's answers read into records: the account's lists, a list's contacts, and what is
wrong with an `OK` answer that does not hold what its endpoint promises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from importer.api.endpoints import (
    CONTACT_ANSWER_FIELDS,
    LIST_CREATE,
    LIST_INFORMATION,
    LIST_RETRIEVE,
)


@dataclass(frozen=True)
class AccountList:
    """One contact list already on the account, as `/contact/list` describes it."""

    list_contact_id: str
    name: str
    country_code: str
    country_name: str
    nb_contact: str
    creation_date: str


@dataclass(frozen=True)
class AccountContact:
    """One contact of a list on the account, as `/contact/list/information` describes it."""

    number: str
    """The number exactly as the account returned it (updates and deletes send it back)."""
    fields: Mapping[str, str]
    """Request field name (`contactName`, ...) -> value, "" when the account has none."""


def parse_create(document: dict[str, Any]) -> str | None:
    """What is wrong with an OK answer to a create request, if anything."""
    if not json_text(document.get("list_contact_id")):
        return "gave no list_contact_id"
    return None


def parse_lists(document: dict[str, Any]) -> str | None:
    """What is wrong with an OK answer to a list request, if anything."""
    try:
        account_lists(document)
    except ValueError as error:
        return str(error)
    return None


def parse_information(document: dict[str, Any]) -> str | None:
    """What is wrong with an OK answer to a list-information request, if anything."""
    try:
        list_contacts(document)
    except ValueError as error:
        return str(error)
    return None


def parse_nothing(document: dict[str, Any]) -> str | None:
    """An OK answer that carries nothing but its code is always well formed."""
    return None


PARSERS: Mapping[str, Callable[[dict[str, Any]], str | None]] = {
    LIST_CREATE.path: parse_create,
    LIST_RETRIEVE.path: parse_lists,
    LIST_INFORMATION.path: parse_information,
}


def _items(document: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    """The `list_contact` array of an answer (PHP may send it as an object)."""
    items = document.get("list_contact")
    if not items:
        return []
    if isinstance(items, dict):
        # PHP's json_encode turns an array with gaps in its keys into an object.
        items = list(items.values())
    if not isinstance(items, list):
        raise ValueError("list_contact is not an array")
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"list_contact holds something other than {what}")
    return items


def list_contacts(document: Mapping[str, Any]) -> list[AccountContact]:
    contacts = []
    number_field = CONTACT_ANSWER_FIELDS["contactTelephoneNumber"]
    for item in _items(document, "contacts"):
        number = json_text(item.get(number_field))
        if not number:
            raise ValueError(f"a contact in list_contact has no {number_field}")
        fields = {
            name: json_text(item.get(answer_field))
            for name, answer_field in CONTACT_ANSWER_FIELDS.items()
            if answer_field != number_field
        }
        contacts.append(AccountContact(number, fields))
    return contacts


def account_lists(document: Mapping[str, Any]) -> list[AccountList]:
    lists = []
    for item in _items(document, "lists"):
        list_id = json_text(item.get("list_contact_id"))
        if not list_id:
            raise ValueError("a list in list_contact has no list_contact_id")
        lists.append(
            AccountList(
                list_contact_id=list_id,
                name=json_text(item.get("list_contact_name")),
                country_code=json_text(item.get("list_contact_country_code")),
                country_name=json_text(item.get("list_contact_country_name")),
                nb_contact=json_text(item.get("nb_contact_list")),
                creation_date=json_text(item.get("list_contact_creation_date")),
            )
        )
    return lists


def json_text(value: object) -> str:
    """A JSON scalar as text: ids come as numbers or strings (1001, 1001.0, "1001" → "1001")."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
