"""A sent row's state: what a worker's answer, a stop or a launch makes of it (`RowUpdate`,
`Answered`), in the words of the results file. The send loop (`importer.send`) and the kinds
(`importer.kinds`) build rows' states only through these."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from importer.errors import RunStopped
from importer.records import LocalCode, Outcome

if TYPE_CHECKING:
    from importer.replies import CreateAnswer

#: A row answered ERR_104 that no re-read has matched yet.
NAME_TAKEN_PENDING = (
    "name already taken on the account (ERR_104), not matched to its list yet; "
    "the next run will match it"
)
#: A row whose request may have been processed, its answer lost, and no re-read settled it yet.
FATE_UNKNOWN = (
    "outcome unknown: a request for this row may have been processed but its answer was lost "
    "({reason}); the next run settles it by reading the account's lists"
)

#: What the journal says of a row handed to the workers until its answer is recorded: what a
#: killed run leaves (`results N` shows it; the next run settles it). A stop that lets the run
#: end turns the rows never sent back to `NOT_SENT`.
LAUNCHED = (
    "outcome unknown: the run ended (killed?) while this row's request was on its way or about "
    "to go, before its answer was recorded; the next run settles it by reading the account"
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
    """A worker's result: the row's update, when its final answer arrived, and its fate.

    ``uncertain`` counts attempts that may have been processed unseen; a re-read of the account
    vouches for this answer once it started ``settle_delay`` seconds after ``answered_at``.
    """

    update: RowUpdate
    answered_at: float
    uncertain: int = 0
    settle_delay: float = 0.0
    #: The final answer in plain words (the client's message).
    reason: str = ""
    #: The API answered that the row's object is already there (lists ERR_104, contacts
    #: ERR_105): a re-read tells whether this run or someone else put it there.
    taken: bool = False

    @property
    def unsettled(self) -> bool:
        """Whether only a re-read of the account can tell this row's outcome."""
        return self.update.outcome == Outcome.PENDING and (self.taken or self.uncertain > 0)


def answered(answer: CreateAnswer, update: RowUpdate, *, taken_code: str) -> Answered:
    """A worker's result from the client's final answer and the row's update made of it."""
    return Answered(
        update,
        time.monotonic(),
        answer.uncertain,
        answer.settle_delay,
        answer.message,
        taken=answer.code == taken_code and update.outcome == Outcome.PENDING,
    )


def row_update(
    answer: CreateAnswer,
    *,
    stopping: bool,
    retryable: Callable[[str], bool],
    taken: tuple[str, str] = ("ERR_104", NAME_TAKEN_PENDING),
) -> RowUpdate:
    """The row's state after the API's final answer to its request.

    `taken` is the kind's "already there" code and the message of a row waiting for a re-read
    to settle it. Rows that a re-read must settle (`Answered.unsettled`) come back ``pending``
    until it does. `stopping`: the run was stopping when the final answer came back, so a
    retryable failure was not retried (the stop ended the retries): ``pending``, not ``failed``.
    """
    if answer.code == "OK":
        return RowUpdate(Outcome.CREATED, "OK", "created", answer.list_contact_id, answer.attempts)
    if answer.code == taken[0]:
        return RowUpdate(Outcome.PENDING, answer.code, taken[1], "", answer.attempts)
    if retryable(answer.code) and answer.uncertain:
        message = FATE_UNKNOWN.format(reason=answer.message)
        return RowUpdate(Outcome.PENDING, answer.code, message, "", answer.attempts)
    if stopping and retryable(answer.code):
        message = f"not finished: the run stopped while retrying ({answer.message})"
        return RowUpdate(Outcome.PENDING, answer.code, message, "", answer.attempts)
    return RowUpdate(Outcome.FAILED, answer.code, answer.message, "", answer.attempts)


def stopped_update(error: RunStopped) -> RowUpdate | None:
    """A row whose request the run's stop (an outage, say) cut short after it may have been
    processed: pending, its fate unknown. None when nothing that may act was sent for it."""
    if not error.uncertain_attempts:
        return None
    message = FATE_UNKNOWN.format(reason=f"the run stopped: {error}")
    code = error.last_code or LocalCode.NOT_SENT.value
    return RowUpdate(Outcome.PENDING, code, message, "", error.uncertain_attempts)


def launched_update() -> RowUpdate:
    """A row handed to the workers, as journaled before its request may go out (`LAUNCHED`)."""
    return RowUpdate(Outcome.PENDING, LocalCode.IN_FLIGHT.value, LAUNCHED, "", 0)


def abandoned_update(attempts: int) -> RowUpdate:
    """A row whose request was still in flight when a second signal stopped the run: sent
    (`attempts` requests), so it may have been processed; the next run settles it."""
    reason = "no longer waited for: a second signal stopped the run"
    message = FATE_UNKNOWN.format(reason=reason)
    return RowUpdate(Outcome.PENDING, LocalCode.IN_FLIGHT.value, message, "", attempts)
