"""The send stage: create every pending row's list with parallel workers, journaling as they end.

Workers only talk to the API. The loop's own thread hands out rows, collects answers, writes
the journal at least every `JOURNAL_FLUSH_INTERVAL`, and settles "name not available"
(ERR_104) answers by re-reading the account, so no worker ever waits on bookkeeping.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from types import FrameType
from typing import TYPE_CHECKING

from importer.errors import CredentialsRefused, OutageDetected, RunStopped
from importer.records import Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient, CreateAnswer
    from importer.journal import Journal
    from importer.progress import ProgressBar
    from importer.reconcile import AccountDirectory

log = logging.getLogger("importer")

#: The journal is written at least this often (seconds) while rows complete.
JOURNAL_FLUSH_INTERVAL = 0.5
#: The row fields that sending does not change, as the journal records them.
INPUT_FIELDS = ("row", "list_name", "country", "name", "country_code", "name_key")
#: A row answered ERR_104 that no re-read has matched yet.
NAME_TAKEN_PENDING = (
    "name already taken on the account (ERR_104), not matched to its list yet; "
    "the next run will match it"
)


@dataclass(frozen=True)
class RowUpdate:
    """One sent row's state, as the results file and the journal record it."""

    outcome: str
    code: str
    message: str
    list_contact_id: str
    attempts: int


@dataclass(frozen=True)
class Answered:
    """A worker's result: the row's update and when its final answer arrived."""

    update: RowUpdate
    answered_at: float


