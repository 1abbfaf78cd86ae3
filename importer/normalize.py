"""Normalize, validate and dedupe the rows read from the input file.

Every check the API would make on a row (ERR_101 empty name, ERR_102 empty country, ERR_103
unknown country) and every duplicate is found here, before a single request is sent. The work
is done column-wise with pyarrow compute, so a million rows take well under a second; only
the distinct country values are looked at one by one in Python.

What a country cell means is :mod:`importer.countries`' job; a value it cannot place makes
the row `invalid` with ERR_103 and its reason. The text rules (invisible characters) are
:mod:`importer.text`'s.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer import errors
from importer.cells import CellFact
from importer.countries import (
    COUNTRY_ALIASES,
    NOT_ISO_COUNTRIES,
    country_code_for,
    fold_country,
    resolve_country,
    resolve_country_array,
)
from importer.records import RESULT_COLUMNS, LocalCode, Outcome
from importer.text import drop_invisible_array

__all__ = [
    "COUNTRY_ALIASES",
    "NOT_ISO_COUNTRIES",
    "country_code_for",
    "fold_country",
    "name_key",
    "normalize_names",
    "prepare",
    "resolve_countries",
]

#: pandas' own text dtype (pyarrow-backed, NaN for missing): what every text column here uses.
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
_ARROW_TEXT = pa.large_string()

# Every character Python's str.isspace() accepts (tab, NBSP, the U+2000 spaces, ideographic
# space…), written for RE2. The last one is U+3000, hence the range.
_SPACES = [ch for ch in map(chr, range(0x3001)) if ch.isspace()]


def _re2_class(chars: Iterable[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(ch):04X}}}" for ch in chars) + "]"


_RE2_SPACE_RUN = _re2_class(_SPACES) + "+"
# What a name needs rewriting for: a run of two whitespace characters, or one that is not " ".
_RE2_NEEDS_SPACE_FIX = _re2_class(_SPACES) + "{2,}|" + _re2_class(c for c in _SPACES if c != " ")

CODE_EMPTY_NAME = "ERR_101"
CODE_EMPTY_COUNTRY = "ERR_102"
CODE_UNKNOWN_COUNTRY = "ERR_103"

MESSAGE_EMPTY_NAME = "list name is empty"
MESSAGE_EMPTY_COUNTRY = "country is empty: fill it in, or give a default country"


# --------------------------------------------------------------------------- names


def _as_text_array(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values as one arrow string array, missing cells as ""."""
    if isinstance(values, pd.Series):
        if not isinstance(values.dtype, pd.StringDtype):
            values = values.astype(object).where(values.notna(), "").astype(str)
        array = pa.array(values)
    else:
        array = values
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != _ARROW_TEXT:
        array = array.cast(_ARROW_TEXT)
    return pc.fill_null(array, "")


def _normalize_array(array: pa.Array) -> pa.Array:
    """No invisible characters, NFC, every whitespace run (NBSP, tabs…) as one space, trimmed.

    Invisible characters go first: a zero-width space between two spaces leaves one space.
    """
    array = drop_invisible_array(array)
    needs_fix = pc.match_substring_regex(array, pattern=_RE2_NEEDS_SPACE_FIX)
    if pc.any(needs_fix).as_py():
        fixed = pc.replace_substring_regex(
            array.filter(needs_fix), pattern=_RE2_SPACE_RUN, replacement=" "
        )
        array = pc.replace_with_mask(array, needs_fix, fixed)
    array = pc.utf8_trim(array, characters=" ")
    # NFC last: it never creates whitespace, so the result is tidy and NFC at once, and
    # normalizing it again changes nothing. ASCII text is NFC already.
    if pc.all(pc.string_is_ascii(array)).as_py():
        return array
    return _map_text(array, _nfc)


