"""The send stage: send every pending row's request with parallel workers, journaling as they end.

One loop for every kind: a kind plugs in through `SendKind` (the request for one row, how a
re-read of the account settles a row, how its rows are journaled). Workers only talk to the
API. The loop's own thread hands out rows, collects answers, writes the journal at least every
`JOURNAL_FLUSH_INTERVAL`, and settles the rows whose fate the answers
leave open by re-reading the account, so no worker ever waits on bookkeeping.

The truth of an outcome (README, "The results file"): `created` when this run's requests
created the list, `exists` when they did not. An attempt *may have been processed* unless it
provably never reached the server or was refused (`importer.replies.may_have_been_processed`).
Two kinds of answer leave a row unsettled until a re-read of the account:

- ``ERR_104`` (name taken): found → ``exists`` when no earlier attempt may have been processed,
  ``created`` (a lost answer) when one may have; not found → ``failed``.
- a retryable failure after an attempt that may have been processed: found → ``created``,
  not found → ``failed``. If the run is stopping, the row stays ``pending``, fate unknown.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from importer.errors import CredentialsRefused, OutageDetected, RunStopped
from importer.row_updates import (
    Answered,
    RowUpdate,
    abandoned_update,
    launched_update,
    stopped_update,
)
from importer.send_workers import Workers
from importer.stop import StopSignal

if TYPE_CHECKING:
    import pandas as pd

    from importer.progress import ProgressBar

log = logging.getLogger("importer")

#: The journal is written at least this often (seconds) while rows complete.
JOURNAL_FLUSH_INTERVAL = 0.5
#: Rows handed out ahead per worker. The loop wakes when a `WAKE_SHARE`th of them are answered,
#: or `WAKE_EVERY` seconds after it last did, and collects a batch: not once per answer (at 16
#: workers and 50 ms, 16 answers instead of one), while the rows still queued keep every worker
#: busy meanwhile.
QUEUED_PER_WORKER = 4
WAKE_SHARE = 4
WAKE_EVERY = 0.1
#: Rows are journaled as launched this many windows (`QUEUED_PER_WORKER` per worker) at a time,
#: with the answers collected meanwhile: fewer journal writes, at the price of a killed run's
#: results calling rows that were about to go `IN_FLIGHT`.
LAUNCH_WINDOWS = 2
#: Account re-reads tried, at the end of the sending, to settle rows before giving up on them.
FINAL_REREADS = 3
#: What a re-read does, as a second signal that stops waiting for it names it (a re-read
#: settles rows, sends nothing that acts: it may be left unfinished).
REREAD = "re-read the account to settle rows"

#: A test-only hook: called with the name of each step of the wrap-up ("collected" after each
#: answer, "final settle", "final flush"), e.g. to deliver a signal at a chosen point.
Checkpoint = Callable[[str], None]


def _no_checkpoint(step: str) -> None:
    """The hook's default: nothing."""


class SendKind(Protocol):
    """What the send loop needs of a kind of import (lists, contacts).

    Every method but `refresh`/`wait_before_refresh` is called from the loop's thread or a
    worker with a row's frame index; `request` runs on worker threads.
    """

    def request(
        self, index: int, *, stopping: Callable[[], bool], on_send: Callable[[], None]
    ) -> Answered:
        """Send the row's request (retries included); its update, unsettled when only a
        re-read can tell. `stopping` tells whether the run is stopping, asked once the final
        answer is in (a stop that came meanwhile ended the retries); `on_send` is called as
        each attempt goes out. Raises errors.RunStopped to stop the run."""
        ...

    def wait_before_refresh(self) -> float:
        """Seconds before a re-read of the account may start (0: now)."""
        ...

    def refresh(self, indexes: list[int]) -> float:
        """Re-read what the account holds for these rows; return when the re-read started
        (`time.monotonic()`). Raises errors.RunStopped when it could not."""
        ...

    def settle(self, index: int, answered: Answered) -> RowUpdate:
        """An unsettled row's outcome, from the last re-read."""
        ...

    def journal(self, run_id: int, updates: list[tuple[int, RowUpdate]]) -> None:
        """Write these rows' updates to the journal, in one transaction."""
        ...


