"""Stage 1, read: turn a CSV file or a workbook sheet into rows of text.

Every cell stays the text the operator typed (``007``, ``NA``, ``2024``), and every row keeps
the number the operator sees in a spreadsheet (header = 1), so the results file points at the
right line. Anything that cannot be read becomes one :class:`InputError` line naming the file.

This module is the entry point and holds what both readers share (header matching, the
messages' helpers, the blank-row ending); :mod:`importer.read_csv` and
:mod:`importer.read_workbook` are imported only when a file of their kind is read.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from importer.cells import CellFact
from importer.errors import InputError
from importer.formula_guard import unguard_array
from importer.quoting import quote, quote_all
from importer.text import drop_invisible

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    Cells: TypeAlias = pa.Array | pa.ChunkedArray

#: Header spellings accepted for the list name, compared by :func:`header_key`.
NAME_ALIASES: tuple[str, ...] = (
    "name",
    "list",
    "list name",
    "listname",
    "listContactName",
    "list_contact_name",
    "contact list",
    "contact list name",
    "group",
    "group name",
    "nom",
    "liste",
    "nom de la liste",
    "nom liste",
    "nom de liste",
    "liste de contacts",
    "groupe",
    "nom du groupe",
    "libellé",
)
#: Header spellings accepted for the country.
COUNTRY_ALIASES: tuple[str, ...] = (
    "country",
    "country code",
    "countrycode",
    "country_code",
    "iso",
    "iso2",
    "iso code",
    "iso country code",
    "listContactCountryCode",
    "pays",
    "code pays",
    "code du pays",
    "code iso",
    "pays iso",
)

#: How many non-blank rows are searched for the header (titles and notes may stand above it).
HEADER_SEARCH_ROWS = 20

#: Read through calamine; any other file is read as delimited text.
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})

#: File signatures: a workbook's first bytes, which CSV files must not start with.
ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class SourceTable:
    """The rows read from one input file, with what was detected about it."""

    path: Path
    frame: pd.DataFrame
    """Columns ``row`` (int64, header = 1), ``list_name``, ``country``: text, "" when empty."""
    sha256: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    name_header: str
    country_header: str | None
    header_row: int
    """The sheet row of the header (1 unless titles or blank rows stand above it)."""
    cells: tuple[CellFact, ...] = ()
    """Cells of the wanted columns that are not (or may not be) what the sheet shows."""
    header: tuple[str, ...] = ()
    """Every cell of the header row, as read."""

    def parameters(self) -> dict[str, str]:
        """What was detected, for the results' parameters: encoding, header row if not 1."""
        found = {"encoding": self.encoding} if self.encoding else {}
        if self.header_row != 1:
            found["header_row"] = str(self.header_row)
        return found


class MissingColumn(InputError):
    """The header row holds no column for the required role; `header` is that row's cells,
    so a caller can say more about what it holds."""

    def __init__(self, message: str, header: Sequence[str]) -> None:
        super().__init__(message)
        self.header = tuple(header)


@dataclass(frozen=True)
class FoundColumns:
    """Where the two wanted columns sit in the header row."""

    name: int
    country: int | None
    name_header: str
    country_header: str | None
    header: tuple[str, ...] = ()


def header_key(text: str) -> str:
    """Compare headers ignoring case, spaces, accents and punctuation: `Nom de la liste`."""
    decomposed = unicodedata.normalize("NFKD", drop_invisible(text, keep_joiners=False))
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


_NAME_KEYS = frozenset(map(header_key, NAME_ALIASES))
_COUNTRY_KEYS = frozenset(map(header_key, COUNTRY_ALIASES))


