"""`run` of a lists file: the account read (or the journal), then one create per list.

`plan_lists` and `send_lists` are also how a contacts run creates its missing lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from importer.errors import Interrupted, RunStopped
from importer.job import Environment, RunContext, send_rows
from importer.records import LocalCode, Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AccountList
    from importer.list_tally import ListBefore
    from importer.options import JobOptions
    from importer.read import SourceTable
    from importer.reconcile import AccountDirectory

T = TypeVar("T")


@dataclass
class ListsJob:
    """The lists kind's run: one list per row."""

    table: SourceTable
    frame: pd.DataFrame
    options: JobOptions
    env: Environment
    kind: str = "lists"
    columns: Sequence[str] | None = None
    lists_created: int | None = None
    excluded_present: dict[str, list[str]] = field(default_factory=dict)
    lists_before: Mapping[str, ListBefore] = field(default_factory=dict)

    @property
    def source(self) -> SourceTable:
        """How the input was read."""
        return self.table

    def send(self, run: RunContext) -> RunStopped | None:
        """Plan, journal every row, send."""
        stopped_by: RunStopped | None = None
        recorded = False
        try:
            directory = plan_lists(self.frame, run)
            run.journal.record_frame(run.run_id, self.frame)
            recorded = True
            send_lists(self.frame, directory, run)
        except RunStopped as error:
            stopped_by = error
            if not recorded:  # stopped while planning: every row is still to be sent
                run.journal.record_frame(run.run_id, self.frame)
        return stopped_by


def plan_lists(
    frame: pd.DataFrame, run: RunContext, account: Sequence[AccountList] | None = None
) -> AccountDirectory:
    """Mark rows whose list already exists as ``exists``; the rest become pending.

    `account`: the account's lists when the caller has just read them (a contacts run), so
    they are not read twice.

    The account is the truth (a list deleted there since an earlier run is created again);
    with ``--no-reconcile`` the journal's record of earlier runs on this account stands in.
    A list that an interrupted run created (or may have) says so: "created by run N
    (interrupted)", unless its creation date is clearly earlier than that run's start.
    """
    from importer.reconcile import AccountDirectory, KnownList, mark_existing

    frame.loc[frame["outcome"] == Outcome.PLANNED, ["outcome", "code", "message"]] = [
        Outcome.PENDING.value,
        LocalCode.NOT_SENT.value,
        "not sent: the run stopped before this row",
    ]
    client, journal = run.client, run.journal
    directory = AccountDirectory(client.fetch_lists, run_started=run.run_started)
    if run.options.reconcile:
        known = directory.load(read_account_lists(run) if account is None else account)
    else:
        known = {
            key: KnownList(
                item.list_contact_id, item.country_code, f"recorded by run {item.run_id}"
            )
            for key, item in journal.known_lists(account=run.scope).items()
        }
        directory.known_before = {item.list_contact_id for item in known.values()}
    directory.interrupted = journal.interrupted_creations(account=run.scope, before_run=run.run_id)
    for key in directory.interrupted.keys() & known.keys():
        known[key] = directory.credited(key, known[key])
    mark_existing(frame, known)
    return directory


def read_account_lists(run: RunContext) -> list[AccountList]:
    """The account's lists, read as the run starts (`read_watched`)."""
    return read_watched(run, run.client.fetch_lists, "read the account's lists")


def read_watched(run: RunContext, read: Callable[[], T], what: str) -> T:
    """`read()` (reads of the account only, nothing sent that acts), while the signals are
    watched.

    A first signal lets the read's current attempt end (no retry, `AvoSmsClient`'s stop); a
    second stops waiting for it at once (`StopSignal.wait_for`): a read leaves nothing
    uncertain. A read that failed because of the stop raises errors.Interrupted, so the run
    ends as an interrupted one (its rows pending). Else what `read` returns or raises;
    `what` says what it does ("read the account's lists").
    """
    from importer.client import ApiUnavailable

    try:
        return run.stop.wait_for(read, what)
    except ApiUnavailable as error:
        if run.stop.event.is_set():
            raise Interrupted(str(error)) from error
        raise


def send_lists(frame: pd.DataFrame, directory: AccountDirectory, run: RunContext) -> None:
    """Create every pending row's list."""
    from importer.kinds.lists_send import ListSending

    send_rows(frame, ListSending(frame, run.client, directory, run.journal), run)
