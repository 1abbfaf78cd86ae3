"""The shared rate limit (token bucket + AIMD + Retry-After) and the outage breaker."""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from importer.throttle import OutageBreaker, Throttle, parse_retry_after


class FakeClock:
    """A clock that only moves when told to; `sleep` moves it (and records the request)."""

    def __init__(self, start: float = 1000.0, *, sleep_advances: bool = True) -> None:
        self.now = start
        self.sleep_advances = sleep_advances
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if self.sleep_advances:
                self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class SteppedClock:
    """A clock moved by the test; `sleep` blocks until the clock reaches its end."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleeps: list[float] = []  # when each sleeping thread is due
        self._changed = threading.Condition()

    def __call__(self) -> float:
        with self._changed:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._changed:
            until = self.now + seconds
            self._sleeps.append(until)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.now >= until)
            self._sleeps.remove(until)
            self._changed.notify_all()

    def advance(self, seconds: float, sleepers: int) -> None:
        """Once `sleepers` threads sleep and none is due, move the clock."""
        with self._changed:
            settled = self._changed.wait_for(
                lambda: len(self._sleeps) >= sleepers and min(self._sleeps) > self.now, timeout=10
            )
            assert settled, "the workers did not go back to sleep"
            self.now += seconds
            self._changed.notify_all()


def max_in_window(starts: list[float], window: float = 1.0) -> int:
    """The largest number of starts in any half-open window [t, t + window) (float-tolerant)."""
    starts = sorted(starts)
    best = 0
    first = 0
    for last, start in enumerate(starts):
        while starts[first] <= start - window + 1e-9:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.mark.parametrize("rate", [1, 2.5, 10, 20, 100])
@pytest.mark.parametrize("burst", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_more_than_rate_plus_burst_starts_in_any_second(
    rate: float, burst: int, seed: int
) -> None:
    clock = FakeClock()
    throttle = Throttle(rate, burst, clock=clock, sleep=clock.sleep)
    rng = random.Random(seed)
    starts = []
    for _ in range(int(rate * 8) + 10):
        # Requests come back to back, after short gaps, or after idle spells that refill the
        # bucket; penalties and rewards interleave.
        clock.advance(rng.choice([0.0, 0.0, 0.0, rng.random() / rate, rng.random() * 3]))
        if rng.random() < 0.05:
            throttle.penalize(rng.choice([None, 0.5]))
        throttle.acquire()
        starts.append(clock())
        throttle.reward()
    assert max_in_window(starts) <= math.floor(rate) + burst
    assert max_in_window(starts, 1.0 / rate) <= burst  # and evenly spread, not bunched


def test_workers_that_wake_up_late_together_still_keep_the_limit() -> None:
    clock = SteppedClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    done = threading.Event()

    def work() -> None:
        while not done.is_set():
            throttle.acquire()
            starts.append(clock())

    workers = [threading.Thread(target=work, daemon=True) for _ in range(6)]
    for worker in workers:
        worker.start()
    for step in range(300):
        # The process stalls for 0.35 s once: the workers whose turns came meanwhile wake together.
        clock.advance(0.35 if step == 100 else 0.01, len(workers))
    done.set()
    clock.advance(10.0, len(workers))
    for worker in workers:
        worker.join(timeout=10)
    assert len(starts) > 30
    assert max_in_window(starts) <= 10 + 1


def test_back_to_back_requests_run_at_the_configured_rate() -> None:
    clock = FakeClock(start=0.0)
    throttle = Throttle(10, clock=clock, sleep=clock.sleep)
    for _ in range(101):
        throttle.acquire()
    assert clock() == pytest.approx(10.0)
    assert throttle.waited_seconds == pytest.approx(10.0)


def test_unlimited_never_waits_but_honours_retry_after() -> None:
    clock = FakeClock()
    throttle = Throttle(0, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        throttle.acquire()
    assert clock.slept == []
    throttle.penalize(None)  # nothing to halve
    assert throttle.current_rate == 0
    throttle.penalize(2.0)
    throttle.acquire()
    assert clock.slept == [2.0]
    assert throttle.waited_seconds == 2.0


def test_penalty_halves_the_rate_once_per_burst_down_to_a_floor() -> None:
    clock = FakeClock()
    throttle = Throttle(10, clock=clock, sleep=clock.sleep)
    throttle.penalize(None)
    assert throttle.current_rate == 5
    throttle.penalize(None)  # the same burst (within the cooldown): no second halving
    assert throttle.current_rate == 5
    clock.advance(Throttle.DECREASE_COOLDOWN + 0.01)
    throttle.penalize(None)
    assert throttle.current_rate == 2.5
    for _ in range(20):
        clock.advance(Throttle.DECREASE_COOLDOWN + 0.01)
        throttle.penalize(None)
    assert throttle.current_rate == 10 * Throttle.MIN_FRACTION


def test_cooldown_counts_from_the_end_of_a_retry_after_wait() -> None:
    clock = FakeClock()
    throttle = Throttle(8, clock=clock, sleep=clock.sleep)
    throttle.penalize(5.0)
    assert throttle.current_rate == 4
    clock.advance(4.0)  # answers to requests sent before the 429 keep arriving
    throttle.penalize(5.0)
    assert throttle.current_rate == 4


def test_penalize_says_how_much_it_added_to_the_shared_wait_once_per_wait() -> None:
    clock = FakeClock()
    throttle = Throttle(0, clock=clock, sleep=clock.sleep)
    assert throttle.penalize(None) == 0
    assert throttle.penalize(300.0) == 300  # a new wait
    clock.advance(0.01)
    assert throttle.penalize(300.0) == pytest.approx(0.01)  # another worker's 429: same wait
    assert throttle.penalize(5.0) == 0  # inside the running wait
    clock.advance(300.0)
    assert throttle.penalize(300.0) == 300  # the next wait


def test_rate_grows_back_additively_after_a_halving() -> None:
    clock = FakeClock(start=0.0)
    throttle = Throttle(10, clock=clock, sleep=clock.sleep)
    throttle.penalize(None)
    assert throttle.current_rate == 5
    throttle.reward()
    assert throttle.current_rate == pytest.approx(5 + 0.1 * 10 / 5)  # additive, not doubling
    rates = []
    while throttle.current_rate < 10:
        throttle.acquire()
        throttle.reward()
        rates.append(throttle.current_rate)
    # Back to the configured rate in about five seconds of successes, never above it.
    assert 3.0 < clock() < 8.0
    assert rates == sorted(rates)
    assert max(rates) == 10


def test_retry_after_holds_back_every_worker() -> None:
    clock = FakeClock(sleep_advances=False)
    throttle = Throttle(0, clock=clock, sleep=clock.sleep)
    throttle.penalize(2.0)  # one worker got a 429 with Retry-After: 2
    workers = [threading.Thread(target=throttle.acquire) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert clock.slept == [2.0] * 8
    assert throttle.waited_seconds == 0.0  # the clock has not moved: nothing waited yet
    clock.advance(2.0)
    # Eight workers waiting together over the same two seconds: two seconds of throttling.
    assert throttle.waited_seconds == 2.0


def test_throttled_time_never_exceeds_the_time_elapsed() -> None:
    # A Retry-After of 5 s holds a worker back; the run stops (and sums up) 1 s into it.
    clock = FakeClock(start=0.0, sleep_advances=False)
    throttle = Throttle(0, clock=clock, sleep=clock.sleep)
    throttle.penalize(5.0)
    throttle.acquire()
    clock.advance(1.0)
    assert throttle.waited_seconds == 1.0


def test_a_retry_after_arriving_while_a_worker_sleeps_holds_it_back_too() -> None:
    clock = FakeClock(start=0.0)
    penalized: list[float] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if not penalized:  # another worker got a 429 meanwhile
            penalized.append(clock())
            throttle.penalize(5.0)

    throttle = Throttle(1, clock=clock, sleep=sleep)
    throttle.acquire()
    throttle.acquire()  # reserved the slot at 1.0, then learnt of the 429 at 1.0
    assert penalized == [1.0]
    assert clock() >= 6.0


def test_acquire_gives_up_when_cancelled() -> None:
    cancel = threading.Event()
    throttle = Throttle(0.1)
    assert throttle.acquire(cancel)
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    started = time.monotonic()
    assert not throttle.acquire(cancel)  # would wait ten seconds
    assert time.monotonic() - started < 5
    assert not throttle.acquire(cancel)


def test_threads_share_one_bucket() -> None:
    throttle = Throttle(50)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            throttle.acquire()
            with lock:
                starts.append(time.monotonic())

    began = time.monotonic()
    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(starts) == 60
    # 60 starts at 50/s cannot take less than 59/50 s, however many threads ask.
    assert max(starts) - began >= 1.1
    assert max_in_window(starts) <= 50 + 1 + 3  # slack for threads scheduled late


@pytest.mark.parametrize("rate, burst", [(-1, 1), (math.nan, 1), (math.inf, 1), (1, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        Throttle(rate, burst)


NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (format_datetime(NOW + timedelta(seconds=5), usegmt=True), 5.0),
        ("Fri, 01 Mar 2024 12:01:00 GMT", 60.0),
        ("Friday, 01-Mar-24 12:00:30 GMT", 30.0),  # RFC 850, still allowed by HTTP
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),  # already past
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, expected: float) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_retry_after_date_against_the_real_clock() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None and 25 < seconds <= 30


def test_breaker_trips_after_max_outage_without_success() -> None:
    clock = FakeClock(start=0.0)
    breaker = OutageBreaker(300, clock)
    assert not breaker.tripped
    breaker.record(False, "HTTP_503")
    clock.advance(299)
    breaker.record(False, "TIMEOUT")
    assert not breaker.tripped
    clock.advance(2)
    assert not breaker.tripped  # judged when a failure arrives, not by the clock alone
    breaker.record(False, "TIMEOUT")
    assert breaker.tripped
    message = breaker.describe()
    assert "301 s" in message and "300 s" in message and "TIMEOUT" in message
    assert "3 failed requests" in message
    breaker.record(True)
    assert not breaker.tripped
    assert breaker.outage_seconds == 0


def test_breaker_counts_from_the_first_failure_after_the_last_success() -> None:
    clock = FakeClock(start=0.0)
    breaker = OutageBreaker(60, clock)
    breaker.record(True)
    clock.advance(500)  # a long quiet spell, then one failure: not an outage
    breaker.record(False, "ERR_901")
    assert breaker.outage_seconds == 0
    assert not breaker.tripped
    clock.advance(50)
    breaker.record(False, "ERR_902")
    assert breaker.outage_seconds == 50
    clock.advance(11)
    breaker.record(False, "ERR_903")
    assert breaker.tripped
    clock.advance(1000)
    breaker.record(True)
    clock.advance(1000)  # quiet, but nothing failed: no outage
    assert not breaker.tripped


def test_one_failure_followed_by_a_long_wait_is_not_an_outage() -> None:
    # A slow rate or a long backoff: one failed request, then nothing seen for a long time.
    clock = FakeClock(start=0.0)
    breaker = OutageBreaker(4, clock)
    breaker.record(False, "HTTP_503")
    clock.advance(60)
    assert not breaker.tripped and breaker.outage_seconds == 0
    breaker.record(True)  # the next request passed
    clock.advance(1)
    breaker.record(False, "HTTP_503")
    clock.advance(10)
    breaker.record(False, "HTTP_502")  # two failures 10 s apart, none between: an outage
    assert breaker.tripped


def test_breaker_can_be_disabled() -> None:
    clock = FakeClock(start=0.0)
    breaker = OutageBreaker(math.inf, clock)
    breaker.record(False)
    clock.advance(1e9)
    breaker.record(False)
    assert not breaker.tripped
    with pytest.raises(ValueError):
        OutageBreaker(-1)
