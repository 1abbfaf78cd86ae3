"""The checks of a contacts file's columns, each once per distinct value: the numbers (against
their list's country) and the optional fields.

On a big file the e-mail column and a share of the numbers are checked in a second process
(`importer.kinds.contacts_parallel`) while this one checks the other numbers: `Checks.start`
sends that work off before this process starts on its share.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from importer import normalize
from importer.cells import CellFact, CellTrap
from importer.kinds.columns import by_value
from importer.kinds.contacts_parallel import (
    SECOND_PROCESS_FROM,
    Pending,
    check_numbers,
    numbers_share,
)
from importer.kinds.roles import OPTIONAL_ROLES, Role
from importer.rules import fields as rules
from importer.rules.phones import NumberFormat, NumberType

#: A check of many distinct cells at once: each cell's value to send and its problem (as
#: `rules.Field` has them); None: the field is sent as read (tidied).
FieldCheck = Callable[[list[str]], tuple[list[str], list[str]]] | None
#: A check's results on the distinct cells, and each row's position among them.
Checked = tuple[tuple[list[str], list[str]], np.ndarray]


def cells(source: pd.DataFrame, column: str) -> pd.Series:
    """The column's cells as text ("" for a missing column or cell)."""
    if column not in source:
        return pd.Series([""] * len(source), index=source.index, dtype="str")
    return source[column].fillna("").astype("str")


def tidy(values: pd.Series) -> pd.Series:
    """Trimmed, NFC, whitespace runs as one space: like list names."""
    return normalize.normalize_names(values)


def each(check: Callable[[str], rules.Field]) -> FieldCheck:
    """A one-cell check run on many cells."""

    def on_each(values: list[str]) -> tuple[list[str], list[str]]:
        results = [check(value) for value in values]
        return [f.value for f in results], [f.problem for f in results]

    return on_each


@dataclass
class Fields:
    """Each optional field of every row, as it would be sent, and why a cell was left out."""

    values: dict[Role, pd.Series]
    """Per role, by position: Arrow strings (no Python object per cell)."""
    problems: dict[Role, np.ndarray]

    @classmethod
    def check(
        cls,
        source: pd.DataFrame,
        checks: Mapping[Role, FieldCheck],
        facts: Mapping[int, list[CellFact]],
        done: Mapping[Role, Checked],
    ) -> Fields:
        """`facts`: position -> the reader's facts about that row's cells; `done`: the roles
        already checked (the e-mails, by `Checks`)."""
        values: dict[Role, pd.Series] = {}
        problems: dict[Role, np.ndarray] = {}
        count = len(source)
        for role, check in checks.items():
            if check is None:  # sent as tidied, never left out: nothing to check
                tidied = tidy(cells(source, role.value))
                values[role] = tidied.reset_index(drop=True)  # Arrow strings, not objects
                problems[role] = np.full(count, "", dtype=object)
                continue
            (sent, why), codes = done.get(role) or by_value(tidy(cells(source, role.value)), check)
            # Taken from the distinct values' Arrow strings: no object array per row.
            values[role] = pd.Series(pd.array(sent, dtype="str").take(codes))
            problems[role] = np.array(why, dtype=object)[codes]
        for position, row_facts in facts.items():
            for fact in row_facts:
                role = Role(fact.column)
                if role not in values or (role is Role.BIRTHDAY and fact.trap is CellTrap.DATE):
                    continue  # a date cell is what a birthday column should hold
                if fact.usable:
                    problems[role][position] = "; ".join(
                        filter(None, [problems[role][position], fact.message()])
                    )
                else:
                    values[role][position] = ""
                    problems[role][position] = f"{role.value} left out: {fact.message()}"
        return cls(values, problems)

    def differing(self, here: np.ndarray, there: np.ndarray) -> dict[int, list[str]]:
        """For each row of `here`: the fields whose values differ from its row of `there` (an
        empty cell of `here` never differs: issue 11)."""
        differ: dict[int, list[str]] = {}
        for role in OPTIONAL_ROLES:
            values = self.values[role]  # only the rows compared become Python strings
            mine = values.iloc[here].to_numpy(dtype=object)
            theirs = values.iloc[there].to_numpy(dtype=object)
            for position in here[(mine != theirs) & (mine != "")].tolist():
                differ.setdefault(position, []).append(role.value)
        return differ


@dataclass
class Numbers:
    """Every row's number checked against its region: E.164, as sent, code, what to say."""

    e164: np.ndarray
    number: np.ndarray
    code: np.ndarray
    said: np.ndarray
    good: np.ndarray
    """For the `checked` positions, in their order: whether the number can be sent."""


@dataclass
class Checks:
    """The numbers of the `checked` rows and the e-mail column, being checked (`start`)."""

    count: int
    checked: np.ndarray
    pair_of: np.ndarray
    """For each checked position, its distinct (cell, region) pair."""
    own: tuple[list[str], list[str]]
    """The pairs this process checks (cells, regions): the first ones."""
    email_codes: np.ndarray
    pending: Pending
    """The e-mail check, then the check of the other pairs (in a second process or here)."""
    kinds: tuple[Collection[NumberType], NumberFormat]

    @classmethod
    def start(
        cls,
        phones: pd.Series,
        region: np.ndarray,
        checked: np.ndarray,
        emails: pd.Series,
        kinds: tuple[Collection[NumberType], NumberFormat],
    ) -> Checks:
        """Send off the e-mails (tidied cells) and a share of the numbers (`normalize_phone`
        once per distinct (cell, region) among the `checked` positions).

        The pairs are told apart by integer codes (no string per row is built), and each
        result is kept as four strings, not as an object per distinct number.
        """
        cell_codes, distinct = pd.factorize(phones.iloc[checked], use_na_sentinel=False)
        region_codes, regions = pd.factorize(region[checked], use_na_sentinel=False)
        width = max(len(distinct), 1)
        pairs, pair_of = np.unique(
            region_codes.astype(np.int64) * width + cell_codes, return_inverse=True
        )
        cell_list = [str(cell) for cell in distinct.tolist()]
        region_list = [str(value) for value in regions.tolist()]
        pair_cells = [cell_list[at] for at in (pairs % width).tolist()]
        pair_regions = [region_list[at] for at in (pairs // width).tolist()]
        email_codes, addresses = pd.factorize(emails, use_na_sentinel=False)
        address_list = [str(value) for value in addresses.tolist()]
        second = len(pairs) + len(address_list) >= SECOND_PROCESS_FROM
        mine = len(pairs) - (numbers_share(len(pairs), len(address_list)) if second else 0)
        pending = Pending(
            [
                (rules.emails, (address_list,)),
                (check_numbers, (pair_cells[mine:], pair_regions[mine:], *kinds)),
            ],
            second_process=second,
        )
        own = (pair_cells[:mine], pair_regions[:mine])
        return cls(len(phones), checked, pair_of, own, email_codes, pending, kinds)

    def results(self) -> tuple[Numbers, Checked]:
        """The numbers, and the e-mails' `Checked` (for `Fields.check`)."""
        with self.pending:
            parts = check_numbers(*self.own, *self.kinds)
            emails, theirs = self.pending.results()
        e164, number, code, said = (np.full(self.count, "", dtype=object) for _ in range(4))
        for target, column, more in zip((e164, number, code, said), parts, theirs, strict=True):
            if len(self.checked):
                target[self.checked] = np.array(column + more, dtype=object)[self.pair_of]
        good = e164[self.checked] != ""
        return Numbers(e164, number, code, said, good), (emails, self.email_codes)