class StopSignal:
    """SIGINT/SIGTERM handling: the first asks for a clean stop, the second stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        #: Requests were left in flight (second signal): the process should not wait for them.
        self.abandoned = False

    @contextmanager
    def installed(self, enabled: bool = True) -> Iterator[StopSignal]:
        """Install the handlers for the duration of a run (main thread only)."""
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        log.warning(
            "%s received: finishing the requests in flight, then stopping",
            signal.Signals(signum).name,
        )
        self.event.set()


def row_update(
    answer: CreateAnswer, *, stopping: bool, retryable: Callable[[str], bool]
) -> RowUpdate:
    """The row's state after the API's final answer to its create request."""
    if answer.code == "OK":
        return RowUpdate(Outcome.CREATED, "OK", "created", answer.list_contact_id, answer.attempts)
    if answer.code == "ERR_104":
        return RowUpdate(Outcome.PENDING, "ERR_104", NAME_TAKEN_PENDING, "", answer.attempts)
    if stopping and retryable(answer.code):
        message = f"not finished: the run stopped while retrying ({answer.message})"
        return RowUpdate(Outcome.PENDING, answer.code, message, "", answer.attempts)
    return RowUpdate(Outcome.FAILED, answer.code, answer.message, "", answer.attempts)


class Sender:
    """Sends one run's pending rows; holds what came back until the frame takes it."""

    def __init__(
        self,
        frame: pd.DataFrame,
        client: AvoSmsClient,
        directory: AccountDirectory,
        journal: Journal,
        run_id: int,
        stop: StopSignal,
        *,
        workers: int,
        bar: ProgressBar,
    ) -> None:
        self.frame = frame
        self.client = client
        self.directory = directory
        self.journal = journal
        self.run_id = run_id
        self.stop = stop
        self.workers = workers
        self.bar = bar
        self.names = frame["name"].tolist()
        self.countries = frame["country_code"].tolist()
        self.keys = frame["name_key"].tolist()
        self.updates: dict[int, RowUpdate] = {}
        self.unflushed: list[int] = []
        #: Rows answered ERR_104, waiting for an account re-read that started after the answer.
        self.taken: dict[int, Answered] = {}
        self.fatal: RunStopped | None = None
        self._rereader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="avosms-reread")
        self._reread: Future[float] | None = None

    def send(self, todo: list[int]) -> None:
        """Create the lists of the rows at ``todo`` (frame index), then apply the outcomes."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="avosms-send")
        in_flight: dict[Future[Answered], int] = {}
        queue = iter(todo)
        last_flush = time.monotonic()
        try:
            while True:
                # The first request goes alone: a refused key then costs one request, not N.
                window = 2 * self.workers if self.updates else 1
                while not self.stop.event.is_set() and not self.fatal and len(in_flight) < window:
                    index = next(queue, None)
                    if index is None:
                        break
                    in_flight[pool.submit(self._create, index)] = index
                if not in_flight:
                    break
                done, _ = wait(
                    in_flight, timeout=JOURNAL_FLUSH_INTERVAL, return_when=FIRST_COMPLETED
                )
                for future in done:
                    self._collect(in_flight.pop(future), future)
                self._settle_taken(final=False)
                if time.monotonic() - last_flush >= JOURNAL_FLUSH_INTERVAL:
                    self._flush()
                    last_flush = time.monotonic()
            pool.shutdown(wait=True)
            if self.fatal is None:
                self._settle_taken(final=True)
        except KeyboardInterrupt:
            # A second signal: stop at once. Answers already in are kept; the rest stay pending.
            self.stop.event.set()
            self.stop.abandoned = True
            for future, index in in_flight.items():
                if future.done() and not future.cancelled():
                    self._collect(index, future)
            pool.shutdown(wait=False, cancel_futures=True)
        except BaseException:
            # A bug: stop the workers' retries rather than leave them running behind us.
            self.stop.event.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            self._rereader.shutdown(wait=False, cancel_futures=True)
            _apply(self.frame, self.updates)
            self._flush()
        if self.fatal is not None:
            raise self.fatal

    def _create(self, index: int) -> Answered:
        """A worker's job: one create request, retries included."""
        answer = self.client.create_list(self.names[index], self.countries[index])
        update = row_update(
            answer, stopping=self.stop.event.is_set(), retryable=self.client.retry_policy.retries
        )
        return Answered(update, time.monotonic())

    def _collect(self, index: int, future: Future[Answered]) -> None:
        try:
            answered = future.result()
        except RunStopped as error:  # credentials refused, outage, interrupted: row stays pending
            self.fatal = self.fatal or error
            return
        if answered.update.code == "ERR_104" and answered.update.outcome == Outcome.PENDING:
            self.taken[index] = answered
            self._record(index, answered.update)
        else:
            self._finish(index, answered.update)

    def _settle_taken(self, *, final: bool) -> None:
        """Match ERR_104 rows to the account's lists once a re-read started after their answer.

        An ERR_104 may answer our own earlier attempt whose answer was lost: only a re-read
        that started after that answer arrived is sure to list it. Re-reads run on a thread of
        their own, spaced by the directory's interval, so the loop keeps journaling meanwhile;
        the last one, when every row is sent, runs here.
        """
        if self._reread is not None and (self._reread.done() or final):
            reread, self._reread = self._reread, None
            self._match_taken(lambda: reread.result())
        if not self.taken or self.stop.abandoned or self._reread is not None:
            return
        if final:
            if not self.stop.event.wait(self.directory.wait_before_refresh()):
                self._match_taken(self.directory.refresh)
        elif self.directory.wait_before_refresh() == 0:
            self._reread = self._rereader.submit(self.directory.refresh)

    def _match_taken(self, reread: Callable[[], float]) -> None:
        """Run or collect one re-read; settle the rows it can vouch for."""
        try:
            started = reread()
        except (CredentialsRefused, OutageDetected) as error:
            self.fatal = self.fatal or error
            return
        except RunStopped:
            return  # unreachable or stopping: the rows stay pending, the next run matches them
        for index, answered in list(self.taken.items()):
            if answered.answered_at <= started:
                del self.taken[index]
                self._finish(index, self._matched(index, answered.update))

    def _matched(self, index: int, taken: RowUpdate) -> RowUpdate:
        from importer.reconcile import existing_message

        found = self.directory.get(self.keys[index])
        if found is None:
            message = "name not available (ERR_104) and not found among the account's lists"
            return RowUpdate(Outcome.FAILED, "ERR_104", message, "", taken.attempts)
        message = existing_message(found, self.countries[index]).replace(
            "already exists", "name already taken on the account, found"
        )
        return RowUpdate(Outcome.EXISTS, "OK", message, found.list_contact_id, taken.attempts)

    def _record(self, index: int, update: RowUpdate) -> None:
        self.updates[index] = update
        self.unflushed.append(index)

    def _finish(self, index: int, update: RowUpdate) -> None:
        self._record(index, update)
        self.bar.advance(update.outcome)

    def _flush(self) -> None:
        """Write the rows changed since the last flush to the journal (one transaction)."""
        if not self.unflushed:
            return
        from importer.journal import RowRecord

        rows = self.frame.loc[self.unflushed, list(INPUT_FIELDS)]
        records = [
            RowRecord(**dict(zip(INPUT_FIELDS, values, strict=True)), **asdict(self.updates[index]))
            for index, values in zip(self.unflushed, rows.itertuples(index=False), strict=True)
        ]
        self.journal.record_rows(self.run_id, records)
        self.unflushed.clear()


def _apply(frame: pd.DataFrame, updates: Mapping[int, RowUpdate]) -> None:
    """Copy the sent rows' outcomes into the frame, in one assignment per column."""
    if not updates:
        return
    index = list(updates)
    values = list(updates.values())
    for column in ("outcome", "code", "message", "list_contact_id", "attempts"):
        frame.loc[index, column] = [getattr(value, column) for value in values]
