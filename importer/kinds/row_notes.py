"""What reading said about a contacts row (a field left out and why, …), kept in its message
through the run: the plan's `exists`, the send's `created`/`updated`/`failed` and a list that
could not be created all end with it, as `validate` shows it."""

from __future__ import annotations

import pandas as pd

from importer.records import LocalCode

#: The message of a row to send that the run has not sent (yet): what reading said about the
#: row (a field left out, …) follows it, and stays in the row's final message.
NOT_SENT = "not sent: the run stopped before this row"


def with_notes(message: str, notes: str) -> str:
    """`message`, then what reading said about the row (`notes`), if anything."""
    return f"{message}; {notes}" if notes else message


def reading_notes(message: str, code: str) -> str:
    """What reading said about a row to send (a field left out and why, a country taken from
    the account, …): its message, less the `NOT_SENT` placeholder a run puts first."""
    if code != LocalCode.NOT_SENT:
        return message
    return message.removeprefix(NOT_SENT).removeprefix("; ")


def set_message(frame: pd.DataFrame, rows: pd.Series, message: str) -> None:
    """Give these rows of a contacts frame `message`, each followed by what reading said about
    it (in place; before their `code` changes, which tells a `NOT_SENT` placeholder)."""
    frame.loc[rows, "message"] = [
        with_notes(message, reading_notes(str(said), str(code)))
        for said, code in zip(frame.loc[rows, "message"], frame.loc[rows, "code"], strict=True)
    ]
