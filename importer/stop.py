"""Stopping on SIGINT/SIGTERM: the handlers only set flags; the send loop and wrap-up read them.

Python runs a signal handler in the main thread between two bytecodes, wherever that thread is
(inside a journal transaction, half-way through writing the results). A handler that raised
there could lose answers already received, so these handlers never raise: the first signal asks
for a clean stop (no new rows, requests in flight finish), the second asks to abandon the
requests still in flight. Everything already answered is journaled and the results file is
written either way. A blocking read that the run waits for on the main thread (the account's
lists, as a run starts) goes through `wait_for`, so that the second signal ends that wait too.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Any, NoReturn, TypeVar

from importer.errors import Interrupted

log = logging.getLogger("importer")

T = TypeVar("T")


class StopSignal:
    """SIGINT/SIGTERM as two flags: `event` (stop taking rows) and `abandon` (stop waiting)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.abandon = threading.Event()
        #: The signals received, by name, in order; announced by `announce`.
        self.received: list[str] = []
        self._announced = 0
        #: Requests were left in flight (second signal): the process should not wait for them.
        self.abandoned = False
        #: The queues of the `wait_for` calls waiting now: a second signal wakes them.
        self._waiting: list[queue.SimpleQueue[Any]] = []

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
            self.announce()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Flags only: no lock, no I/O, no exception (see the module's docstring).
        self.received.append(signal.Signals(signum).name)
        if self.event.is_set():
            self.abandon.set()
        self.event.set()
        for waiting in self._waiting:  # a `wait_for` wakes to say so, and stops at a second
            waiting.put(None)  # reentrant, lock-free for the caller: safe in a handler

    def wait_for(self, work: Callable[[], T], what: str) -> T:
        """`work()` run on a thread of its own; its result here, or what it raised.

        For a read only (nothing it does is left uncertain if no one waits for its end): a
        second signal ends the wait at once, with errors.Interrupted, and the thread is left
        to end on its own (`abandoned` is set, so the process does not wait for it). A first
        signal is announced at once and the wait goes on: `work` itself sees `event`. `what`
        says what the work does ("read the account's lists"). The main thread sleeps on a
        `queue.SimpleQueue`, which the handler feeds (no lock, no polling).
        """
        # The thread hands back a function that returns the result or raises what work raised.
        box: queue.SimpleQueue[Callable[[], T] | None] = queue.SimpleQueue()

        def run() -> None:
            try:
                value = work()
            except BaseException as error:
                box.put(partial(_reraise, error))
            else:
                box.put(lambda: value)

        self._waiting.append(box)
        try:
            outcome = None
            if not self.abandon.is_set():
                threading.Thread(target=run, name="avosms-read", daemon=True).start()
                while (outcome := box.get()) is None:  # a signal: say so at once
                    self.announce()
                    if self.abandon.is_set():
                        break
        finally:
            self._waiting.remove(box)
        if outcome is None:
            self.abandoned = True
            raise Interrupted(f"a second signal stopped the wait to {what}")
        return outcome()

    def announce(self) -> None:
        """Log the signals received since the last call (from ordinary code, not the handler)."""
        for name in self.received[self._announced :]:
            if self._announced == 0:
                log.warning("%s received: finishing the requests in flight, then stopping", name)
            else:
                log.warning("%s received again: no longer waiting for requests in flight", name)
            self._announced += 1


def _reraise(error: BaseException) -> NoReturn:
    raise error
