"""The plan stage: match rows against what already exists before anything is created.

Two sources know which lists exist: the account itself (`/contact/list`, the truth) and our own
journal (lists an earlier run created). A row whose name is known gets outcome ``exists`` and the
list's id; only the rest are sent. `AccountDirectory` also answers the "name not available"
(ERR_104) case during sending, re-reading the account at most once every few seconds for all
workers together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import pandas as pd

from importer.client import AccountList
from importer.normalize import name_key
from importer.records import LocalCode, Outcome

#: Seconds between two account re-reads triggered by ERR_104 answers.
REFETCH_INTERVAL = 3.0


@dataclass(frozen=True)
class KnownList:
    """A list known to exist: its id, its country, and where we learnt of it."""

    list_contact_id: str
    country_code: str
    source: str
    #: Its name as the account spells it ("" when not known).
    name: str = ""
    #: Other lists of the account whose names are the same by our rule: (id, name) each.
    others: tuple[tuple[str, str], ...] = ()


def account_index(lists: Iterable[AccountList]) -> dict[str, KnownList]:
    """The account's lists keyed by the one "same list name" rule (`normalize.name_key`).

    Two lists whose names are the same by that rule (``Paris``, ``PARIS``) share a key: the
    first is kept with the others in `KnownList.others`, so a row of that name is ambiguous.
    """
    lists = list(lists)
    if not lists:
        return {}
    keys = name_key(pd.Series([item.name for item in lists], dtype="str"))
    index: dict[str, KnownList] = {}
    for key, item in zip(keys.tolist(), lists, strict=True):
        first = index.get(key)
        if first is None:
            index[key] = KnownList(
                item.list_contact_id, item.country_code.upper(), "the account", item.name
            )
        else:
            other = ((item.list_contact_id, item.name),)
            index[key] = replace(first, others=first.others + other)
    return index


def ambiguous_update(item: KnownList) -> tuple[str, str]:
    """The code and message of a row whose name matches several of the account's lists."""
    shown = ", ".join(
        f"{name!r} (list id {list_id})"
        for list_id, name in ((item.list_contact_id, item.name), *item.others)
    )
    message = (
        f"ambiguous: the account has {len(item.others) + 1} lists with this name: {shown}; "
        "not sent: rename or delete all but one, then run again"
    )
    return LocalCode.AMBIGUOUS_NAME.value, message


def mark_existing(frame: pd.DataFrame, known: Mapping[str, KnownList]) -> int:
    """Turn rows still to be sent whose name is known into ``exists`` rows; return how many."""
    if not known:
        return 0
    to_send = frame["outcome"].isin([Outcome.PLANNED, Outcome.PENDING])
    found = to_send & frame["name_key"].isin(known.keys())
    if not found.any():
        return 0
    hits = frame.loc[found, ["name_key", "country_code"]]
    matched = [known[key] for key in hits["name_key"].tolist()]
    known_rows = [
        _known_row(item, row_country)
        for item, row_country in zip(matched, hits["country_code"].tolist(), strict=True)
    ]
    # One assignment per column, as pandas assigns fastest.
    columns = ("outcome", "code", "message", "list_contact_id")
    for position, column in enumerate(columns):
        frame.loc[found, column] = [known_row[position] for known_row in known_rows]
    return int(found.sum())


def _known_row(item: KnownList, row_country: str) -> tuple[str, str, str, str]:
    """outcome, code, message and id of a row whose name is known: ``exists``, or ambiguous."""
    if item.others:
        code, message = ambiguous_update(item)
        return Outcome.FAILED.value, code, message, ""
    return Outcome.EXISTS.value, "OK", existing_message(item, row_country), item.list_contact_id


def existing_message(item: KnownList, row_country: str) -> str:
    """Plain words for an ``exists`` row, warning when the existing list's country differs."""
    message = f"already exists ({item.source}), list id {item.list_contact_id}"
    if item.country_code and row_country and item.country_code != row_country:
        message += (
            f"; its country is {item.country_code}, not {row_country} as in this row"
            " (a list's country cannot be changed)"
        )
    return message


class AccountDirectory:
    """The account's lists by name, re-read when rows answered "name not available" (ERR_104).

    The sending loop runs one re-read at a time, off its own thread, and reads the result when
    it is done: workers never wait on it. Re-reads are spaced by ``interval`` seconds, and one
    re-read settles every ERR_104 answered before it started.
    """

    def __init__(
        self,
        fetch: Callable[[], list[AccountList]],
        *,
        interval: float = REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._interval = interval
        self._clock = clock
        self._index: dict[str, KnownList] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        #: Where a list came from, when we know better than "the account" (name key → words,
        #: e.g. "created by run 3 (interrupted)").
        self.origins: dict[str, str] = {}

    def load(self, lists: Iterable[AccountList]) -> dict[str, KnownList]:
        """Seed the directory with lists already fetched (the reconcile step's answer)."""
        self._index = account_index(lists)
        self.fetched_at = self._clock()
        return dict(self._index)

    def wait_before_refresh(self) -> float:
        """Seconds until a re-read is allowed (0 when it is due)."""
        if self.fetched_at is None:
            return 0.0
        return max(0.0, self.fetched_at + self._interval - self._clock())

    def refresh(self) -> float:
        """Re-read the account's lists now; return when the re-read started.

        A failed re-read counts for the spacing too, so a failing API is not asked again at once.
        """
        started = self._clock()
        try:
            self._index = account_index(self._fetch())
            self.fetches += 1
        finally:
            self.fetched_at = started
        return started

    def get(self, key: str) -> KnownList | None:
        """The list named ``key`` (normalized, case-insensitive) as last read."""
        found = self._index.get(key)
        if found is not None and key in self.origins:
            found = replace(found, source=self.origins[key])
        return found
