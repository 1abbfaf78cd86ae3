"""`run` of a lists file: the account read (or the journal), then one create per list.

`plan_lists` and `send_lists` are also how a contacts run creates its missing lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from importer.errors import RunStopped
from importer.job import Environment
from importer.records import LocalCode, Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient
    from importer.journal import Journal
    from importer.options import JobOptions
    from importer.read import SourceTable
    from importer.reconcile import AccountDirectory
    from importer.stop import StopSignal


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

    @property
    def source(self) -> SourceTable:
        """How the input was read."""
        return self.table

    def send(
        self,
        journal: Journal,
        client: AvoSmsClient,
        scope: str,
        run_id: int,
        run_started: datetime,
        stop: StopSignal,
    ) -> RunStopped | None:
        """Plan, journal every row, send."""
        return _plan_and_send(
            self.frame, journal, client, scope, run_id, run_started, self.options, self.env, stop
        )


def _plan_and_send(
    frame: pd.DataFrame,
    journal: Journal,
    client: AvoSmsClient,
    scope: str,
    run_id: int,
    run_started: datetime,
    options: JobOptions,
    env: Environment,
    stop: StopSignal,
) -> RunStopped | None:
    """Plan, journal every row, send; return why the run stopped early, if it did."""
    stopped_by: RunStopped | None = None
    recorded = False
    try:
        directory = plan_lists(frame, journal, client, scope, options, run_id, run_started)
        journal.record_frame(run_id, frame)
        recorded = True
        send_lists(frame, client, directory, journal, run_id, options, env, stop)
    except RunStopped as error:
        stopped_by = error
        if not recorded:  # stopped while planning: every row is still to be sent
            journal.record_frame(run_id, frame)
    return stopped_by


def plan_lists(
    frame: pd.DataFrame,
    journal: Journal,
    client: AvoSmsClient,
    scope: str,
    options: JobOptions,
    run_id: int,
    run_started: datetime,
) -> AccountDirectory:
    """Mark rows whose list already exists as ``exists``; the rest become pending.

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
    directory = AccountDirectory(client.fetch_lists, run_started=run_started)
    if options.reconcile:
        known = directory.load(client.fetch_lists())
    else:
        known = {
            key: KnownList(
                item.list_contact_id, item.country_code, f"recorded by run {item.run_id}"
            )
            for key, item in journal.known_lists(account=scope).items()
        }
        directory.known_before = {item.list_contact_id for item in known.values()}
    directory.interrupted = journal.interrupted_creations(account=scope, before_run=run_id)
    for key in directory.interrupted.keys() & known.keys():
        known[key] = directory.credited(key, known[key])
    mark_existing(frame, known)
    return directory


def send_lists(
    frame: pd.DataFrame,
    client: AvoSmsClient,
    directory: AccountDirectory,
    journal: Journal,
    run_id: int,
    options: JobOptions,
    env: Environment,
    stop: StopSignal,
) -> None:
    """Create every pending row's list; the progress bar only on a terminal."""
    from importer.progress import progress_bar
    from importer.send import ListSending, Sender

    todo = frame.index[frame["outcome"] == Outcome.PENDING].tolist()
    show = options.progress and not options.quiet and env.is_terminal()
    with progress_bar(len(todo), enabled=show, stream=env.stderr) as bar:
        try:
            Sender(
                frame,
                ListSending(frame, client, directory, journal),
                run_id,
                stop,
                workers=options.workers,
                bar=bar,
                checkpoint=env.reached,
            ).send(todo)
        finally:
            bar.close_with(throttled=client.throttled_seconds)