def _nfc(text: str) -> str:
    # The quick check is far cheaper than normalizing, and most files are NFC already.
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _map_text(array: pa.Array, function: Callable[[str], str]) -> pa.Array:
    """`function` applied to every value, by one call on all the values joined.

    Only for functions that work character by character and leave NUL alone (NFC, casefold),
    so that the values, joined with NUL after each, can be cut apart again afterwards. One
    call on a few MB of text costs far less than a million calls.
    """
    if len(array) == 0:
        return array
    terminated = pc.binary_join_element_wise(array, _lit(""), _lit("\x00"))
    offsets = np.frombuffer(
        terminated.buffers()[1], dtype=np.int64, count=len(array) + 1, offset=terminated.offset * 8
    )
    raw = terminated.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    if raw.count(b"\x00") != len(array):  # a value holds a NUL: one call per value instead
        return pa.array([function(value) for value in array.to_pylist()], _ARROW_TEXT)
    text = raw.decode()
    mapped = function(text)
    if mapped is text or mapped == text:
        return array
    encoded = mapped.encode()
    ends = np.flatnonzero(np.frombuffer(encoded, dtype=np.uint8) == 0)
    new_offsets = np.zeros(len(array) + 1, dtype=np.int64)
    new_offsets[1:] = ends - np.arange(len(ends))
    return pa.LargeStringArray.from_buffers(
        len(array), pa.py_buffer(new_offsets), pa.py_buffer(encoded.replace(b"\x00", b""))
    )


#: Fewer values than this are casefolded by Python all at once (~0.5 µs each), rather than
#: after finding the characters arrow lowers otherwise (~50 ms, once per process; measured).
CASEFOLD_ALL_BELOW = 100_000


@cache
def _re2_casefold_special() -> str:
    """RE2 class of the characters arrow's utf8_lower does not casefold (ß, ς, İ, Cherokee…).

    Found by comparing both on every non-ASCII character of planes 0 and 1, where all cased
    characters live; computed once, in a few tens of milliseconds.
    """
    chars = [chr(cp) for cp in range(0x80, 0x20000) if not 0xD800 <= cp < 0xE000]
    text = "\x00".join(chars)  # one string each way: no Python object per character
    folded = text.casefold().split("\x00")
    lowered = pc.utf8_lower(pa.array([text], _ARROW_TEXT))[0].as_py().split("\x00")
    return _re2_class(
        ch for ch, fold, low in zip(chars, folded, lowered, strict=True) if fold != low
    )


def _key_array(normalized: pa.Array) -> pa.Array:
    """Full Unicode casefold (`Straße` → `strasse`), as Python's str.casefold gives it.

    arrow's utf8_lower agrees with casefold on all but a few hundred characters; only the
    values holding one of those are casefolded by Python.
    """
    keys = pc.utf8_lower(normalized)
    if pc.all(pc.string_is_ascii(normalized)).as_py():
        return keys
    if len(normalized) < CASEFOLD_ALL_BELOW and normalized.null_count == 0:
        return _map_text(normalized, str.casefold)
    special = pc.match_substring_regex(normalized, pattern=_re2_casefold_special())
    if pc.any(special).as_py():
        folded = _map_text(normalized.filter(special), str.casefold)
        keys = pc.replace_with_mask(keys, special, folded)
    return keys


def _lit(text: str) -> pa.Scalar:
    """A text literal of the same arrow type as the columns (compute kernels want one type)."""
    return pa.scalar(text, _ARROW_TEXT)


def _to_series(array: pa.Array, index: pd.Index | None = None) -> pd.Series:
    return pd.Series(pd.array(array, dtype=_TEXT), index=index, copy=False)


def normalize_names(names: pd.Series) -> pd.Series:
    """List names as the API should receive them: NFC, trimmed, whitespace runs as one space.

    Missing cells become "". The index is kept.
    """
    return _to_series(_normalize_array(_as_text_array(names)), names.index)


def name_key(names: pd.Series) -> pd.Series:
    """The importer's one rule for "same list name": equal keys are the same list.

    The key is the normalized name (`normalize_names`) casefolded. Deduplication (`prepare`),
    reconciliation with the account and ERR_104 matching (`importer.reconcile`) and the
    sandbox's "importer" comparison model all use it; change the rule here and only here.
    """
    return _to_series(_key_array(_normalize_array(_as_text_array(names))), names.index)


def same_name_key(name: str) -> str:
    """`name_key` for one name (the sandbox compares names one request at a time)."""
    return str(_key_array(_normalize_array(pa.array([name], _ARROW_TEXT)))[0].as_py())


# --------------------------------------------------------------------------- countries