def read_table(
    path: Path,
    *,
    sheet: str | None = None,
    name_column: str | None = None,
    country_column: str | None = None,
    max_rows: int = 1_000_000,
    country_required: bool = True,
    name_aliases: Sequence[str] | None = None,
    name_role: str = "list name",
    name_option: str = "--name-column",
    name_hint: str = "",
    name_digits: bool = False,
    name_test: Callable[[str], bool] | None = None,
) -> SourceTable:
    """Read the list names and countries of a CSV file or a workbook sheet, all as text.

    Another kind of file reads its required column through the same slot: `name_aliases`
    replaces the list-name headers looked for, `name_role` and `name_option` name it in
    messages (a contacts file's phone column, say). `name_hint` ends the message of a file
    without that column (what else the file may be). `name_digits`: that column holds numbers
    (phones), so a workbook's whole number is read as its digits whatever its format.
    `name_test(header)` accepts more headers for that column than `name_aliases` lists (a
    phone header recognised by its words: `Tél. portable`).
    """
    path = Path(path)
    label = str(path)
    data = _read_bytes(label, path)
    if not data:
        raise InputError(f"{label}: the file is empty (0 bytes)")
    name_keys = None if name_aliases is None else frozenset(map(header_key, name_aliases))
    want = WantedColumns(
        name_column,
        country_column,
        country_required,
        name_keys,
        name_role,
        name_option,
        name_hint,
        name_digits,
        name_test,
    )
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        from importer.read_workbook import read_workbook

        table = read_workbook(label, suffix, data, sheet, want)
    elif suffix == ".json":
        raise InputError(
            f"{label}: JSON is written, never read back (an export or a results file in JSON "
            "is one-way): export or write the results as .csv or .xlsx to import them"
        )
    else:
        if sheet is not None:
            raise InputError(
                f"{label}: --sheet {quote(sheet)} applies to workbooks (.xlsx .xlsm .xls .ods), "
                "not to a CSV file"
            )
        from importer.read_csv import read_csv

        table = read_csv(label, data, want)
    frame = _finish(label, table, max_rows)
    return SourceTable(
        path=path,
        frame=frame,
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=table.encoding,
        delimiter=table.delimiter,
        sheet=table.sheet,
        name_header=table.columns.name_header,
        country_header=table.columns.country_header,
        header_row=table.first_row - 1,
        cells=table.cells,
        header=table.columns.header,
    )


@dataclass(frozen=True)
class WantedColumns:
    """The operator's column choices, passed down to every reader."""

    name_column: str | None
    country_column: str | None
    country_required: bool
    name_keys: frozenset[str] | None = None
    name_role: str = "list name"
    name_option: str = "--name-column"
    name_hint: str = ""
    name_digits: bool = False
    name_test: Callable[[str], bool] | None = None

    @property
    def wanted_name_keys(self) -> frozenset[str]:
        """The headers the required column may have (the list name's unless replaced)."""
        return _NAME_KEYS if self.name_keys is None else self.name_keys

    def is_name(self, header: str) -> bool:
        """Whether a header can be the required column's, when the operator named none."""
        if header_key(header) in self.wanted_name_keys:
            return True
        return self.name_test is not None and self.name_test(header)


@dataclass(frozen=True)
class RawTable:
    """Cells of the wanted columns, for every record after the header (blank ones included)."""

    first_row: int  # spreadsheet row of the first record in `names`
    names: Cells
    countries: Cells | None
    columns: FoundColumns
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    cells: tuple[CellFact, ...] = ()


