"""Sync: the contacts a target list holds that the file does not, removed behind a guard.

With `--sync`, each target list is made to hold exactly the file's contacts for it: a contact
the list held when it was read whose number is on none of the file's rows for that list, or
whose number is excluded (an opt-out, a STOP list), is removed with `/contact/delete`. A target
list is one the file's rows to send go to, on the account and not ambiguous; a list the file
names only through excluded or invalid rows loses its excluded numbers only; other lists are
never touched. Removals are rows of their own after the input rows: `row` empty (journaled
as -1, -2, … so the run's rows keep one key), the contact's full record as the account returned
it, so the results file is also the undo file: imported back, it adds them again.

The guard (`--max-delete N` or `P%`, default 10% of each list) compares exactly: a list may
lose at most N contacts, or at most P% of the contacts it held before the run (no rounding
up); one more and nothing at all is removed from any list: the run stops before sending
anything (`errors.RemovalRefused`, exit 2).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from importer.errors import RemovalRefused
from importer.kinds.contacts import CONTACT_COLUMNS, CONTACT_KEYS, Action, ContactOptions
from importer.kinds.contacts_plan import REQUEST_FIELDS, ListOnAccount, read_account
from importer.kinds.roles import OPTIONAL_ROLES
from importer.records import NAME_AS_TYPED, LocalCode, Outcome

if TYPE_CHECKING:
    from importer.client import AvoSmsClient
    from importer.kinds.contacts_read import ContactsSource

#: Why a contact is removed when the file does not name it.
NOT_IN_FILE = "not in the file"


def removal_code(why: str) -> str:
    """The code of a done removal, by why it was removed (its `change`): `OPTED_OUT` for an
    excluded number, so the results read back (the undo) keep it out
    (`exclusions.opted_out_results`); `OK` for a contact the file does not name."""
    return "OK" if why == NOT_IN_FILE else LocalCode.OPTED_OUT.value


@dataclass(frozen=True)
class MaxDelete:
    """How many contacts `--sync` may remove from one list: a number, or a share of the list."""

    count: int | None = None
    percent: Fraction | None = None

    @classmethod
    def parse(cls, value: object) -> MaxDelete:
        """`7` or `"7"` (contacts) or `"12.5%"` (of each list's contacts before the run).

        Raises ValueError naming what is expected.
        """
        text = str(value).strip() if not isinstance(value, bool) else ""
        share = text.endswith("%")
        try:
            number = Decimal(text.removesuffix("%").strip())
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number < 0 or (share and number > 100):
            raise ValueError("a number of contacts such as 50, or a share such as 10%")
        if share:
            return cls(percent=Fraction(number))
        if number != number.to_integral_value():
            raise ValueError("a whole number of contacts such as 50, or a share such as 10%")
        return cls(count=int(number))

    def allowed(self, before: int) -> int:
        """The most contacts a list that held `before` may lose (a share is never rounded up)."""
        if self.count is not None:
            return self.count
        return math.floor((self.percent or Fraction(0)) * before / 100)

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{float(self.percent or 0):g}%"


def exclusion_reasons(frame: pd.DataFrame, numbers: Collection[str]) -> dict[str, str]:
    """Each excluded number (E.164) with why, for the message of its removal: the first
    `excluded` row with it, else the STOP list (`--exclude`)."""
    excluded = frame[(frame["outcome"] == Outcome.EXCLUDED) & frame["e164"].isin(numbers)]
    rows = excluded.drop_duplicates("e164").set_index("e164")["row"].to_dict()
    return {
        number: f"excluded number (row {rows[number]})" if number in rows else "in the STOP list"
        for number in numbers
    }


def removals(
    frame: pd.DataFrame,
    lists: Mapping[str, ListOnAccount],
    excluded: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The removal rows of a sync of `lists` (the lists read, by list key).

    In: the planned frame (its rows name the numbers each list keeps: any row of the list with
    a number read, whatever its outcome, but `excluded`) and the excluded numbers (E.164 ->
    reason). A list the file sends no row to (its rows all excluded or invalid) loses its
    excluded numbers only: it is not synced as a whole. Out: one `planned` row per contact to
    remove (`Action.DELETE`), in list then number order, `row` -1, -2, …; `change` says why.
    """
    excluded = excluded or {}
    named = frame[(frame["e164"] != "") & (frame["outcome"] != Outcome.EXCLUDED)]
    kept = named.groupby("list_key")["e164"].agg(set).to_dict()
    sent = frame["outcome"].isin([Outcome.PLANNED, Outcome.PENDING, Outcome.EXISTS])
    synced = set(frame.loc[sent, "list_key"])
    names = frame.drop_duplicates("list_key").set_index("list_key")["list_name"].to_dict()
    records = []
    for key in sorted(lists):
        target = lists[key]
        keep = kept.get(key, set())
        for e164 in sorted(target.contacts):
            if e164 not in excluded and (e164 in keep or key not in synced):
                continue
            contact = target.contacts[e164]
            why = excluded.get(e164, NOT_IN_FILE)
            records.append(
                {
                    "list_name": target.name or str(names.get(key, "")),
                    "country": target.country_code,
                    "phone": contact.number,
                    "list_contact_id": target.list_contact_id,
                    "number": contact.number,
                    **{
                        role.value: contact.fields.get(REQUEST_FIELDS[role], "")
                        for role in OPTIONAL_ROLES
                    },
                    "message": f"to delete from list {target.list_contact_id}: {why}",
                    "list_key": key,
                    "country_code": target.country_code,
                    "e164": e164,
                    "change": why,
                }
            )
    rows = pd.DataFrame.from_records(records, columns=[*CONTACT_COLUMNS, *CONTACT_KEYS])
    rows["row"] = -np.arange(1, len(rows) + 1, dtype=np.int64)
    rows["attempts"] = np.zeros(len(rows), dtype=np.int64)
    rows[["outcome", "code", "action"]] = [Outcome.PLANNED.value, "", Action.DELETE.value]
    text = rows.columns.difference(["row", "attempts"])  # a field no contact has is all-NaN
    rows[text] = rows[text].astype(object).fillna("")
    return rows


def over_guard(
    planned: pd.DataFrame, lists: Mapping[str, ListOnAccount], max_delete: MaxDelete
) -> list[str]:
    """One line per list that would lose more than `max_delete` allows (none: all within)."""
    lines = []
    counts = planned.loc[planned["action"] == Action.DELETE, "list_key"].value_counts()
    for key, count in sorted(counts.items()):
        target = lists[str(key)]
        before = len(target.contacts)
        allowed = max_delete.allowed(before)
        if count <= allowed:
            continue
        share = f"{100 * count / before:.3g}%" if before else "all"
        name = target.name or str(key)
        lines.append(
            f"--sync would remove {count} of the {before} contacts of list {name!r} "
            f"(id {target.list_contact_id}, {share}), more than --max-delete {max_delete} allows "
            f"({allowed}): nothing was sent to any list; if the file is right, allow it with "
            f"--max-delete {count} (job key max_delete), or see the removals with "
            "`validate --check-account --sync`"
        )
    return lines


def check_guard(
    planned: pd.DataFrame, lists: Mapping[str, ListOnAccount], max_delete: MaxDelete
) -> None:
    """Raise errors.RemovalRefused (one line per list over the guard) when any list would lose
    more than `max_delete` allows."""
    lines = over_guard(planned, lists, max_delete)
    if lines:
        raise RemovalRefused("\n".join(lines))


def carried_over(
    changes: pd.DataFrame, lists: Mapping[str, ListOnAccount], frame: pd.DataFrame
) -> pd.DataFrame:
    """Removals an interrupted run made (or may have) that this run's results must still show,
    so they stay the undo file: contacts of this run's target lists that are gone from the
    account and that no row of the file names. They are `exists` (the list already was as
    wanted; this run did not remove them), their record as that run read it.

    `changes` is `Journal.interrupted_changes`.
    """
    gone = changes[(changes["action"] == Action.DELETE) & changes["list_key"].isin(lists.keys())]
    named = set(zip(frame["list_key"], frame["e164"], strict=True))
    keep = [
        index
        for index, key, e164 in zip(gone.index, gone["list_key"], gone["e164"], strict=True)
        if e164 not in lists[key].contacts and (key, e164) not in named
    ]
    rows = gone.loc[keep].copy()
    rows["outcome"] = Outcome.EXISTS.value
    rows["code"] = np.where(rows["code"] == LocalCode.OPTED_OUT, LocalCode.OPTED_OUT.value, "OK")
    rows["message"] = [
        f"already gone: deleted from list {list_id} by run {run} (interrupted)"
        for list_id, run in zip(rows["list_contact_id"], rows["run_id"], strict=True)
    ]
    rows["country_code"], rows["change"], rows["action"] = rows["country"], "", ""
    rows[NAME_AS_TYPED] = ""  # the report names it by its fields, as the account had them
    return rows[[*CONTACT_COLUMNS, *CONTACT_KEYS]]


def still_present(present: Mapping[str, list[str]], frame: pd.DataFrame) -> dict[str, list[str]]:
    """List key -> the excluded numbers `present` says it held that are still there after the
    run: a removal row `deleted`, or `exists` (found already gone), took its number out."""
    done = (frame["row"] < 0) & frame["outcome"].isin([Outcome.DELETED, Outcome.EXISTS])
    gone = set(zip(frame.loc[done, "list_key"], frame.loc[done, "e164"], strict=True))
    left = {key: [n for n in numbers if (key, n) not in gone] for key, numbers in present.items()}
    return {key: numbers for key, numbers in left.items() if numbers}


def append_removals(frame: pd.DataFrame, *parts: pd.DataFrame) -> pd.DataFrame:
    """The input rows, then the removal rows of `parts` renumbered -1, -2, … in that order."""
    parts = tuple(part for part in parts if len(part))
    if not parts:
        return frame
    rows = pd.concat(parts, ignore_index=True)
    rows["row"] = -np.arange(1, len(rows) + 1, dtype=np.int64)
    rows["attempts"] = rows["attempts"].astype("int64")
    return pd.concat([frame, rows], ignore_index=True)


def check_account(
    client: AvoSmsClient, read: ContactsSource, options: ContactOptions
) -> tuple[pd.DataFrame, dict[str, ListOnAccount], dict[str, list[str]], list[str]]:
    """`validate --check-account`: the file planned against the account, read-only
    (`contacts_plan.read_account`); with `--sync` its removals after the input rows
    (`planned`). Out: the frame, the lists read (by list key), list key -> the excluded
    numbers it holds, and the guard's lines for the lists over it (none: within the guard,
    or no sync)."""
    frame, lists, present = read_account(client, read.frame, options, read.cells)
    if not options.sync:
        return frame, lists, present, []
    held = {number for numbers in present.values() for number in numbers}
    planned = removals(frame, lists, exclusion_reasons(frame, held))
    refused = over_guard(planned, lists, MaxDelete.parse(options.max_delete))
    return append_removals(frame, planned), lists, present, refused