def resolve_countries(values: pd.Series) -> pd.Series:
    """ISO2 (upper case) per cell, "" when the cell is empty, missing (NaN) when unknown."""
    codes, _ = resolve_country_array(_as_text_array(values))
    return _to_series(codes, values.index)


# --------------------------------------------------------------------------- prepare


def _default_code(default_country: str | None) -> str:
    if default_country is None or not default_country.strip():
        return ""
    code, reason = resolve_country(default_country)
    if not code:
        raise errors.ConfigError(f"default country: {reason}")
    return code


def _first_occurrence(keys: pa.Array, valid_at: np.ndarray) -> np.ndarray:
    """For each position in `valid_at`, the first position of `valid_at` with the same key."""
    if len(valid_at) == 0:
        return valid_at
    # Every key numbered at once (no copy of the valid ones: a 1M-row file's peak memory is
    # here), then each number's smallest valid position.
    ids = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)[valid_at]
    first = np.full(int(ids.max()) + 1, len(keys), dtype=np.int64)
    np.minimum.at(first, ids, valid_at)
    return first[ids]


def _empty_texts(count: int) -> pa.Array:
    """`count` empty strings, without building them one by one."""
    return pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(np.zeros(count + 1, dtype=np.int64)), pa.py_buffer(b"")
    )


def _invalid_messages(
    empty_name: np.ndarray, empty_country: np.ndarray, reasons: pa.Array
) -> pa.Array:
    """The message of each invalid row (rows given by the masks and non-empty reasons)."""
    messages = pc.if_else(pa.array(empty_country), _lit(MESSAGE_EMPTY_COUNTRY), reasons)
    # The API would answer ERR_101 first; a bad country on the same row is said too, so the
    # operator fixes both at once.
    with_name = pc.if_else(
        pc.equal(messages, ""),
        _lit(MESSAGE_EMPTY_NAME),
        pc.binary_join_element_wise(_lit(MESSAGE_EMPTY_NAME), messages, _lit("; ")),
    )
    return pc.if_else(pa.array(empty_name), with_name, messages)


def _duplicate_messages(first_rows: np.ndarray, here: pa.Array, there: pa.Array) -> pa.Array:
    """`same list as row 7`, plus `(country differs: FR here, DE there)` when so."""
    text = pc.binary_join_element_wise(
        _lit("same list as row "), pc.cast(pa.array(first_rows), _ARROW_TEXT), _lit("")
    )
    differs = pc.binary_join_element_wise(
        text, _lit(" (country differs: "), here, _lit(" here, "), there, _lit(" there)"), _lit("")
    )
    return pc.if_else(pc.equal(here, there), text, differs)


_OUTCOME_TOKENS = pa.array([Outcome.PLANNED, Outcome.INVALID, Outcome.DUPLICATE], _ARROW_TEXT)
_PLANNED, _INVALID, _DUPLICATE = range(3)
_CODE_TOKENS = pa.array(
    [
        "",
        CODE_EMPTY_NAME,
        CODE_EMPTY_COUNTRY,
        CODE_UNKNOWN_COUNTRY,
        LocalCode.DUPLICATE,
        LocalCode.BAD_CELL,
    ],
    _ARROW_TEXT,
)
_BAD_CELL = 5

#: The columns of a list row that must hold what their cell shows (a contact adds its phone).
REQUIRED_CELLS = ("list_name", "country")


def _cell_positions(rows: np.ndarray, cells: Sequence[CellFact]) -> dict[int, list[CellFact]]:
    """Position in the frame -> the facts about that row's cells."""
    found: dict[int, list[CellFact]] = defaultdict(list)
    if not cells or len(rows) == 0:
        return found
    at = np.searchsorted(rows, [fact.row for fact in cells])
    for position, fact in zip(at.tolist(), cells, strict=True):
        if position < len(rows) and rows[position] == fact.row:
            found[position].append(fact)
    return found


def _refuses(fact: CellFact) -> bool:
    """A cell that cannot be used, in a column the row cannot do without."""
    return not fact.usable and fact.column in REQUIRED_CELLS


