"""Per list of a contacts file: the plan before anything is sent, the counts before and after.

One tally serves three readers: the plan lines (`validate --check-account`, and `run` once its
plan is made, before it sends), the HTML report's per-list table and the XLSX `Summary`
sheet's. It is built from the rows' outcomes alone, so every outcome a kind gives a row
(`excluded`, `updated`, `deleted`, ...) is counted without a word here; `PLAN_WORDS` only says
how an outcome reads in a plan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from importer.kinds.contacts import Action
from importer.records import LocalCode, Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.kinds.contacts_plan import ListOnAccount

log = logging.getLogger("importer")

#: How each outcome reads in a plan (`planned`: what the row would become once sent).
#: An outcome not named here reads as itself.
PLAN_WORDS: Mapping[str, str] = {
    Outcome.PLANNED: "to add",
    Outcome.EXISTS: "unchanged",
}
#: The plan's columns, in this order; each is shown even at 0, `to remove` only with a sync.
#: Other outcomes follow, when a list has any.
PLAN_COLUMNS: tuple[str, ...] = (
    "to add",
    "to update",
    "unchanged",
    "to remove",
    "excluded",
    "invalid",
    "duplicate",
)
#: The per-list table's outcome columns, in the plan's order: added, updated, unchanged,
#: removed, then the rows not sent.
TABLE_ORDER: tuple[str, ...] = (
    Outcome.PLANNED,
    Outcome.CREATED,
    "to update",
    Outcome.UPDATED,
    Outcome.EXISTS,
    "to remove",
    Outcome.DELETED,
    Outcome.EXCLUDED,
    Outcome.INVALID,
    Outcome.DUPLICATE,
    Outcome.FAILED,
    Outcome.PENDING,
)
#: A plan column shown only when a run removes contacts (`--sync`) or a list has some.
SYNC_ONLY = frozenset({"to remove"})

#: A row planned for another request than an add (its `action` working column), by action:
#: how it counts in the plan.
PLANNED_ACTIONS: Mapping[str, str] = {Action.UPDATE: "to update", Action.DELETE: "to remove"}

#: Outcomes whose rows add a contact to their list, or take one away (after = before + added
#: - removed, with no re-read of the account).
ADDING = frozenset({Outcome.CREATED.value, Outcome.PLANNED.value})
REMOVING = frozenset({Outcome.DELETED.value, "to remove"})

#: Plan lines on a person's terminal; above this many lists, a total line stands for the rest
#: (a log file or a JSON log gets every list).
CONSOLE_PLAN_LISTS = 20

#: The name shown for rows without a list name.
NO_LIST = "(no list name)"


@dataclass(frozen=True)
class ListBefore:
    """A target list as the run found it: its id and how many contacts it held."""

    list_contact_id: str
    contacts: int


@dataclass(frozen=True)
class ListTally:
    """One list's rows by outcome, and its contacts before and after the run."""

    name: str
    """The list's name as the file spells it (its first row)."""
    list_contact_id: str
    """Its id on the account; "" when it is not there (yet)."""
    before: int | None
    """Contacts in the list before the run; None when it was not read (no row to send)."""
    outcomes: Mapping[str, int] = field(default_factory=dict)
    """Rows per outcome; rows not sent yet count as `planned` (an add), `to update` or
    `to remove` (`PLANNED_ACTIONS`)."""
    key: str = ""
    """The list's key by the "same list name" rule (how its rows were grouped)."""

    @property
    def after(self) -> int | None:
        """Contacts in the list after the run (or, for a plan, once it is sent): before, plus
        the rows added, less the contacts removed. None when `before` is unknown."""
        if self.before is None:
            return None
        added = sum(self.outcomes.get(outcome, 0) for outcome in ADDING)
        removed = sum(self.outcomes.get(outcome, 0) for outcome in REMOVING)
        return self.before + added - removed

    def plan(self) -> dict[str, int]:
        """The list's rows in plan words (`PLAN_WORDS`)."""
        words: dict[str, int] = {}
        for outcome, count in self.outcomes.items():
            word = plan_word(outcome)
            words[word] = words.get(word, 0) + count
        return words

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "list_name": self.name,
            "list_contact_id": self.list_contact_id,
            "before": self.before,
            "after": self.after,
            "outcomes": dict(self.outcomes),
        }


def lists_before(
    lists: Mapping[str, ListOnAccount], new: Iterable[str] = ()
) -> dict[str, ListBefore]:
    """The target lists as read (`kinds.contacts_plan.ListOnAccount`, by list key), and the
    keys of lists still to be created (`new`: empty, no id yet)."""
    before = {
        key: ListBefore(item.list_contact_id, len(item.contacts)) for key, item in lists.items()
    }
    return before | {key: ListBefore("", 0) for key in new if key not in before}


def plan_word(outcome: str) -> str:
    """How an outcome reads in a plan: `planned` is `to add`, `exists` is `unchanged`."""
    return PLAN_WORDS.get(outcome, outcome)


