"""Column helpers of the contacts kind: each check once per distinct value, shared strings,
Arrow strings, first occurrences — what keeps a million rows to the cost of their distinct
values, in time and in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")


def by_value(values: pd.Series, check: Callable[[list[str]], T]) -> tuple[T, np.ndarray]:
    """`check` run on the distinct values: the results, and each row's position among them."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return check([str(value) for value in uniques.tolist()]), codes


def text_series(values: np.ndarray) -> pd.Series:
    """An object array of strings as a Series of Arrow strings."""
    return pd.Series(pd.array(values, dtype="str"))


def shared(values: pd.Series) -> np.ndarray:
    """`values` as an object array holding one Python string per distinct value: a million
    rows of a hundred list names hold a hundred strings, not a million."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(uniques, dtype=object)[codes]


def first_positions(keys: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """For each of `positions`, the position of the first one with the same key."""
    if len(keys) == 0:
        return positions.copy()
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    _, first_index = np.unique(codes, return_index=True)
    return positions[first_index[codes]]


def distinct_pairs(
    first: pd.Series, second: pd.Series, *, whole: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The position of each distinct (first, second) pair's first row, in row order, and each
    row's pair among them (`whole`: every row its own pair)."""
    count = len(first)
    if whole:
        return np.arange(count), np.arange(count)
    first_codes, _ = pd.factorize(first, use_na_sentinel=False)
    second_codes, seconds = pd.factorize(second, use_na_sentinel=False)
    pairs = first_codes.astype(np.int64) * max(len(seconds), 1) + second_codes
    pair_of, _ = pd.factorize(pairs, use_na_sentinel=False)
    _, at = np.unique(pair_of, return_index=True)  # pairs are numbered by first appearance
    return at, pair_of
