"""Stopping on SIGINT/SIGTERM: the handlers only set flags; the send loop and wrap-up read them.

Python runs a signal handler in the main thread between two bytecodes, wherever that thread is
(inside a journal transaction, half-way through writing the results). A handler that raised
there could lose answers already received, so these handlers never raise: the first signal asks
for a clean stop (no new rows, requests in flight finish), the second asks to abandon the
requests still in flight. Everything already answered is journaled and the results file is
written either way.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("importer")


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

    def announce(self) -> None:
        """Log the signals received since the last call (from ordinary code, not the handler)."""
        for name in self.received[self._announced :]:
            if self._announced == 0:
                log.warning("%s received: finishing the requests in flight, then stopping", name)
            else:
                log.warning("%s received again: no longer waiting for requests in flight", name)
            self._announced += 1
