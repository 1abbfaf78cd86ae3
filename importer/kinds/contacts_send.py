"""The contacts kind in the send loop: one add, update or removal per row, settled like lists.

Outcomes follow the lists' rules of truth (`importer.send`): `created`, `updated`, `deleted`
when this run did it, `exists` when the account already was as wanted. The answers that only a
re-read of the row's list (`/contact/list/information`) can settle:
- an add's ``ERR_105`` (number already in the list) or unknown fate: found after an attempt
  that may have been processed → `created`; found after ``ERR_105`` on a first attempt →
  `exists` (someone added it meanwhile); not found → `failed`;
- a removal's ``ERR_104`` (no such contact) or unknown fate: gone after an attempt that may have
  been processed → `deleted` (the answer was lost); gone after ``ERR_104`` on a first attempt →
  `exists`, "already gone" (someone removed it meanwhile); still there → `failed`;
- an update's unknown fate: the list holds the record sent → `updated`, else `failed`.
An update answered ``ERR_104`` (the contact left the list since it was read) is an add instead,
by the add's rules. ``ERR_103`` (the list vanished) stops sending to that list; the API's
``ERR_106/107/108`` are `failed`, saying the API disagreed with the local check. Updates and
removals send the number exactly as the account returned it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from importer.api.answers import AccountContact
from importer.api.endpoints import CONTACT_ADD, CONTACT_DELETE, CONTACT_UPDATE, Endpoint
from importer.client import AvoSmsClient
from importer.journal import Journal
from importer.journal_schema import CONTACT_ROW_FIELDS
from importer.kinds.contacts import Action
from importer.kinds.contacts_plan import REQUEST_FIELDS, index_contacts, merge
from importer.kinds.contacts_sync import removal_code
from importer.kinds.roles import OPTIONAL_ROLES
from importer.kinds.row_notes import reading_notes, with_notes
from importer.records import Outcome
from importer.replies import CreateAnswer
from importer.row_updates import Answered, RowUpdate, answered, row_update

#: The code of a contact already in its list, on `/contact/add`.
CODE_TAKEN = "ERR_105"
#: The code of a list that does not exist (any more), on `/contact/add`.
CODE_NO_LIST = "ERR_103"
#: The code of a contact not in its list, on `/contact/update` and `/contact/delete`.
CODE_MISSING = "ERR_104"
#: Codes of the number checks the importer makes before sending.
LOCAL_CHECK_CODES = frozenset({"ERR_106", "ERR_107", "ERR_108"})
#: A row answered ERR_105 that no re-read of its list has matched yet.
TAKEN_PENDING = (
    "number already in the list (ERR_105), not matched by a re-read of the list yet; "
    "the next run will match it"
)
#: A removal answered ERR_104 that no re-read of its list has confirmed yet.
GONE_PENDING = (
    "not in the list (ERR_104), not confirmed by a re-read of the list yet; the next run will tell"
)
#: Each action's endpoint, its outcome when answered OK, and its "already as wanted" answer.
ENDPOINTS: dict[str, Endpoint] = {
    Action.ADD: CONTACT_ADD,
    Action.UPDATE: CONTACT_UPDATE,
    Action.DELETE: CONTACT_DELETE,
}
DONE = {Action.ADD: Outcome.CREATED, Action.UPDATE: Outcome.UPDATED, Action.DELETE: Outcome.DELETED}
TAKEN = {Action.ADD: (CODE_TAKEN, TAKEN_PENDING), Action.DELETE: (CODE_MISSING, GONE_PENDING)}
#: Why a re-read says a row's request did not do what it asked, by action.
NOT_DONE = {
    Action.ADD: "not found in the list when re-read, so not added",
    Action.UPDATE: "the list, re-read, does not hold the record sent, so not updated",
    Action.DELETE: "still in the list when re-read, so not deleted",
}
#: A first attempt answered "already there" (add) or "not there" (removal), which a re-read
#: confirmed: someone else did it meanwhile, so the account already was as wanted (`exists`).
MEANWHILE = {
    Action.ADD: (
        "already in list {list_id}: added by someone else meanwhile (ERR_105, found when the "
        "list was re-read)"
    ),
    Action.DELETE: (
        "already gone from list {list_id}: removed by someone else meanwhile (ERR_104, "
        "confirmed by re-reading the list)"
    ),
}
#: Seconds between two re-reads of the lists with unsettled rows.
REREAD_INTERVAL = 1.0


class ContactSending:
    """The `importer.send.SendKind` of contacts: every row to send has its list's id and its
    `action` (add, update or removal)."""

    def __init__(self, frame: pd.DataFrame, client: AvoSmsClient, journal: Journal) -> None:
        self.frame = frame
        self.client = client
        self.store = journal
        self.list_ids = frame["list_contact_id"].astype(str).tolist()
        self.numbers = frame["number"].astype(str).tolist()
        self.e164 = frame["e164"].astype(str).tolist()
        self.rows = frame["row"].astype(int).tolist()
        self.countries = frame["country_code"].astype(str).tolist()
        #: Each row's request; an update whose contact had left the list becomes an add.
        self.actions = [Action(action or Action.ADD) for action in frame["action"].tolist()]
        self.changes = frame["change"].astype(str).tolist()
        # Columns only: each row's notes and request fields are made when it is sent, by its
        # worker, so nothing per row delays the first request.
        self.messages = frame["message"].astype(str).tolist()
        self.codes = frame["code"].astype(str).tolist()
        self.optional = {
            REQUEST_FIELDS[role]: frame[role.value].astype(str).tolist() for role in OPTIONAL_ROLES
        }
        #: List id -> the row whose ERR_103 said the list is gone.
        self.vanished: dict[str, int] = {}
        self._lock = threading.Lock()
        #: List id -> its contacts (by E.164) as the last re-read found them.
        self.found: dict[str, dict[str, AccountContact]] = {}
        #: Lists holding a row answered since their last re-read that only a re-read settles.
        self.dirty: set[str] = set()
        self.list_countries = dict(zip(self.list_ids, self.countries, strict=True))
        self._read_at = float("-inf")

    def request(
        self, index: int, *, stopping: Callable[[], bool], on_send: Callable[[], None]
    ) -> Answered:
        """Send the row's request (nothing sent when the list vanished); its message keeps what
        reading said about the row."""
        result = self._request(index, stopping=stopping, on_send=on_send)
        return replace(result, update=self._noted(index, result.update))

    def _noted(self, index: int, update: RowUpdate) -> RowUpdate:
        """`update` whose message keeps what reading said about the row (a field left out, …);
        a removal's row was not read from the file."""
        if self.actions[index] is Action.DELETE:
            return update
        notes = reading_notes(self.messages[index], self.codes[index])
        return replace(update, message=with_notes(update.message, notes))

    def fields(self, index: int) -> dict[str, str]:
        """The row's optional request fields by the API's names (`REQUEST_FIELDS`)."""
        return {name: values[index] for name, values in self.optional.items()}

    def _request(
        self, index: int, *, stopping: Callable[[], bool], on_send: Callable[[], None]
    ) -> Answered:
        list_id = self.list_ids[index]
        with self._lock:
            gone = self.vanished.get(list_id)
        if gone is not None:
            where = f"row {gone}" if gone > 0 else "a removal"
            message = (
                f"not sent: list {list_id} no longer exists on the account (ERR_103 on {where})"
            )
            update = RowUpdate(Outcome.FAILED, CODE_NO_LIST, message, list_id, 0)
            return Answered(update, time.monotonic())
        answer = self._send(index, on_send)
        earlier = 0
        if self.actions[index] is Action.UPDATE and answer.code == CODE_MISSING:
            # The contact left the list since it was read: add it, by the add's rules.
            earlier, self.actions[index] = answer.attempts, Action.ADD
            answer = self._send(index, on_send)
        action = self.actions[index]
        taken = TAKEN.get(action, ("", ""))
        retryable = self.client.retry_policy.retries
        update = row_update(answer, stopping=stopping(), retryable=retryable, taken=taken)
        attempts = update.attempts + earlier
        if answer.code == "OK":
            done = self._done(index, earlier)
            update = RowUpdate(DONE[action], self._code(index), done, list_id, attempts)
        elif answer.code == CODE_NO_LIST:
            with self._lock:
                self.vanished.setdefault(list_id, self.rows[index])
            message = (
                f"list {list_id} no longer exists on the account (ERR_103): nothing more is "
                "sent to it"
            )
            update = RowUpdate(Outcome.FAILED, CODE_NO_LIST, message, list_id, attempts)
        elif answer.code in LOCAL_CHECK_CODES:
            message = (
                f"{answer.message}: the API disagreed with the local check, which found "
                f"{self.numbers[index]} valid for {self.countries[index]}"
            )
            update = RowUpdate(Outcome.FAILED, answer.code, message, list_id, attempts)
        else:
            update = RowUpdate(update.outcome, update.code, update.message, list_id, attempts)
            if update.outcome == Outcome.PENDING and (answer.code == taken[0] or answer.uncertain):
                # Before the answer's time is taken: a re-read starting later reads this list.
                with self._lock:
                    self.dirty.add(list_id)
        return answered(answer, update, taken_code=taken[0])

    def _send(self, index: int, on_send: Callable[[], None]) -> CreateAnswer:
        action = self.actions[index]
        fields = {} if action is Action.DELETE else self.fields(index)
        endpoint = ENDPOINTS[action]
        return self.client.change_contact(
            endpoint, self.list_ids[index], self.numbers[index], fields, on_send=on_send
        )

    def _done(self, index: int, earlier: int) -> str:
        """The message of a row whose request was answered OK (or a re-read confirmed)."""
        action, list_id, change = self.actions[index], self.list_ids[index], self.changes[index]
        if action is Action.UPDATE:
            return f"updated in list {list_id}: {change}"
        if action is Action.DELETE:
            return f"deleted from list {list_id}: {change}"
        if earlier:
            return f"added to list {list_id}: it had left the list before its update (ERR_104)"
        return f"added to list {list_id}"

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
                self.found[list_id] = index_contacts(self.list_countries[list_id], contacts)
        except BaseException:
            with self._lock:
                self.dirty |= lists
            raise
        return started

    def settle(self, index: int, answered: Answered) -> RowUpdate:
        """The row's outcome from the last re-read of its list (with what reading said)."""
        return self._noted(index, self._settle(index, answered))

    def _settle(self, index: int, answered: Answered) -> RowUpdate:
        update, list_id = answered.update, self.list_ids[index]
        contact = self.found.get(list_id, {}).get(self.e164[index])
        action, attempts = self.actions[index], update.attempts
        if action is Action.DELETE:
            done = contact is None
        elif action is Action.UPDATE:
            names = {REQUEST_FIELDS[role]: role.value for role in OPTIONAL_ROLES}
            sent = {names[name]: value for name, value in self.fields(index).items()}
            done = contact is not None and not merge(sent, contact, clear=OPTIONAL_ROLES)[0]
        else:
            done = contact is not None
        if not done:
            message = f"{answered.reason}; {NOT_DONE[action]}"
            return RowUpdate(Outcome.FAILED, update.code, message, list_id, attempts)
        if answered.taken and not answered.uncertain:  # someone else did it meanwhile
            message = MEANWHILE[action].format(list_id=list_id)
            return RowUpdate(Outcome.EXISTS, self._code(index), message, list_id, attempts)
        message = (
            f"{self._done(index, 0)}; confirmed by re-reading the list (the answer to an "
            "earlier attempt was lost)"
        )
        return RowUpdate(DONE[action], self._code(index), message, list_id, attempts)

    def _code(self, index: int) -> str:
        """The code of a row whose request was done (or a re-read found done)."""
        if self.actions[index] is Action.DELETE:
            return removal_code(self.changes[index])
        return "OK"

    def journal(self, run_id: int, updates: list[tuple[int, RowUpdate]]) -> None:
        """Journal these rows with their new state (one transaction)."""
        indexes = [index for index, _ in updates]
        rows = self.frame.loc[indexes, list(CONTACT_ROW_FIELDS)].copy()
        # The list id stays the row's: an update made without one (a stop) does not erase it.
        for column in ("outcome", "code", "message", "attempts"):
            rows[column] = [getattr(update, column) for _, update in updates]
        rows["action"] = [self.actions[index].value for index in indexes]
        self.store.record_contacts(run_id, rows)
