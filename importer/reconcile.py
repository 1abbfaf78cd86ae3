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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from importer.api.answers import AccountList
from importer.normalize import name_key
from importer.records import LocalCode, Outcome

if TYPE_CHECKING:
    from importer.journal_records import InterruptedCreation

#: Seconds between two account re-reads triggered by ERR_104 answers.
REFETCH_INTERVAL = 3.0
#: How far the API's clock may be ahead of ours: a list is taken to predate a run only when its
#: creation date is earlier than the run's start by more than this.
CLOCK_SKEW_MARGIN = timedelta(minutes=5)


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
    #: The account's `list_contact_creation_date` ("" when not known).
    creation_date: str = ""
    #: Known to have been on the account before the run now sending (`AccountDirectory.get`).
    predates_run: bool = False
    #: A remark for the row's message (another list with a name the same to us, say).
    note: str = ""


def created_before(creation_date: str, moment: datetime) -> bool:
    """Whether a list's creation date is clearly earlier than `moment` (by `CLOCK_SKEW_MARGIN`).

    The API gives the date without a zone (``2024-05-01 22:00:00``); it is read as UTC. For an
    API writing the local time of a zone east of Greenwich (France's, say) that reads every
    date later than it is, never earlier: a list made shortly before the run may fail to look
    older than it, a list the run made never looks older. A date that does not parse is no
    evidence (False). README: "Creation dates, and what --no-reconcile cannot tell".
    """
    try:
        created = datetime.fromisoformat(creation_date.strip())
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created < moment - CLOCK_SKEW_MARGIN


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
                item.list_contact_id,
                item.country_code.upper(),
                "the account",
                item.name,
                creation_date=item.creation_date,
            )
        else:
            other = ((item.list_contact_id, item.name),)
            index[key] = replace(first, others=first.others + other)
    return index


def ambiguous_update(item: KnownList, *, attempts: int = 0) -> tuple[str, str]:
    """The code and message of a row whose name matches several of the account's lists.

    ``attempts`` > 0: the row was sent (`attempts` requests) before the ambiguity showed.
    """
    shown = ", ".join(
        f"{name!r} (list id {list_id})"
        for list_id, name in ((item.list_contact_id, item.name), *item.others)
    )
    if attempts:
        plural = "request" if attempts == 1 else "requests"
        done = f"sent ({attempts} {plural}), but which of them is this row's cannot be told"
    else:
        done = "not sent"
    message = (
        f"ambiguous: the account has {len(item.others) + 1} lists with this name: {shown}; "
        f"{done}: rename or delete all but one, then run again"
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

    It also tells which lists predate the run now sending (`run_started`): those known before
    it sent anything (`known_before`: the first read, or the journal's record) and those whose
    creation date is clearly earlier than its start (`created_before`).
    """

    def __init__(
        self,
        fetch: Callable[[], list[AccountList]],
        *,
        interval: float = REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        run_started: datetime | None = None,
    ) -> None:
        self._fetch = fetch
        self._interval = interval
        self._clock = clock
        self._index: dict[str, KnownList] = {}
        self._by_id: dict[str, AccountList] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self.run_started = run_started
        #: Ids of the lists known before this run sent anything.
        self.known_before: set[str] = set()
        #: Lists a stopped or killed run created, or may have, by name key (see `credited`).
        self.interrupted: Mapping[str, InterruptedCreation] = {}

    def load(self, lists: Iterable[AccountList]) -> dict[str, KnownList]:
        """Seed the directory with lists already fetched (the reconcile step's answer)."""
        self._read(lists)
        self.known_before |= self._by_id.keys()
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
            self._read(self._fetch())
            self.fetches += 1
        finally:
            self.fetched_at = started
        return started

    def _read(self, lists: Iterable[AccountList]) -> None:
        lists = list(lists)
        self._index = account_index(lists)
        self._by_id = {item.list_contact_id: item for item in lists}

    def get(self, key: str, sent_name: str = "") -> KnownList | None:
        """The list named ``key`` (normalized, case-insensitive) as last read.

        Its source names the stopped run that made it (`credited`), and `KnownList.predates_run`
        says whether it was there before this run sent anything. When several lists share the
        name by our rule and ``sent_name`` (the name this run's requests sent, which may have
        been processed) is exactly the name of one of them, and only that one is new to this
        run, that one is the row's list: returned alone, the others in its note.
        """
        found = self._index.get(key)
        if found is None:
            return None
        if found.others and sent_name:
            found = self._own_among(found, sent_name)
        found = self.credited(key, found)
        if not self._predates(found.list_contact_id):
            return found
        if found.list_contact_id not in self.known_before:  # told by its date
            source = f"{found.source}, created {found.creation_date}, before this run started"
            found = replace(found, source=source)
        return replace(found, predates_run=True)

    def credited(self, key: str, item: KnownList) -> KnownList:
        """``item``, its source "created by run N (interrupted)" when a stopped run N made it.

        Not when its creation date is clearly earlier than run N's start: then it was there
        before (a date that does not parse is no evidence either way, and gives the credit).
        """
        run = self.interrupted.get(key)
        if run is None or created_before(item.creation_date, run.started_at):
            return item
        return replace(item, source=f"created by run {run.run_id} (interrupted)")

    def _own_among(self, found: KnownList, sent_name: str) -> KnownList:
        lists = ((found.list_contact_id, found.name), *found.others)
        new = [
            list_id
            for list_id, name in lists
            if name.strip() == sent_name.strip() and not self._predates(list_id)
        ]
        if len(new) != 1:
            return found
        item = self._by_id[new[0]]
        shown = ", ".join(f"{name!r} (list id {i})" for i, name in lists if i != new[0])
        return KnownList(
            item.list_contact_id,
            item.country_code.upper(),
            "the account",
            item.name,
            creation_date=item.creation_date,
            note=f"the account also has {shown}, the same name to this importer",
        )

    def _predates(self, list_id: str) -> bool:
        if list_id in self.known_before:
            return True
        item = self._by_id.get(list_id)
        return (
            item is not None
            and self.run_started is not None
            and created_before(item.creation_date, self.run_started)
        )
