"""The sending phase's progress bar: on a terminal only, never in logs or pipes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from importer.records import Outcome

#: Outcomes counted as failures in the bar's postfix.
FAILURE_OUTCOMES = frozenset({Outcome.FAILED.value, Outcome.INVALID.value})


class ProgressBar:
    """Rows done/total, rate and ETA (tqdm), plus the failures so far."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO) -> None:
        self.outcomes: Counter[str] = Counter()
        self._bar = None
        if enabled and total:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, file=stream, unit="list", desc="creating", dynamic_ncols=True
            )

    def advance(self, outcome: str) -> None:
        """Count one finished row."""
        self.outcomes[str(outcome)] += 1
        if self._bar is None:
            return
        failures = sum(self.outcomes[name] for name in FAILURE_OUTCOMES)
        if failures:
            self._bar.set_postfix(failed=failures, refresh=False)
        self._bar.update(1)

    def close_with(self, *, throttled: float = 0.0) -> None:
        """Close the bar, leaving the final figures on screen."""
        if self._bar is None:
            return
        if throttled >= 0.1:
            self._bar.set_postfix(throttled=f"{throttled:.1f}s", refresh=False)
        self._bar.close()
        self._bar = None


@contextmanager
def progress_bar(total: int, *, enabled: bool, stream: TextIO) -> Iterator[ProgressBar]:
    """A `ProgressBar` that is always closed, even when the run stops early."""
    bar = ProgressBar(total, enabled=enabled, stream=stream)
    try:
        yield bar
    finally:
        bar.close_with()
