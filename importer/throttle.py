"""Pace the requests: one rate limit shared by every worker, and a breaker for long outages.

`Throttle` is a token bucket (kept as a schedule of start times, GCRA-style) that every HTTP
request passes through, retries and list fetches included. It adapts: a penalty (HTTP 429, a
burst of ERR_9xx) halves the effective rate and may impose a wait every worker honours
(`Retry-After`); successes grow the rate back additively. `OutageBreaker` tells the run to stop
when the API has failed every request for too long.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Throttle:
    """A thread-safe token bucket shared by every worker, with AIMD rate adaptation.

    Guarantee: no more than ``rate + burst`` requests start in any one-second window (the
    effective rate never exceeds ``rate``), counted when `acquire` lets them go, so also when
    workers that had their turns reserved wake up late together (a process descheduled on a
    busy machine): the last starts are kept, and a start that would make one too many in the
    last second waits. ``rate=0`` means unlimited, but ``Retry-After`` waits still apply.
    Waiting happens outside the lock, so workers never queue behind a sleeping thread's lock.
    """

    #: Multiplicative decrease: a penalty multiplies the effective rate by this.
    DECREASE_FACTOR = 0.5
    #: The effective rate never falls below this fraction of the configured rate.
    MIN_FRACTION = 1 / 16
    #: Additive increase: each success adds ``RECOVERY_PER_SECOND * rate / effective rate``,
    #: i.e. about a tenth of the configured rate per second of successes, so one halving is
    #: undone in roughly five seconds whatever the rate.
    RECOVERY_PER_SECOND = 0.1
    #: One burst of failures halves the rate once: penalties within this many seconds after a
    #: decrease (counted from the end of any Retry-After wait) only extend the wait.
    DECREASE_COOLDOWN = 1.0

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"rate must be a number of requests per second >= 0, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        # Without an injected sleep, waits can be cut short by the cancel event of acquire().
        self._sleep = sleep
        self._lock = threading.Lock()
        self._current = self.rate
        # Theoretical arrival time of the next request; `burst - 1` requests may start early.
        self._next_start = -math.inf
        self._tolerance = (burst - 1) / self.rate if self.rate else 0.0
        self._blocked_until = -math.inf
        self._penalties = 0
        self._no_decrease_before = -math.inf
        self._waited = 0.0
        self._waited_until = -math.inf
        #: The latest starts, as many as one second may hold (empty when unlimited).
        self._starts: deque[float] = deque(maxlen=math.floor(self.rate) + burst if rate else 0)

    def __repr__(self) -> str:
        return f"Throttle(rate={self.rate:g}, burst={self.burst}, current={self.current_rate:g})"

    @property
    def current_rate(self) -> float:
        """The effective rate now (requests per second; 0 when unlimited)."""
        with self._lock:
            return self._current

    @property
    def waited_seconds(self) -> float:
        """Wall-clock seconds so far during which at least one request was held back by the
        throttle: never more than the time elapsed (a wait reserved ahead, or cut short by a
        stop, counts only up to now)."""
        with self._lock:
            # Every wait begins at or before now, so what lies ahead is one stretch up to the end.
            return self._waited - max(0.0, self._waited_until - self._clock())

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait until a request may start; False if `cancel` was set before it could."""
        while True:
            if cancel is not None and cancel.is_set():
                return False
            with self._lock:
                now = self._clock()
                start = max(now, self._blocked_until)
                if self._current > 0:
                    start = max(start, self._next_start - self._tolerance)
                    self._next_start = max(self._next_start, start) + 1.0 / self._current
                penalties = self._penalties
                wait = start - now
                if wait > 0:
                    self._count_wait(now, start)
            if wait > 0:
                self._pause(wait, cancel)
                if cancel is not None and cancel.is_set():
                    return False
                with self._lock:
                    # A Retry-After that arrived while we slept holds back this request too:
                    # queue again behind it. Otherwise the slot we reserved is ours.
                    if self._penalties != penalties and self._clock() < self._blocked_until:
                        continue
            return self._start(cancel)

    def _start(self, cancel: threading.Event | None) -> bool:
        """Let the request start now, unless the last second already holds ``rate + burst``
        starts (workers that woke up late together): then wait for the oldest of them to be a
        second old. False if `cancel` was set meanwhile."""
        while True:
            with self._lock:
                now = self._clock()
                starts = self._starts
                if not starts.maxlen or len(starts) < starts.maxlen or now >= starts[0] + 1.0:
                    if starts.maxlen:
                        starts.append(now)
                    return True
                until = starts[0] + 1.0
                self._count_wait(now, until)
            self._pause(until - now, cancel)
            if cancel is not None and cancel.is_set():
                return False

    def penalize(self, retry_after: float | None = None) -> float:
        """The API asked us to slow down: halve the effective rate; wait `retry_after` s if given.

        The wait is shared: every worker's next request starts after it. Returns the seconds
        this call added to the shared wait (0 when a wait already running covers it): workers
        refused together add one wait, then only the few milliseconds between their answers.
        """
        added = 0.0
        with self._lock:
            now = self._clock()
            if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
                until = now + retry_after
                if until > self._blocked_until:
                    added = until - max(now, self._blocked_until)
                    self._blocked_until = until
                    self._penalties += 1
            if self.rate > 0 and now >= self._no_decrease_before:
                floor = self.rate * self.MIN_FRACTION
                self._current = max(floor, self._current * self.DECREASE_FACTOR)
                self._no_decrease_before = max(now, self._blocked_until) + self.DECREASE_COOLDOWN
        return added

    def reward(self) -> None:
        """A request succeeded: grow the effective rate back towards the configured one."""
        with self._lock:
            if 0 < self._current < self.rate:
                step = self.RECOVERY_PER_SECOND * self.rate / self._current
                self._current = min(self.rate, self._current + step)

    def _count_wait(self, now: float, until: float) -> None:
        # Reservations are made in clock order, so adding each interval's uncovered part keeps
        # the union of waiting intervals: N workers waiting together count once.
        begin = max(now, self._waited_until)
        if until > begin:
            self._waited += until - begin
        self._waited_until = max(self._waited_until, until)

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif cancel is not None:
            cancel.wait(seconds)
        else:
            time.sleep(seconds)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    None when the header is absent or unreadable; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


