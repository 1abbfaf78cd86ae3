"""The sandbox account: its credentials and its lists.

Lists are unique by name, compared by a `NameRule`: the API does not document how it compares
names, so the sandbox models it explicitly, either as the importer's own rule or as a stricter
one, and tests show the importer stays right either way. A lists file (`sandbox --lists FILE`)
seeds the lists before the server starts.
Their contacts live in `importer.sandbox.contacts`.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from importer.api.endpoints import LIST_CREATE, LIST_RETRIEVE
from importer.errors import ConfigError

DEMO_ID = "demo@example.com"
DEMO_KEY = "demo-key-0000"

CREATE_PATH = LIST_CREATE.path
LIST_PATH = LIST_RETRIEVE.path
FIRST_LIST_ID = 1001
#: How the sandbox writes `list_contact_creation_date` (always UTC; the API names no zone).
CREATION_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Lists the account starts with (`existing_lists`, `--lists`) are dated this long before the
#: sandbox starts: they were there before any run.
SEEDED_LISTS_AGE = 86_400.0


@dataclass(frozen=True)
class SandboxList:
    """One list of the sandbox account."""

    list_contact_id: str
    name: str
    country_code: str
    creation_date: str


@cache
def country_names() -> dict[str, str]:
    """ISO2 code -> English name, loaded once (pycountry's database is slow to open)."""
    import pycountry

    return {country.alpha_2: country.name for country in pycountry.countries}


class NameRule(StrEnum):
    """How the sandbox decides that two list names are the same (an explicit model of the API).

    ``importer``: the importer's own rule (`importer.normalize.same_name_key`: NFC, spaces
    collapsed, casefolded). ``strict``: only the ends trimmed; case, spaces and Unicode forms
    all count (`Paris`, `PARIS` and `Paris  x` are three lists).
    """

    IMPORTER = "importer"
    STRICT = "strict"


@lru_cache(maxsize=1 << 16)
def _importer_key(name: str) -> str:
    from importer.normalize import same_name_key

    return same_name_key(name)


def name_key(name: str, rule: NameRule = NameRule.IMPORTER) -> str:
    """The sandbox's uniqueness key for `name` under `rule`."""
    if rule is NameRule.STRICT:
        return name.strip()
    return _importer_key(name)


class Account:
    """The lists of the (single) sandbox account; check-and-insert is atomic."""

    def __init__(self, rule: NameRule = NameRule.IMPORTER) -> None:
        self.rule = rule
        self._lock = threading.Lock()
        self._by_key: dict[str, SandboxList] = {}
        self._next_id = FIRST_LIST_ID

    def create(
        self, name: str, country_code: str, *, age: float = 0.0
    ) -> tuple[str, SandboxList | None]:
        """The API code for this create, and the new list when it is OK (dated `age` s ago)."""
        name = name.strip()
        country_code = country_code.strip().upper()
        if not name:
            return "ERR_101", None
        if not country_code:
            return "ERR_102", None
        if country_code not in country_names():
            return "ERR_103", None
        key = name_key(name, self.rule)
        with self._lock:
            if key in self._by_key:
                return "ERR_104", None
            created = SandboxList(
                list_contact_id=str(self._next_id),
                name=name,
                country_code=country_code,
                creation_date=time.strftime(CREATION_DATE_FORMAT, time.gmtime(time.time() - age)),
            )
            self._next_id += 1
            self._by_key[key] = created
        return "OK", created

    def remove(self, list_contact_id: str) -> bool:
        """Delete a list, as an operator would in the web interface; False when unknown."""
        with self._lock:
            for key, item in self._by_key.items():
                if item.list_contact_id == list_contact_id:
                    del self._by_key[key]
                    return True
        return False

    def lists(self) -> list[SandboxList]:
        with self._lock:
            return list(self._by_key.values())

    def by_id(self, list_contact_id: str) -> SandboxList | None:
        """The list with this id, or None."""
        with self._lock:
            return next(
                (x for x in self._by_key.values() if x.list_contact_id == list_contact_id), None
            )

    def by_name(self, name: str) -> SandboxList | None:
        """The list with this name (the sandbox's uniqueness rule), or None."""
        with self._lock:
            return self._by_key.get(name_key(name, self.rule))


def seed_reader(path: Path) -> Any:
    """A csv reader over a UTF-8 seed file, its delimiter sniffed; ConfigError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text, newline=""), dialect)


def load_lists_file(path: Path | str, rule: NameRule = NameRule.IMPORTER) -> list[tuple[str, str]]:
    """Pre-existing lists for `sandbox --lists FILE`: a CSV of name,country (header optional).

    Two lines whose names are the same under `rule` are refused.
    """
    path = Path(path)
    reader = seed_reader(path)
    countries = country_names()
    lists: list[tuple[str, str]] = []
    first_line: dict[str, int] = {}
    header_seen = False
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            where = f"{path} line {reader.line_num}"
            if len(cells) < 2:
                raise ConfigError(f"{where}: expected two columns, name,country")
            name, country = cells[0], cells[1].upper()
            if country not in countries:
                if not lists and not header_seen:
                    header_seen = True  # the first row names the columns
                    continue
                raise ConfigError(f"{where}: {cells[1]!r} is not an ISO 3166 alpha-2 code")
            header_seen = True
            if not name:
                raise ConfigError(f"{where}: empty list name")
            key = name_key(name, rule)
            if key in first_line:
                raise ConfigError(f"{where}: list {name!r} already on line {first_line[key]}")
            first_line[key] = reader.line_num
            lists.append((name, country))
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: {exc}") from exc
    return lists