class Sender:
    """Sends one run's pending rows; holds what came back until the frame takes it."""

    def __init__(
        self,
        frame: pd.DataFrame,
        kind: SendKind,
        run_id: int,
        stop: StopSignal,
        *,
        workers: int,
        bar: ProgressBar,
        checkpoint: Checkpoint = _no_checkpoint,
        credentials_accepted: bool = False,
    ) -> None:
        self.frame = frame
        self.kind = kind
        self.run_id = run_id
        self.stop = stop
        self.workers = workers
        self.bar = bar
        self.checkpoint = checkpoint
        #: The API already answered this run `OK` (an account read): no lone first request.
        self.credentials_accepted = credentials_accepted
        self.updates: dict[int, RowUpdate] = {}
        self.unflushed: list[int] = []
        #: Rows only a re-read can settle, waiting for one that started late enough.
        self.unsettled: dict[int, Answered] = {}
        self.fatal: RunStopped | None = None
        #: Attempts sent so far per row, as they go out: what a row abandoned in flight had sent.
        self.attempts_sent: dict[int, int] = {}
        self._rereader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="avosms-reread")
        self._reread: Future[float] | None = None
        #: Rows journaled `LAUNCHED` whose own update is not recorded yet.
        self.launched: set[int] = set()
        self.flushed_at = time.monotonic()

    def send(self, todo: list[int]) -> None:
        """Send the rows at ``todo`` (frame index), then apply the outcomes to the frame."""
        workers: Workers[Answered] = Workers(self.workers, self._request, name="avosms-send")
        in_flight: set[int] = set()  # handed out, answer not collected yet
        rows = iter(todo)
        ahead: deque[int] = deque()  # rows journaled as launched, not handed out yet
        self.flushed_at = time.monotonic()
        try:
            while not self.stop.abandon.is_set():
                # Until the key is known good, the first request goes alone: a refused key
                # then costs one request, not N.
                proven = self.credentials_accepted or self.updates
                window = QUEUED_PER_WORKER * self.workers if proven else 1
                while not self.stop.event.is_set() and not self.fatal and len(in_flight) < window:
                    if not ahead:
                        ahead.extend(self._launch(rows, LAUNCH_WINDOWS * window))
                    if not ahead:
                        break
                    index = ahead.popleft()
                    in_flight.add(index)
                    workers.hand_out(index)
                if not in_flight:
                    break
                due = self.flushed_at + JOURNAL_FLUSH_INTERVAL - time.monotonic()
                workers.wait(min(len(in_flight), window // WAKE_SHARE), min(WAKE_EVERY, due))
                for index, result in workers.take():
                    in_flight.discard(index)
                    self._collect(index, result)
                self.stop.announce()
                self._settle(final=False)
                if time.monotonic() - self.flushed_at >= JOURNAL_FLUSH_INTERVAL:
                    self._flush()
            if in_flight:
                # A second signal: stop waiting. Answers already in are kept; a row whose request
                # went out stays pending, its fate unknown; one never sent stays NOT_SENT.
                self.stop.abandoned = True
                for index, result in workers.take():
                    in_flight.discard(index)
                    self._collect(index, result)
                for index in sorted(in_flight):
                    if self.attempts_sent.get(index):
                        self._record(index, abandoned_update(self.attempts_sent[index]))
                in_flight.clear()
                workers.close(wait=False)
            else:
                workers.close(wait=True)
            if self.fatal is None:
                self.checkpoint("final settle")
                self._settle(final=True)
        except BaseException:
            # A bug: stop the workers' retries rather than leave them running behind us.
            self.stop.event.set()
            workers.close(wait=False)
            raise
        finally:
            self._rereader.shutdown(wait=False, cancel_futures=True)
            _apply(self.frame, self.updates)
            self.checkpoint("final flush")
            self._flush()
            self._unlaunch()
            self.stop.announce()
        if self.fatal is not None:
            raise self.fatal

    def _launch(self, rows: Iterator[int], count: int) -> list[int]:
        """Journal the next `count` rows as launched before any of them is handed out, so a
        killed run's journal shows every row that may have been sent; the answers collected
        since the last flush go in the same transaction."""
        batch = list(islice(rows, count))
        if batch:
            launched = launched_update()  # the same for every row: one object, not one each
            self._flush([(index, launched) for index in batch])
            self.launched.update(batch)
        return batch

    def _unlaunch(self) -> None:
        """Rows journaled as launched that got no update of their own (never sent: the run
        stopped first) are journaled again as the frame has them (`NOT_SENT`)."""
        idle = sorted(self.launched - self.updates.keys())
        self.launched.clear()
        if idle:
            rows = self.frame.loc[idle]
            states = zip(
                *(rows[column].astype(str) for column in ("outcome", "code", "message")),
                rows["list_contact_id"].fillna("").astype(str),
                rows["attempts"].astype(int),
                strict=True,
            )
            updates = [RowUpdate(*state) for state in states]
            self.kind.journal(self.run_id, list(zip(idle, updates, strict=True)))

    def _request(self, index: int) -> Answered:
        """A worker's job: one row's request, retries included."""

        def count_attempt() -> None:  # one worker per row: no two threads write one key
            self.attempts_sent[index] = self.attempts_sent.get(index, 0) + 1

        return self.kind.request(index, stopping=self.stop.event.is_set, on_send=count_attempt)

    def _collect(self, index: int, result: Answered | BaseException) -> None:
        """Record a worker's result: its answer, or the stop (or bug) its request raised."""
        try:
            if isinstance(result, RunStopped):  # credentials refused, outage, interrupted
                self.fatal = self.fatal or result
                update = stopped_update(result)  # the row stays pending
                if update is not None:
                    self._record(index, update)
                return
            if isinstance(result, BaseException):
                raise result
            answered = result
        finally:
            self.checkpoint("collected")
        if answered.unsettled:
            self.unsettled[index] = answered
            self._record(index, answered.update)
        else:
            self._finish(index, answered.update)

    def _settle(self, *, final: bool) -> None:
        """Settle unsettled rows by re-reading the account, once a re-read started late enough.

        An answer may stand for our own earlier attempt whose answer was lost: only a re-read
        that started after that answer arrived (and after the server could have finished an
        attempt that timed out) is sure to list it. Re-reads run on a thread of their own,
        spaced by the directory's interval and shared by every row, so the loop keeps
        journaling meanwhile; the last one, when every row is sent, runs here. A failed last
        re-read, or a stop, leaves the rows pending: the next run settles them.
        """
        if self._reread is not None and (self._reread.done() or final):
            reread, self._reread = self._reread, None
            waited = partial(self.stop.wait_for, reread.result, REREAD)
            self._match(reread.result if reread.done() else waited)
        if not self.unsettled or self.stop.event.is_set() or self._reread is not None:
            return
        if not final:
            if self.kind.wait_before_refresh() == 0 and self._due_by(min) <= time.monotonic():
                self._reread = self._rereader.submit(self.kind.refresh, list(self.unsettled))
            return
        failures: list[RunStopped] = []
        while self.unsettled and self.fatal is None and len(failures) < FINAL_REREADS:
            delay = max(self.kind.wait_before_refresh(), self._due_by(max) - time.monotonic())
            if self.stop.event.wait(max(0.0, delay)):
                return
            refresh = partial(self.kind.refresh, list(self.unsettled))
            self._match(partial(self.stop.wait_for, refresh, REREAD), failures)
        if self.unsettled and self.fatal is None and failures:
            self.fatal = RunStopped(
                f"{len(self.unsettled)} rows may have been created but their answers were lost, "
                f"and the account could not be re-read to settle them ({failures[-1]}): they "
                "stay pending; run the same command again"
            )

    def _due_by(self, which: Callable[[Iterable[float]], float]) -> float:
        """When a re-read starting then vouches for the first (`min`) or every (`max`) row."""
        return which(
            answered.answered_at + answered.settle_delay for answered in self.unsettled.values()
        )

    def _match(self, reread: Callable[[], float], failures: list[RunStopped] | None = None) -> None:
        """Run or collect one re-read; settle the rows it can vouch for; note a failure."""
        try:
            started = reread()
        except (CredentialsRefused, OutageDetected) as error:
            self.fatal = self.fatal or error
            return
        except RunStopped as error:  # unreachable or stopping: the rows stay pending for now
            if failures is not None:
                failures.append(error)
            return
        for index, answered in list(self.unsettled.items()):
            if answered.answered_at + answered.settle_delay <= started:
                del self.unsettled[index]
                self._finish(index, self.kind.settle(index, answered))

    def _record(self, index: int, update: RowUpdate) -> None:
        self.updates[index] = update
        self.unflushed.append(index)

    def _finish(self, index: int, update: RowUpdate) -> None:
        self._record(index, update)
        self.bar.advance(update.outcome)

    def _flush(self, launched: list[tuple[int, RowUpdate]] | None = None) -> None:
        """Write the rows changed since the last flush, and any rows `launched`, to the journal
        (one transaction)."""
        self.flushed_at = time.monotonic()
        changes = [(index, self.updates[index]) for index in self.unflushed] + (launched or [])
        if not changes:
            return
        self.kind.journal(self.run_id, changes)
        self.unflushed.clear()


def _apply(frame: pd.DataFrame, updates: Mapping[int, RowUpdate]) -> None:
    """Copy the sent rows' outcomes into the frame, in one assignment per column.

    An update without a list id keeps the row's own (a contact's list is known before sending).
    """
    if not updates:
        return
    index = list(updates)
    values = list(updates.values())
    for column in ("outcome", "code", "message", "attempts"):
        frame.loc[index, column] = [getattr(value, column) for value in values]
    known = frame.loc[index, "list_contact_id"].tolist()
    frame.loc[index, "list_contact_id"] = [
        value.list_contact_id or before for value, before in zip(values, known, strict=True)
    ]
