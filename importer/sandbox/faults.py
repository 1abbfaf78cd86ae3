"""How the sandbox misbehaves on purpose: the faults and the plan of their rates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from importer.errors import ConfigError


class Fault(StrEnum):
    """A way the sandbox misbehaves; the keys of `SandboxStats.faults`."""

    HTTP_5XX = "http_5xx"
    ERROR_9XX = "error_9xx"
    TIMEOUT = "timeout"
    DROP = "drop"
    LOST_ANSWER = "lost_answer"
    GARBAGE = "garbage"
    SLOW_ANSWER = "slow_answer"
    FAIL_EVERYTHING = "fail_everything"


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong, and how often.

    The per-request rates are shares of the create requests, drawn from one
    `random.Random(seed)`: each request gets at most one of them, so they must add up to 1 or
    less (0.3 ERR_9xx + 0.1 5xx means 30 % and 10 % of the requests, 60 % untouched).
    """

    latency: float = 0.0
    """Seconds every answer takes, counted from the arrival of its request line (all endpoints,
    all outcomes): the sandbox's own work is inside it, as a real API's would be."""
    error_9xx_rate: float = 0.0
    """Answer ERR_901..ERR_999; nothing created."""
    http_5xx_rate: float = 0.0
    """HTTP 500/502/503 with an HTML page; nothing created."""
    timeout_rate: float = 0.0
    """Hang `hang_seconds`, then answer HTTP 504; nothing created (the client gave up)."""
    drop_rate: float = 0.0
    """Close the connection without an answer; nothing created."""
    lost_answer_rate: float = 0.0
    """Process the request (create the list), then lose the answer: half ERR_9xx, half a
    connection closed without an answer."""
    garbage_rate: float = 0.0
    """HTTP 200 with an HTML page, truncated JSON, JSON without `code` or the unknown code
    ERR_999X (a quarter each); nothing created."""
    slow_answer_rate: float = 0.0
    """Wait `hang_seconds`, then process the request and answer: a client that gave up before
    then never learns that the list was created."""
    fail_everything: bool = False
    """Every request answers HTTP 503: an outage."""
    rate_limit: float = 0.0
    """When > 0: a request arriving while this many requests (or more) arrived in the last
    second gets HTTP 429, so at most this many are served in any one-second window."""
    retry_after: str | None = None
    """`Retry-After` value on 429 answers (seconds or an HTTP date); "1" when None."""
    hang_seconds: float = 3.0
    """How long a `timeout` or `slow_answer` fault hangs."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name, rate in self.shares():
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"sandbox fault rate {name} must be between 0 and 1, not {rate}")
        total = sum(rate for _, rate in self.shares())
        if total > 1.0 + 1e-9:
            raise ConfigError(f"sandbox fault rates add up to {total:g}; they must not exceed 1")
        for setting in ("latency", "hang_seconds", "rate_limit"):
            if getattr(self, setting) < 0:
                raise ConfigError(f"sandbox {setting} must not be negative")

    def shares(self) -> tuple[tuple[Fault, float], ...]:
        """Per-request faults with their rates, in the order they are drawn."""
        return (
            (Fault.HTTP_5XX, self.http_5xx_rate),
            (Fault.ERROR_9XX, self.error_9xx_rate),
            (Fault.TIMEOUT, self.timeout_rate),
            (Fault.DROP, self.drop_rate),
            (Fault.LOST_ANSWER, self.lost_answer_rate),
            (Fault.GARBAGE, self.garbage_rate),
            (Fault.SLOW_ANSWER, self.slow_answer_rate),
        )