def _say_cells(frame: pd.DataFrame, facts: dict[int, list[CellFact]]) -> None:
    """Each refused cell's message replaces its row's; a warning is added to the row's."""
    for position, row_facts in facts.items():
        refused = [fact.message() for fact in row_facts if _refuses(fact)]
        warned = [fact.message() for fact in row_facts if not _refuses(fact)]
        said = "" if refused else str(frame.at[position, "message"])
        frame.at[position, "message"] = "; ".join(filter(None, [*refused, said, *warned]))


def prepare(
    source: pd.DataFrame,
    *,
    default_country: str | None = None,
    cells: Sequence[CellFact] = (),
) -> pd.DataFrame:
    """Every row's plan: `planned`, or `invalid` with the API's code, or `duplicate`.

    Takes read.py's frame (`row`, `list_name`, `country`) and returns RESULT_COLUMNS plus
    `name_key`, one row per input row, in input order (index 0..n-1). The first valid row of
    a name wins; an invalid row never claims a name. `cells` are the reader's facts about
    workbook cells: one that cannot be used makes its row `invalid` with ``BAD_CELL`` and its
    message (never "empty"); a usable one adds a warning to the row's message. Raises
    errors.ConfigError when `default_country` itself is not a country.
    """
    default_code = _default_code(default_country)
    rows = np.asarray(source["row"], dtype=np.int64)
    list_names = _as_text_array(source["list_name"])
    country_cells = _as_text_array(source["country"])
    count = len(rows)

    names = _normalize_array(list_names)
    keys = _key_array(names)
    codes, reasons = resolve_country_array(country_cells)
    if default_code:
        codes = pc.if_else(pc.equal(codes, ""), _lit(default_code), codes)

    empty_name = pc.equal(names, "").to_numpy(zero_copy_only=False)
    unknown = pc.is_null(codes).to_numpy(zero_copy_only=False)
    empty_country = pc.fill_null(pc.equal(codes, ""), False).to_numpy(zero_copy_only=False)
    facts = _cell_positions(rows, cells)
    bad_cell = np.zeros(count, dtype=bool)
    bad_cell[[p for p, found in facts.items() if any(map(_refuses, found))]] = True
    valid = ~(empty_name | unknown | empty_country | bad_cell)

    outcome = np.where(valid, _PLANNED, _INVALID).astype(np.int8)
    code = np.zeros(count, dtype=np.int8)  # positions in _CODE_TOKENS
    code[unknown] = 3
    code[empty_country] = 2
    code[empty_name] = 1
    code[bad_cell] = _BAD_CELL

    invalid_at = np.flatnonzero(~valid)
    take_invalid = pa.array(invalid_at)
    invalid_texts = _invalid_messages(
        empty_name[invalid_at], empty_country[invalid_at], reasons.take(take_invalid)
    )

    valid_at = np.flatnonzero(valid)
    first = _first_occurrence(keys, valid_at)
    is_duplicate = first != valid_at
    duplicate_at, first_at = valid_at[is_duplicate], first[is_duplicate]
    outcome[duplicate_at] = _DUPLICATE
    code[duplicate_at] = 4
    duplicate_texts = _duplicate_messages(
        rows[first_at], codes.take(pa.array(duplicate_at)), codes.take(pa.array(first_at))
    )

    # Every other row's message is empty: fill in the few that are not, in row order.
    said_at = np.concatenate([invalid_at, duplicate_at])
    order = np.argsort(said_at, kind="stable")
    said = np.zeros(count, dtype=bool)
    said[said_at] = True
    messages = pc.replace_with_mask(
        _empty_texts(count),
        pa.array(said),
        pa.concat_arrays([invalid_texts, duplicate_texts]).take(pa.array(order)),
    )

    frame = pd.DataFrame(
        {
            "row": rows,
            "list_name": _to_series(list_names),
            "country": _to_series(country_cells),
            "name": _to_series(names),
            "country_code": _to_series(pc.fill_null(codes, "")),
            "outcome": _to_series(_OUTCOME_TOKENS.take(pa.array(outcome))),
            "code": _to_series(_CODE_TOKENS.take(pa.array(code))),
            "message": _to_series(messages),
            "list_contact_id": _to_series(_empty_texts(count)),
            "attempts": np.zeros(count, dtype=np.int64),
            "name_key": _to_series(keys),
        },
        columns=[*RESULT_COLUMNS, "name_key"],
    )
    _say_cells(frame, facts)
    return frame
