"""The lists kind in the send loop: one `/contact/list/create` per row, settled by re-reading
the account's lists (`importer.send` holds the rules of truth this applies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from importer.send import INPUT_FIELDS, Answered, RowUpdate, answered, row_update, settled_update

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient
    from importer.journal import Journal
    from importer.reconcile import AccountDirectory


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
        columns = [frame[field].tolist() for field in INPUT_FIELDS]
        self.inputs = [
            dict(zip(INPUT_FIELDS, values, strict=True)) for values in zip(*columns, strict=True)
        ]

    def request(self, index: int, *, stopping: bool, on_send: Callable[[], None]) -> Answered:
        """Create the row's list."""
        answer = self.client.create_list(self.names[index], self.countries[index], on_send=on_send)
        update = row_update(answer, stopping=stopping, retryable=self.client.retry_policy.retries)
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
        from importer.journal import RowRecord

        self.store.record_rows(
            run_id,
            [RowRecord(**self.inputs[index], **vars(update)) for index, update in updates],
        )