class OutageBreaker:
    """Trips when every request has failed for longer than `max_outage` seconds.

    An outage is judged only from failures actually seen, when one arrives: at least two failed
    requests, the first and the latest more than `max_outage` apart, with no success between
    (time spent waiting for a rate token or a backoff is not an outage by itself, nor is one
    failure after a long quiet spell). Once tripped it stays so until a success. ``math.inf``
    disables it. Thread-safe.
    """

    #: Failed requests needed, at least, before an outage is declared.
    MIN_FAILURES = 2

    def __init__(self, max_outage: float, clock: Clock = time.monotonic) -> None:
        if math.isnan(max_outage) or max_outage < 0:
            raise ValueError(f"max_outage must be >= 0 seconds, not {max_outage!r}")
        self.max_outage = max_outage
        self._clock = clock
        self._lock = threading.Lock()
        #: When the current run of failures began; None while the last attempt succeeded.
        self._failing_since: float | None = None
        #: When the latest failure of that run arrived, and how many there were.
        self._last_failure = 0.0
        self._failures = 0
        self._tripped = False
        self._last_code = ""

    def __repr__(self) -> str:
        return f"OutageBreaker(max_outage={self.max_outage:g}, tripped={self.tripped})"

    def record(self, success: bool, code: str = "") -> None:
        """Note one completed HTTP attempt (`code` names a failure in the stop message)."""
        with self._lock:
            now = self._clock()
            if success:
                self._failing_since = None
                self._failures = 0
                self._tripped = False
                return
            if self._failing_since is None:
                self._failing_since = now
            self._last_failure = now
            self._failures += 1
            self._last_code = code
            self._tripped = self._tripped or (
                self._failures >= self.MIN_FAILURES and self._outage() > self.max_outage
            )

    @property
    def outage_seconds(self) -> float:
        """From the first to the latest failure since the last success; 0 after a success."""
        with self._lock:
            return self._outage()

    @property
    def tripped(self) -> bool:
        """True once failures seen span more than `max_outage`, until the next success."""
        with self._lock:
            return self._tripped

    def describe(self) -> str:
        """One line for the operator: how long it has been failing, and the last failure."""
        with self._lock:
            seconds = self._outage()
            failures = self._failures
            last = f"; last failure: {self._last_code}" if self._last_code else ""
        return (
            f"every request to the API failed for {_seconds(seconds)} s ({failures} failed "
            f"requests), longer than the {self.max_outage:g} s allowed (max_outage){last}"
        )

    def _outage(self) -> float:
        if self._failing_since is None:
            return 0.0
        return self._last_failure - self._failing_since


def _seconds(value: float) -> str:
    """Seconds to one decimal, without a trailing ".0": 301, 0.4, 12.5."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
