"""The lists kind in the send loop: one `/contact/list/create` per row, settled by re-reading
the account's lists (`importer.send` holds the rules of truth this applies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from importer.records import Outcome
from importer.row_updates import Answered, RowUpdate, answered, row_update

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient
    from importer.journal import Journal
    from importer.reconcile import AccountDirectory, KnownList

#: The row fields that sending does not change, as the journal records them.
INPUT_FIELDS = ("row", "list_name", "country", "name", "country_code", "name_key")


def settled_update(answered: Answered, found: KnownList | None, country: str) -> RowUpdate:
    """An unsettled row's outcome once a re-read of the account (`found` or not) vouches for it.

    A list found that predates the run (`KnownList.predates_run`) is never this run's creation.
    """
    from importer.reconcile import ambiguous_update, existing_message

    update = answered.update
    if found is not None and found.others:
        code, message = ambiguous_update(found, attempts=update.attempts)
        return RowUpdate(Outcome.FAILED, code, message, "", update.attempts)
    if found is None:
        if update.code == "ERR_104":
            message = "name not available (ERR_104) and not found among the account's lists"
        else:
            message = f"{answered.reason}; not found on the account when re-read, so not created"
        return RowUpdate(Outcome.FAILED, update.code, message, "", update.attempts)
    if update.code == "ERR_104" and not answered.uncertain:
        message = existing_message(found, country).replace(
            "already exists", "name already taken on the account, found"
        )
        return RowUpdate(Outcome.EXISTS, "OK", message, found.list_contact_id, update.attempts)
    if found.predates_run:
        message = existing_message(found, country)
        return RowUpdate(Outcome.EXISTS, "OK", message, found.list_contact_id, update.attempts)
    message = (
        f"created, list id {found.list_contact_id}: confirmed by re-reading the account "
        "(the answer to an earlier attempt was lost)"
    )
    if found.note:
        message += f"; {found.note}"
    return RowUpdate(Outcome.CREATED, "OK", message, found.list_contact_id, update.attempts)


class ListSending:
    """The lists kind in the send loop: one create request per row, re-reads of the account's
    lists (the shared `AccountDirectory`), rows journaled with `INPUT_FIELDS`."""

    def __init__(
        self,
        frame: pd.DataFrame,
        client: AvoSmsClient,
        directory: AccountDirectory,
        journal: Journal,
    ) -> None:
        self.client = client
        self.directory = directory
        self.store = journal
        self.names = frame["name"].tolist()
        self.countries = frame["country_code"].tolist()
        self.keys = frame["name_key"].tolist()
        #: Each row's INPUT_FIELDS, read once: the journal needs them with every update.
        self.inputs = list(zip(*(frame[field].tolist() for field in INPUT_FIELDS), strict=True))

    def request(
        self, index: int, *, stopping: Callable[[], bool], on_send: Callable[[], None]
    ) -> Answered:
        """Create the row's list."""
        answer = self.client.create_list(self.names[index], self.countries[index], on_send=on_send)
        retryable = self.client.retry_policy.retries
        update = row_update(answer, stopping=stopping(), retryable=retryable)
        return answered(answer, update, taken_code="ERR_104")

    def wait_before_refresh(self) -> float:
        """The directory's spacing of re-reads."""
        return self.directory.wait_before_refresh()

    def refresh(self, indexes: list[int]) -> float:
        """Re-read the account's lists (one request whatever the rows)."""
        return self.directory.refresh()

    def settle(self, index: int, answered: Answered) -> RowUpdate:
        """The row's outcome from the re-read list of lists."""
        # The name sent picks this run's list among look-alikes, if it may have made one.
        sent = self.names[index] if answered.uncertain else ""
        found = self.directory.get(self.keys[index], sent)
        return settled_update(answered, found, self.countries[index])

    def journal(self, run_id: int, updates: list[tuple[int, RowUpdate]]) -> None:
        """Journal rows as `RowRecord`s."""
        from importer.journal_records import RowRecord

        records = []
        for index, update in updates:
            row, list_name, country, name, country_code, name_key = self.inputs[index]
            records.append(
                RowRecord(
                    row,
                    list_name,
                    country,
                    name,
                    country_code,
                    update.outcome,
                    update.code,
                    update.message,
                    update.list_contact_id,
                    update.attempts,
                    name_key,
                )
            )
        self.store.record_rows(run_id, records)
