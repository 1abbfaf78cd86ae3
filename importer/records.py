"""Records shared by every stage: outcomes, result columns, local codes."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from importer.errors import ExitCode

if TYPE_CHECKING:
    import pandas as pd


class Outcome(StrEnum):
    """What happened to one input row; the `outcome` column of the results file."""

    CREATED = "created"
    UPDATED = "updated"
    """Contacts (`--update`): this run's update changed the contact."""
    EXISTS = "exists"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    PENDING = "pending"
    PLANNED = "planned"
    EXCLUDED = "excluded"
    """Never sent: the number opted out (an opt-out column, or the `--exclude` STOP list)."""
    DELETED = "deleted"
    """Contacts (`--sync`): this run removed the contact (a row after the input rows)."""


#: Outcomes that leave the exit code at 0.
SUCCESS_OUTCOMES = frozenset(
    {
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.EXISTS,
        Outcome.DUPLICATE,
        Outcome.PLANNED,
        Outcome.DELETED,
        Outcome.EXCLUDED,
    }
)

#: The results file's columns, in order. Exactly these, nothing else.
RESULT_COLUMNS: tuple[str, ...] = (
    "row",
    "list_name",
    "country",
    "name",
    "country_code",
    "outcome",
    "code",
    "message",
    "list_contact_id",
    "attempts",
)

#: The results file's columns for contacts, in order. Exactly these, nothing else (here rather
#: than in `importer.kinds.contacts`, so the journal does not load the contacts rules to know them).
CONTACT_COLUMNS: tuple[str, ...] = (
    "row",
    "list_name",
    "country",
    "phone",
    "list_contact_id",
    "number",
    "civility",
    "last_name",
    "first_name",
    "email",
    "birthday",
    "other",
    "outcome",
    "code",
    "message",
    "attempts",
)


#: A contacts frame's column (not a results column) with each row's first and last name as
#: typed, kept for every row, so the report can name a contact that was never sent.
NAME_AS_TYPED = "name_as_typed"


class LocalCode(StrEnum):
    """Upper-case tokens for conditions found by us rather than answered by the API."""

    DUPLICATE = "DUPLICATE"
    TIMEOUT = "TIMEOUT"
    CONNECTION = "CONNECTION"
    BAD_ANSWER = "BAD_ANSWER"
    NOT_SENT = "NOT_SENT"
    THROTTLED = "HTTP_429"
    BAD_CELL = "BAD_CELL"
    AMBIGUOUS_NAME = "AMBIGUOUS_NAME"
    IN_FLIGHT = "IN_FLIGHT"
    OPTED_OUT = "OPTED_OUT"


#: Prefix of a contacts row's code that comes from its list's stage (`LIST_ERR_103`): the API's
#: codes are per endpoint, and `ERR_103` means another thing on `/contact/add`.
LIST_CODE_PREFIX = "LIST_"


def http_code(status: int) -> str:
    """The results-file token for an HTTP error status, e.g. ``HTTP_503``."""
    return f"HTTP_{status}"


def exit_code_for(frame: pd.DataFrame) -> ExitCode:
    """0 when every row succeeded, 3 if some are pending, else 1."""
    outcomes = set(frame["outcome"].unique().tolist())
    if Outcome.PENDING in outcomes:
        return ExitCode.STOPPED
    if outcomes <= {str(outcome) for outcome in SUCCESS_OUTCOMES}:
        return ExitCode.OK
    return ExitCode.ROWS_FAILED
