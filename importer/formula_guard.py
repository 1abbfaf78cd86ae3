"""The formula guard of the files we write, and its inverse for the files we read back.

A cell that starts like a formula is run by spreadsheet programs (OWASP "CSV injection"), so
the results and exports write it with a `'` before it; reading a lists or contacts file, a cell
so guarded reads as it was (`unguard`), so that a results file or an export imports back
exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `--help` must start fast.
    import pandas as pd
    import pyarrow as pa

#: The first characters that make spreadsheet programs run a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A cell starting with one of `FORMULA_STARTS`.
FORMULA_PATTERN = r"^([=+\-@\t\r])"
#: A number in E.164 (ITU-T E.164: `+`, then up to 15 digits). In a workbook, where every cell
#: is stored as text in a text-formatted column, it cannot run as a formula, so it is written
#: as it is: operators copy numbers out of the results.
E164_PATTERN = r"^\+[0-9]{1,15}$"
#: A cell the guard wrote: `'` before a formula's first character.
GUARDED_PATTERN = r"^'[=+\-@\t\r]"


def neutralise_formulas(table: pa.Table, keep: str | None = None) -> pa.Table:
    """Prefix `'` to every text cell a spreadsheet would run as a formula (OWASP), except the
    cells matching the regular expression `keep` (re2 syntax)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        # Matching is cheap and most columns hold no formula-like cell: rewrite only those that do.
        if is_text and pc.any(pc.match_substring_regex(column, FORMULA_PATTERN)).as_py():
            defused = pc.replace_substring_regex(column, FORMULA_PATTERN, r"'\1")
            if keep is not None:
                kept = pc.fill_null(pc.match_substring_regex(column, keep), False)
                defused = pc.if_else(kept, column, defused)
            column = defused
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def neutralise_text(value: str) -> str:
    """`neutralise_formulas` for one string (the Summary sheet's cells)."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def unguard_array(cells: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells as they were before the guard: `'=x` reads `=x` (as Excel shows a cell typed
    `'=x`); any other cell is left as it is, and so is `cells` when no cell is guarded."""
    import pyarrow.compute as pc

    guarded = pc.fill_null(pc.match_substring_regex(cells, GUARDED_PATTERN), False)
    if not pc.any(guarded).as_py():
        return cells
    return pc.if_else(guarded, pc.utf8_slice_codeunits(cells, 1), cells)


def unguard(values: pd.Series) -> pd.Series:
    """`unguard_array` for a column of a frame."""
    import pandas as pd
    import pyarrow as pa

    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    plain = unguard_array(array)
    if plain is array:
        return values
    return pd.Series(plain.to_pylist(), index=values.index, dtype=values.dtype)
