"""Exports of what the account holds: its lists (`lists`), the contacts of chosen lists
(`contacts-export`), as CSV, XLSX or JSON, sending only reads.

The contacts export is a backup before a sync, a check after a migration: the file has the
columns of a contacts file (`EXPORT_COLUMNS`, the results' own names), so `avosms-import run
EXPORT` imports it back as it is. Lists are chosen by name (the one "same list name" rule,
`normalize.same_name_key`), by id (`--id`), or all of them (`--all`). Only reads are sent: one
read of the account's lists, then one `/contact/list/information` per chosen list.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from importer.errors import ConfigError
from importer.job import Environment, open_api
from importer.kinds.contacts import CONTACT_COLUMNS
from importer.kinds.contacts_plan import REQUEST_FIELDS
from importer.kinds.roles import OPTIONAL_ROLES, Role

if TYPE_CHECKING:
    from importer.client import AccountContact, AccountList
    from importer.options import JobOptions

#: The export's columns: those of a contacts results file that a contacts import reads back
#: (`phone` is a phone header every contacts import recognises), in the results' order.
EXPORT_COLUMNS: tuple[str, ...] = tuple(
    column
    for column in CONTACT_COLUMNS
    if column
    in {Role.LIST_NAME, Role.COUNTRY, Role.PHONE, "list_contact_id", *map(str, OPTIONAL_ROLES)}
)

#: The `lists` export's columns (`client.AccountList`'s fields).
ACCOUNT_LIST_COLUMNS = (
    "list_contact_id",
    "name",
    "country_code",
    "country_name",
    "nb_contact",
    "creation_date",
)

#: Names of the account's lists shown when a name given is not one of them.
SHOWN_NAMES = 10


@dataclass(frozen=True)
class ExportResult:
    """What `export_contacts` wrote: how many lists and contacts, and where."""

    lists: int
    contacts: int
    output: Path

    def __str__(self) -> str:
        contacts = "contact" if self.contacts == 1 else "contacts"
        lists = "list" if self.lists == 1 else "lists"
        return f"{self.contacts} {contacts} of {self.lists} {lists}"


def export_account_lists(options: JobOptions, env: Environment, output: Path) -> int:
    """Write the account's lists to ``output`` (.csv, .xlsx or .json); return how many."""
    import pandas as pd

    from importer.results import write_table

    with open_api(options, env) as (client, _scope):
        lists = client.fetch_lists()
    table = pd.DataFrame(
        [asdict(item) for item in lists], columns=ACCOUNT_LIST_COLUMNS, dtype="str"
    )
    write_table(table, output, sheet_name="Lists")
    return len(table)


def export_contacts(
    options: JobOptions,
    env: Environment,
    output: Path,
    *,
    names: Sequence[str] = (),
    ids: Sequence[str] = (),
    every: bool = False,
) -> ExportResult:
    """Write the contacts of the lists named (`names`), given by id (`ids`), or of every list
    (`every`) to `output` (.csv, .xlsx or .json, by extension; cells formula-safe as results).

    Raises ConfigError (exit 2, before any list is read) when nothing is chosen, or a name or
    an id matches no list, or a name matches several (their ids named: give `--id`).
    """
    import pandas as pd

    from importer.results import check_writable, write_table

    if not (names or ids or every):
        raise ConfigError("name at least one list (LIST or --id ID), or give --all")
    check_writable(output)  # its format and folder, before anything is read
    frames = []
    with open_api(options, env) as (client, _scope):
        chosen = choose_lists(client.fetch_lists(), names, ids, every=every)
        for item in chosen:
            records = contact_records(item, client.fetch_list_contacts(item.list_contact_id))
            frames.append(pd.DataFrame(records, columns=EXPORT_COLUMNS, dtype="str"))
    table = pd.concat(frames) if frames else pd.DataFrame(columns=EXPORT_COLUMNS, dtype="str")
    if output.suffix.lower() == ".xlsx":
        from importer.results_xlsx import check_rows_fit

        check_rows_fit(len(table), f"{output}: ")
    write_table(table, output, sheet_name="Contacts")
    return ExportResult(len(chosen), len(table), output)


def choose_lists(
    lists: Sequence[AccountList], names: Sequence[str], ids: Sequence[str], *, every: bool
) -> list[AccountList]:
    """The account's lists to export, each once: every list in the account's order (`every`),
    then those named, then those given by id, in the order given.

    A name is matched by the one "same list name" rule; one the account holds twice by that
    rule is refused with their ids, rather than guessed.
    """
    from importer.normalize import same_name_key

    by_id = {item.list_contact_id: item for item in lists}
    by_key: dict[str, list[AccountList]] = {}
    for item in lists:
        by_key.setdefault(same_name_key(item.name), []).append(item)
    chosen: dict[str, AccountList] = dict(by_id) if every else {}
    for name in names:
        found = by_key.get(same_name_key(name), [])
        if not found:
            raise ConfigError(f"no list named {name!r} on the account{_nearest(name, lists)}")
        if len(found) > 1:
            shown = ", ".join(f"{item.name!r} (id {item.list_contact_id})" for item in found)
            raise ConfigError(
                f"list name {name!r} is ambiguous: the account has {len(found)} lists with this "
                f"name: {shown}; choose one with --id"
            )
        chosen.setdefault(found[0].list_contact_id, found[0])
    for list_id in ids:
        if list_id.strip() not in by_id:
            raise ConfigError(f"no list with id {list_id!r} on the account")
        chosen.setdefault(list_id.strip(), by_id[list_id.strip()])
    return list(chosen.values())


def _nearest(name: str, lists: Sequence[AccountList]) -> str:
    """`; did you mean …?` with the closest names, or the account's first names, or nothing."""
    names = [item.name for item in lists]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {' or '.join(map(repr, close))}?"
    if not names:
        return " (the account has no lists)"
    more = f", … ({len(names)} in all)" if len(names) > SHOWN_NAMES else ""
    return f"; its lists: {', '.join(map(repr, names[:SHOWN_NAMES]))}{more}"


def contact_records(
    item: AccountList, contacts: Sequence[AccountContact]
) -> list[Mapping[str, str]]:
    """One export row per contact of a list: its list, country, number as the account holds
    it, and its optional fields under the contacts file's column names."""
    list_columns = {
        Role.LIST_NAME.value: item.name,
        Role.COUNTRY.value: item.country_code.upper(),
        "list_contact_id": item.list_contact_id,
    }
    return [
        list_columns
        | {Role.PHONE.value: contact.number}
        | {role.value: contact.fields.get(REQUEST_FIELDS[role], "") for role in OPTIONAL_ROLES}
        for contact in contacts
    ]
