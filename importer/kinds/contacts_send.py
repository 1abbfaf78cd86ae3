"""The contacts kind in the send loop: one `/contact/add` per row, settled like lists.

Outcomes follow the lists' rules of truth (`importer.send`): `created` when this run added the
contact, `exists` when it was in the list before. ``ERR_105`` (number already in the list) and
an unknown fate are settled by re-reading the row's list (`/contact/list/information`): found
after an attempt that may have been processed → `created`; found after ``ERR_105`` on a first
attempt → `exists` (someone added it meanwhile); not found → `failed`. ``ERR_103`` (the list
vanished) stops sending to that list; the API's ``ERR_106/107/108`` are `failed`, saying the
API disagreed with the local check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd

from importer.client import AvoSmsClient
from importer.journal import CONTACT_ROW_FIELDS, Journal
from importer.kinds.contacts_plan import REQUEST_FIELDS, index_contacts
from importer.kinds.roles import OPTIONAL_ROLES
from importer.records import Outcome
from importer.send import Answered, RowUpdate, answered, row_update

#: The code of a contact already in its list, on `/contact/add`.
CODE_TAKEN = "ERR_105"
#: The code of a list that does not exist (any more), on `/contact/add`.
CODE_NO_LIST = "ERR_103"
#: Codes of the number checks the importer makes before sending.
LOCAL_CHECK_CODES = frozenset({"ERR_106", "ERR_107", "ERR_108"})
#: A row answered ERR_105 that no re-read of its list has matched yet.
TAKEN_PENDING = (
    "number already in the list (ERR_105), not matched by a re-read of the list yet; "
    "the next run will match it"
)
#: Seconds between two re-reads of the lists with unsettled rows.
REREAD_INTERVAL = 1.0


class ContactSending:
    """The `importer.send.SendKind` of contacts: every row to send has its list's id."""

    def __init__(self, frame: pd.DataFrame, client: AvoSmsClient, journal: Journal) -> None:
        self.frame = frame
        self.client = client
        self.store = journal
        self.list_ids = frame["list_contact_id"].astype(str).tolist()
        self.numbers = frame["number"].astype(str).tolist()
        self.e164 = frame["e164"].astype(str).tolist()
        self.rows = frame["row"].astype(int).tolist()
        self.countries = frame["country_code"].astype(str).tolist()
        columns = [frame[role.value].astype(str).tolist() for role in OPTIONAL_ROLES]
        names = [REQUEST_FIELDS[role] for role in OPTIONAL_ROLES]
        self.fields = [
            dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
        ]
        #: List id -> the row whose ERR_103 said the list is gone.
        self.vanished: dict[str, int] = {}
        self._lock = threading.Lock()
        #: List id -> the numbers (E.164) the last re-read found in it.
        self.found: dict[str, set[str]] = {}
        #: Lists holding a row answered since their last re-read that only a re-read settles.
        self.dirty: set[str] = set()
        self.list_countries = dict(zip(self.list_ids, self.countries, strict=True))
        self._read_at = float("-inf")

    def request(self, index: int, *, stopping: bool, on_send: Callable[[], None]) -> Answered:
        """Add the row's contact to its list (nothing sent when the list vanished)."""
        list_id = self.list_ids[index]
        with self._lock:
            gone = self.vanished.get(list_id)
        if gone is not None:
            message = (
                f"not sent: list {list_id} no longer exists on the account (ERR_103 on row {gone})"
            )
            update = RowUpdate(Outcome.FAILED, CODE_NO_LIST, message, list_id, 0)
            return Answered(update, time.monotonic())
        answer = self.client.add_contact(
            list_id, self.numbers[index], self.fields[index], on_send=on_send
        )
        update = row_update(
            answer,
            stopping=stopping,
            retryable=self.client.retry_policy.retries,
            taken=(CODE_TAKEN, TAKEN_PENDING),
        )
        if update.outcome == Outcome.CREATED:
            update = RowUpdate(Outcome.CREATED, "OK", "added", list_id, update.attempts)
        elif answer.code == CODE_NO_LIST:
            with self._lock:
                self.vanished.setdefault(list_id, self.rows[index])
            message = (
                f"list {list_id} no longer exists on the account (ERR_103): nothing more is "
                "sent to it"
            )
            update = RowUpdate(Outcome.FAILED, CODE_NO_LIST, message, list_id, update.attempts)
        elif answer.code in LOCAL_CHECK_CODES:
            message = (
                f"{answer.message}: the API disagreed with the local check, which found "
                f"{self.numbers[index]} valid for {self.countries[index]}"
            )
            update = RowUpdate(Outcome.FAILED, answer.code, message, list_id, update.attempts)
        else:
            update = RowUpdate(
                update.outcome, update.code, update.message, list_id, update.attempts
            )
            if update.outcome == Outcome.PENDING and (
                answer.code == CODE_TAKEN or answer.uncertain
            ):
                # Before the answer's time is taken: a re-read starting later reads this list.
                with self._lock:
                    self.dirty.add(list_id)
        return answered(answer, update, taken_code=CODE_TAKEN)

    def wait_before_refresh(self) -> float:
        """Re-reads are spaced by `REREAD_INTERVAL`."""
        return max(0.0, self._read_at + REREAD_INTERVAL - time.monotonic())

    def refresh(self, indexes: list[int]) -> float:
        """Re-read, once each, every list with a row answered before now that a re-read must
        settle (these rows' lists among them)."""
        started = time.monotonic()
        self._read_at = started
        with self._lock:
            lists, self.dirty = self.dirty | {self.list_ids[index] for index in indexes}, set()
        try:
            for list_id in sorted(lists):
                contacts = self.client.fetch_list_contacts(list_id)
                found = set(index_contacts(self.list_countries[list_id], contacts))
                self.found[list_id] = found
        except BaseException:
            with self._lock:
                self.dirty |= lists
            raise
        return started

    def settle(self, index: int, answered: Answered) -> RowUpdate:
        """The row's outcome from the last re-read of its list."""
        update = answered.update
        list_id = self.list_ids[index]
        if self.e164[index] not in self.found.get(list_id, set()):
            if answered.taken:
                message = "number already present (ERR_105) but not found in the list when re-read"
            else:
                message = f"{answered.reason}; not found in the list when re-read, so not added"
            return RowUpdate(Outcome.FAILED, update.code, message, list_id, update.attempts)
        if answered.taken and not answered.uncertain:
            message = (
                f"already in list {list_id}: added by someone else meanwhile (ERR_105, "
                "found when the list was re-read)"
            )
            return RowUpdate(Outcome.EXISTS, "OK", message, list_id, update.attempts)
        message = (
            f"added to list {list_id}: confirmed by re-reading the list (the answer to an "
            "earlier attempt was lost)"
        )
        return RowUpdate(Outcome.CREATED, "OK", message, list_id, update.attempts)

    def journal(self, run_id: int, updates: list[tuple[int, RowUpdate]]) -> None:
        """Journal these rows with their new state (one transaction)."""
        indexes = [index for index, _ in updates]
        rows = self.frame.loc[indexes, list(CONTACT_ROW_FIELDS)].copy()
        # The list id stays the row's: an update made without one (a stop) does not erase it.
        for column in ("outcome", "code", "message", "attempts"):
            rows[column] = [getattr(update, column) for _, update in updates]
        self.store.record_contacts(run_id, rows)
