"""The sandbox's contacts: one book per list, keyed by the number in E.164.

The API identifies a contact by its list and its number and does not say how it stores the
number; the sandbox keeps the number exactly as it was sent, and compares numbers in E.164
(`06 12 34 56 78` and `+33612345678` are one contact: ERR_105). Numbers are checked with the
importer's own phone rules, parsed with the list's country (`ERR_106`, `ERR_107`, `ERR_108`),
so the sandbox accepts E.164 and the list country's national form. A contacts file
(`sandbox --contacts FILE`) seeds contacts into lists before the server starts.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from importer.api.endpoints import CONTACT_ADD, CONTACT_FIELDS
from importer.errors import ConfigError
from importer.rules.phones import DEFAULT_NUMBER_TYPES, NumberType, Phone, normalize_phone
from importer.sandbox.account import Account, SandboxList, seed_reader


@dataclass(frozen=True)
class SandboxContact:
    """One contact of a sandbox list: the number as sent and its optional fields."""

    number: str
    e164: str
    fields: Mapping[str, str]
    """Request field name (`contactName`, ...) -> value; every field of `CONTACT_FIELDS`."""


@dataclass(frozen=True)
class ContactAnswer:
    """What a contact request did: the API code, the list and the number's E.164 key."""

    code: str
    list_contact_id: str = ""
    e164: str = ""
    #: Whether the request changed the account (an update to the same record does not).
    changed: bool = True


class ContactBook:
    """The contacts of every list of an `Account`; each check-and-change is atomic."""

    def __init__(
        self, account: Account, number_types: Collection[NumberType] = DEFAULT_NUMBER_TYPES
    ) -> None:
        self._account = account
        self._number_types = frozenset(number_types)
        self._lock = threading.Lock()
        self._books: dict[str, dict[str, SandboxContact]] = {}

    def check(self, form: Mapping[str, str]) -> tuple[ContactAnswer, SandboxList | None]:
        """The codes every contact endpoint checks, in the API's order (101, 102, 103, 106-108).

        OK means the list exists and the number is good; the answer then carries its E.164 key.
        """
        list_id = form.get("listContactId", "").strip()
        number = form.get("contactTelephoneNumber", "").strip()
        if not list_id:
            return ContactAnswer("ERR_101"), None
        if not number:
            return ContactAnswer("ERR_102", list_id), None
        target = self._account.by_id(list_id)
        if target is None:
            return ContactAnswer("ERR_103", list_id), None
        checked = normalize_phone(number, target.country_code, number_types=self._number_types)
        if not isinstance(checked, Phone):
            return ContactAnswer(checked.code, list_id), target
        return ContactAnswer("OK", list_id, checked.e164), target

    def add(self, form: Mapping[str, str]) -> ContactAnswer:
        """`/contact/add`: ERR_105 when the number (in E.164) is already in the list."""
        answer, _ = self.check(form)
        if answer.code != "OK":
            return answer
        contact = _contact(form, answer.e164)
        with self._lock:
            book = self._books.setdefault(answer.list_contact_id, {})
            if answer.e164 in book:
                return ContactAnswer("ERR_105", answer.list_contact_id, answer.e164)
            book[answer.e164] = contact
        return answer

    def update(self, form: Mapping[str, str]) -> ContactAnswer:
        """`/contact/update`: replaces every optional field (absent ones become empty)."""
        answer, _ = self.check(form)
        if answer.code != "OK":
            return answer
        with self._lock:
            book = self._books.get(answer.list_contact_id, {})
            old = book.get(answer.e164)
            if old is None:
                return ContactAnswer("ERR_104", answer.list_contact_id, answer.e164)
            new = book[answer.e164] = _contact(form, answer.e164, number=old.number)
        return ContactAnswer("OK", answer.list_contact_id, answer.e164, new.fields != old.fields)

    def delete(self, form: Mapping[str, str]) -> ContactAnswer:
        """`/contact/delete`: ERR_104 when the number is not in the list."""
        answer, _ = self.check(form)
        if answer.code not in ("OK", "ERR_106", "ERR_107", "ERR_108"):
            return answer
        with self._lock:
            book = self._books.get(answer.list_contact_id, {})
            if book.pop(answer.e164, None) is None:
                return ContactAnswer("ERR_104", answer.list_contact_id, answer.e164)
        return ContactAnswer("OK", answer.list_contact_id, answer.e164)

    def contacts(self, list_contact_id: str) -> list[SandboxContact]:
        """The list's contacts, in the order they were added."""
        with self._lock:
            return list(self._books.get(list_contact_id, {}).values())

    def count(self, list_contact_id: str) -> int:
        with self._lock:
            return len(self._books.get(list_contact_id, {}))

    def key(self, form: Mapping[str, str]) -> tuple[str, str]:
        """The counters' key of a contact request: (list id, E.164 or the number as sent)."""
        answer, _ = self.check(form)
        number = answer.e164 or form.get("contactTelephoneNumber", "").strip()
        return form.get("listContactId", "").strip(), number


def _contact(form: Mapping[str, str], e164: str, *, number: str | None = None) -> SandboxContact:
    return SandboxContact(
        number=number if number is not None else form.get("contactTelephoneNumber", "").strip(),
        e164=e164,
        fields=MappingProxyType({name: form.get(name, "").strip() for name in CONTACT_FIELDS}),
    )


#: The columns of a `--contacts` file, in order; the first two are required.
SEED_COLUMNS: tuple[str, ...] = ("list", "phone", *CONTACT_FIELDS)


def load_contacts_file(path: Path | str) -> list[dict[str, str]]:
    """Contacts for `sandbox --contacts FILE`: a CSV of list name, phone, then optional fields.

    Out: one form per contact (`listContactName`, `contactTelephoneNumber`, `contactName`, ...).
    The optional columns follow `SEED_COLUMNS`; a first row whose phone cell holds no digit is
    a header. The lists must exist (`--lists`); `seed_contacts` checks that.
    """
    path = Path(path)
    reader = seed_reader(path)
    forms: list[dict[str, str]] = []
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if len(cells) < 2:
                raise ConfigError(f"{path} line {reader.line_num}: expected list,phone,...")
            if not forms and not any(ch.isdigit() for ch in cells[1]):
                continue  # the header
            form = {"listContactName": cells[0], "contactTelephoneNumber": cells[1]}
            form.update(zip(CONTACT_FIELDS, cells[2:], strict=False))
            form["line"] = str(reader.line_num)
            forms.append(form)
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: {exc}") from exc
    return forms


def seed_contacts(book: ContactBook, account: Account, forms: list[dict[str, str]]) -> None:
    """Add the seed contacts; ConfigError naming the line of the first one refused."""
    for form in forms:
        target = account.by_name(form["listContactName"])
        where = f"contacts file line {form.get('line', '?')}"
        if target is None:
            raise ConfigError(
                f"{where}: no list {form['listContactName']!r} (seed it with --lists)"
            )
        answer = book.add({**form, "listContactId": target.list_contact_id})
        if answer.code != "OK":
            raise ConfigError(
                f"{where}: {form['contactTelephoneNumber']!r}: "
                f"{CONTACT_ADD.meaning(answer.code)} ({answer.code})"
            )
