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