def _read_bytes(label: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder, not a file") from None
    except OSError as error:
        raise InputError(f"{label}: cannot be read: {error.strerror or error}") from None


# --- columns -------------------------------------------------------------------------------


def match_columns(label: str, header: Sequence[str], want: WantedColumns) -> FoundColumns:
    """Find the name and country columns by alias, or by the names the operator gave."""
    found = [(i, drop_invisible(text).strip()) for i, text in enumerate(header) if text.strip()]
    found = [(index, text) for index, text in found if text]
    shown = quote_all([text for _, text in found])
    name = _find(
        label, found, shown, want.name_column, want.is_name, want.name_role, want.name_option
    )
    if name is None:
        hint = f"; name it with {want.name_option}" if want.name_column is None else ""
        looked_for = _looked_for() if want.name_keys is None else ""
        found_text = f"columns found: {shown}{hint}{want.name_hint}{looked_for}"
        raise MissingColumn(f"{label}: no column for the {want.name_role}; {found_text}", header)
    country = _find(
        label,
        found,
        shown,
        want.country_column,
        lambda text: header_key(text) in _COUNTRY_KEYS,
        "country",
        "--country-column",
    )
    if country is None and (want.country_required or want.country_column is not None):
        hint = (
            "; name it with --country-column or give --default-country"
            if want.country_column is None
            else ""
        )
        raise InputError(
            f"{label}: no column for the country; columns found: {shown}{hint}{_looked_for()}"
        )
    if country is not None and country[0] == name[0]:
        raise InputError(
            f"{label}: column {quote(name[1])} cannot hold both the list name and the country"
        )
    return FoundColumns(
        name=name[0],
        country=None if country is None else country[0],
        name_header=name[1],
        country_header=None if country is None else country[1],
        header=tuple(header),
    )


def _looked_for() -> str:
    names = ", ".join(NAME_ALIASES[:3] + NAME_ALIASES[10:12])
    countries = ", ".join(COUNTRY_ALIASES[:2] + COUNTRY_ALIASES[9:11])
    return (
        f" (headers looked for in the first {HEADER_SEARCH_ROWS} non-blank rows: "
        f"{names}… for the name, {countries}… for the country)"
    )


def _find(
    label: str,
    found: list[tuple[int, str]],
    shown: str,
    given: str | None,
    recognised: Callable[[str], bool],
    role: str,
    option: str,
) -> tuple[int, str] | None:
    if given is not None:
        hits = [(i, text) for i, text in found if text == given.strip()]
        if not hits:
            key = header_key(given)
            hits = [(i, text) for i, text in found if header_key(text) == key]
        if not hits:
            raise InputError(
                f"{label}: no column named {quote(given)} ({option}); columns found: {shown}"
            )
    else:
        hits = [(i, text) for i, text in found if recognised(text)]
    if len(hits) > 1:
        raise InputError(
            f"{label}: {len(hits)} columns could be the {role}: "
            f"{quote_all([text for _, text in hits])}; choose one with {option}"
        )
    return hits[0] if hits else None


def header_roles(header: Sequence[str], want: WantedColumns) -> tuple[bool, bool]:
    """Whether this row offers the name column, and the country column."""
    keys = {header_key(cell) for cell in header}
    country = {header_key(want.country_column)} if want.country_column else _COUNTRY_KEYS
    if want.name_column:
        name = header_key(want.name_column) in keys
    else:
        name = any(want.is_name(cell) for cell in header if cell.strip())
    return name, bool(keys & country)


def is_filled(cells: Sequence[str]) -> bool:
    """Whether a row holds anything but blanks."""
    return any(cell.strip() for cell in cells)


def best_header(
    records: Sequence[Sequence[str]],
    roles: Callable[[Sequence[str]], Sequence[bool]],
    required: int,
) -> tuple[int, bool] | None:
    """The header's index among `records`, and whether it offers every required role.

    The one header rule for every kind of file: among the first :data:`HEADER_SEARCH_ROWS`
    non-blank rows, the header is the first row that offers every required role and, among
    those, recognises the most roles, required or optional; a row of a single cell above a
    wider row is a title, passed over when a wider row recognises as many. `roles(row)` says
    whether the row offers each role, the `required` ones first. When no row offers every
    required role, the row recognising the most stands (its missing columns are reported),
    or the first non-blank row when none recognises any. None when every row is blank.
    """
    filled = [i for i, cells in enumerate(records) if is_filled(cells)][:HEADER_SEARCH_ROWS]
    if not filled:
        return None
    widths = [sum(1 for cell in records[i] if cell.strip()) for i in filled]
    wider_below = [max(widths[at + 1 :], default=0) > 1 for at in range(len(filled))]

    def rank(at: int) -> tuple[bool, int, bool, int]:
        found = list(roles(records[filled[at]]))
        title = widths[at] == 1 and wider_below[at]
        return all(found[:required]), sum(found), not title, -at

    best = max(range(len(filled)), key=rank)
    complete, count, _, _ = rank(best)
    return (filled[best], complete) if count else (filled[0], False)


def find_header(records: Sequence[Sequence[str]], want: WantedColumns) -> tuple[int, bool] | None:
    """The header row of a list file by :func:`best_header`'s rule: the name column is
    required, and the country column too unless a default country stands in for it."""
    country_needed = want.country_required or want.country_column is not None
    return best_header(records, lambda cells: header_roles(cells, want), 2 if country_needed else 1)


# --- shared ending -------------------------------------------------------------------------


def _finish(label: str, table: RawTable, max_rows: int) -> pd.DataFrame:
    """Drop blank rows, keeping every other row's number, and refuse empty or huge files."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(table.names)
    countries = (
        table.countries
        if table.countries is not None
        else pa.repeat(pa.scalar("", pa.string()), count)
    )
    rows = pa.array(np.arange(table.first_row, table.first_row + count, dtype=np.int64))
    # A results file reads back as it was written for: `'=x` (the formula guard) is `=x`.
    names, countries = unguard_array(table.names), unguard_array(countries)
    frame = pa.table({"row": rows, "list_name": names, "country": countries})
    blank = _blank(names)
    if pc.any(blank).as_py():
        blank = pc.and_(blank, _blank(countries))
        frame = frame.filter(pc.invert(blank))
    if frame.num_rows == 0:
        raise InputError(f"{label}: no data rows: the file holds a header only")
    if frame.num_rows > max_rows:
        raise InputError(
            f"{label}: {frame.num_rows:,} rows, more than the limit of {max_rows:,} "
            "(raise it with --max-rows, or split the file)"
        )
    return frame.to_pandas()


def _blank(cells: Cells) -> Cells:
    import pyarrow.compute as pc

    return pc.or_(pc.equal(pc.binary_length(cells), 0), pc.utf8_is_space(cells))