def tally_lists(
    frame: pd.DataFrame, before: Mapping[str, ListBefore], *, planning: bool = False
) -> tuple[ListTally, ...]:
    """Per list, in the file's order: its rows by outcome, its contacts before and after.

    In: a contacts results frame (its `list_key` column, else `list_name`, groups the rows) and
    the target lists the run read or created, by list key. `planning`: rows still waiting to
    be sent (`pending`, `NOT_SENT`) count as `planned`, as the plan made before sending sees
    them; a planned row whose `action` is an update or a removal counts as `to update` or
    `to remove`. Out: one `ListTally` per list; () for a frame without a list column.
    """
    if frame.empty or "list_name" not in frame:
        return ()
    names = frame["list_name"].astype("string").fillna("")
    keys = frame["list_key"].astype("string").fillna("") if "list_key" in frame else names
    outcomes = frame["outcome"].astype("string").fillna("")
    if planning:
        waiting = (outcomes == Outcome.PENDING.value) & (frame["code"] == LocalCode.NOT_SENT.value)
        outcomes = outcomes.mask(waiting, Outcome.PLANNED.value)
    if "action" in frame:
        planned = outcomes == Outcome.PLANNED.value
        actions = frame["action"].astype("string").fillna("")
        for action, word in PLANNED_ACTIONS.items():
            outcomes = outcomes.mask(planned & (actions == action), word)
    counts = outcomes.groupby(keys, sort=False).value_counts(sort=False)
    # Each list's first name, in the file's order (a groupby would copy every row's name).
    firsts = ~keys.duplicated()
    first = dict(zip(keys[firsts].tolist(), names[firsts].tolist(), strict=True))
    first_ids = _first_ids(frame, keys)
    by_list: dict[str, dict[str, int]] = {str(key): {} for key in first}
    for pair, count in counts.items():
        list_key, outcome = cast("tuple[str, str]", pair)
        by_list[str(list_key)][str(outcome)] = int(count)
    tallies = []
    for key, per_outcome in by_list.items():
        known = before.get(key)
        list_id = known.list_contact_id if known else first_ids.get(key, "")
        tallies.append(
            ListTally(
                str(first[key]) or NO_LIST,
                list_id,
                known.contacts if known else None,
                per_outcome,
                key,
            )
        )
    return tuple(tallies)


def _first_ids(frame: pd.DataFrame, keys: pd.Series) -> dict[str, str]:
    """Per list key, the first list id its rows hold, in the file's order (lists without
    one are absent). One pass over the rows, whatever the number of lists."""
    if "list_contact_id" not in frame:
        return {}
    ids = frame["list_contact_id"].astype("string").fillna("")
    held = ids != ""
    keys, ids = keys[held], ids[held]
    firsts = ~keys.duplicated()
    return dict(zip(keys[firsts].tolist(), ids[firsts].tolist(), strict=True))


def plan_line(tally: ListTally, *, sync: bool = False) -> str:
    """`plan for list 'Clients' (id 1001, 40 contacts): 5 to add, 0 to update, 3 unchanged, …`"""
    return f"plan for list {tally.name!r} ({where(tally)}): {plan_counts(tally.plan(), sync)}"


def where(tally: ListTally) -> str:
    """`id 1001, 40 contacts`; `new` (to be created); `not read` (no row of it can be sent)."""
    if not tally.list_contact_id:
        return "not read" if tally.before is None else "new"
    if tally.before is None:
        return f"id {tally.list_contact_id}"
    contacts = "contact" if tally.before == 1 else "contacts"
    return f"id {tally.list_contact_id}, {tally.before} {contacts}"


def plan_counts(words: Mapping[str, int], sync: bool = False) -> str:
    """`5 to add, 0 to update, 3 unchanged, 0 excluded, 2 invalid, 1 duplicate`: the plan's
    columns in order (`to remove` with a sync or when some), then any other outcome."""
    shown = [w for w in PLAN_COLUMNS if w not in SYNC_ONLY or sync or words.get(w)]
    shown += [w for w in words if w not in PLAN_COLUMNS and words[w]]
    return ", ".join(f"{words.get(word, 0)} {word}" for word in shown)


def log_plan(tallies: Sequence[ListTally], *, for_people: bool, sync: bool = False) -> list[str]:
    """Log the plan: one INFO line per list (with `list_name`, `list_contact_id` and `counts`
    for JSON logs). A person's terminal (`for_people`) gets the first `CONSOLE_PLAN_LISTS`
    and one total line for all the lists; a log file every list. Returns the lines logged."""
    shown = tallies[:CONSOLE_PLAN_LISTS] if for_people else tallies
    lines = []
    for tally in shown:
        line = plan_line(tally, sync=sync)
        log.info(
            line,
            extra={
                "list_name": tally.name,
                "list_contact_id": tally.list_contact_id,
                "counts": tally.plan(),
            },
        )
        lines.append(line)
    if len(shown) < len(tallies):
        total: dict[str, int] = {}
        for tally in tallies:
            for word, count in tally.plan().items():
                total[word] = total.get(word, 0) + count
        line = (
            f"plan, {len(tallies)} lists in all ({len(tallies) - len(shown)} not shown above: "
            f"see the report or a log file): {plan_counts(total, sync)}"
        )
        log.info(line, extra={"counts": total})
        lines.append(line)
    return lines


def summary_table(
    tallies: Sequence[ListTally], *, planning: bool
) -> tuple[tuple[str, ...], list[list[Any]]]:
    """The per-list table of the report and the Summary sheet: headings and rows (list, id,
    contacts before, after, then rows per outcome, in plan words for a plan)."""
    outcomes = outcome_columns(tallies)
    after = "Contacts after (planned)" if planning else "Contacts after"
    words = [plan_word(o) if planning else o for o in outcomes]
    headings = ("List", "Id", "Contacts before", after, *words)
    rows = [
        [
            tally.name,
            tally.list_contact_id,
            "" if tally.before is None else tally.before,
            "" if tally.after is None else tally.after,
            *(tally.outcomes.get(o, 0) for o in outcomes),
        ]
        for tally in tallies
    ]
    return headings, rows


def outcome_columns(tallies: Sequence[ListTally]) -> list[str]:
    """The outcomes any list has, in the order of the plan's columns (`TABLE_ORDER`), any
    other after."""
    present = {outcome for tally in tallies for outcome in tally.outcomes}
    ordered = [outcome for outcome in TABLE_ORDER if outcome in present]
    return ordered + sorted(present - set(ordered))
