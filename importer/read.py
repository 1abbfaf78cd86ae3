"""Stage 1, read: turn a CSV file or a workbook sheet into rows of text.

Every cell stays the text the operator typed (``007``, ``NA``, ``2024``), and every row keeps
the number the operator sees in a spreadsheet (header = 1), so the results file points at the
right line. Anything that cannot be read becomes one :class:`InputError` line naming the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from importer.errors import InputError

if TYPE_CHECKING:
    import numpy as np
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

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: Longest line accepted in a CSV: far beyond any list name, small enough to refuse junk early.
MAX_LINE_BYTES = 1 << 20
#: Read through calamine; any other file is read as delimited text.
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})

_SNIFF_BYTES = 64 * 1024
_SNIFF_RECORDS = 50
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (_ZIP, "a zip archive or an .xlsx/.ods workbook: give it its real extension"),
    (_OLE, "an .xls workbook or another Office document: give it its real extension"),
)
_SEP_HINT = re.compile(rb"sep=([^\r\n\"])(?:\r\n|\n|\r)")


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


@dataclass(frozen=True)
class _Columns:
    """Where the two wanted columns sit in the header row."""

    name: int
    country: int | None
    name_header: str
    country_header: str | None


class _Malformed(Exception):
    """The fast CSV parser refused the file; the careful one will say why."""


def header_key(text: str) -> str:
    """Compare headers ignoring case, spaces, accents and punctuation: `Nom de la liste`."""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in decomposed if ch.isalnum())


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
) -> SourceTable:
    """Read the list names and countries of a CSV file or a workbook sheet, all as text."""
    path = Path(path)
    label = str(path)
    data = _read_bytes(label, path)
    if not data:
        raise InputError(f"{label}: the file is empty (0 bytes)")
    want = _Wanted(name_column, country_column, country_required)
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        table = _read_workbook(label, suffix, data, sheet, want)
    else:
        if sheet is not None:
            raise InputError(
                f"{label}: --sheet {_show(sheet)} applies to workbooks (.xlsx .xlsm .xls .ods), "
                "not to a CSV file"
            )
        table = _read_csv(label, data, want)
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
    )


@dataclass(frozen=True)
class _Wanted:
    """The operator's column choices, passed down to every reader."""

    name_column: str | None
    country_column: str | None
    country_required: bool


@dataclass(frozen=True)
class _Table:
    """Cells of the wanted columns, for every record after the header (blank ones included)."""

    first_row: int  # spreadsheet row of the first record in `names`
    names: Cells
    countries: Cells | None
    columns: _Columns
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def _read_bytes(label: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder, not a file") from None
    except OSError as error:
        raise InputError(f"{label}: cannot be read: {error.strerror or error}") from None


def _show(text: str, limit: int = 40) -> str:
    """A header or sheet name quoted on one line, cut short: hostile files have huge cells."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def _brief(error: BaseException) -> str:
    """Another library's message, kept to one short line."""
    return " ".join(str(error).split())[:200]


def _show_all(texts: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(_show(text) for text in texts[:limit])
    if len(texts) > limit:
        shown += f" and {len(texts) - limit} more"
    return shown or "none"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# --- columns -------------------------------------------------------------------------------


def _match_columns(label: str, header: Sequence[str], want: _Wanted) -> _Columns:
    """Find the name and country columns by alias, or by the names the operator gave."""
    found = [(index, text.strip()) for index, text in enumerate(header) if text.strip()]
    shown = _show_all([text for _, text in found])
    name = _find(label, found, shown, want.name_column, _NAME_KEYS, "list name", "--name-column")
    if name is None:
        hint = "; name it with --name-column" if want.name_column is None else ""
        raise InputError(f"{label}: no column for the list name; columns found: {shown}{hint}")
    country = _find(
        label, found, shown, want.country_column, _COUNTRY_KEYS, "country", "--country-column"
    )
    if country is None and (want.country_required or want.country_column is not None):
        hint = (
            "; name it with --country-column or give --default-country"
            if want.country_column is None
            else ""
        )
        raise InputError(f"{label}: no column for the country; columns found: {shown}{hint}")
    if country is not None and country[0] == name[0]:
        raise InputError(
            f"{label}: column {_show(name[1])} cannot hold both the list name and the country"
        )
    return _Columns(
        name=name[0],
        country=None if country is None else country[0],
        name_header=name[1],
        country_header=None if country is None else country[1],
    )


def _find(
    label: str,
    found: list[tuple[int, str]],
    shown: str,
    given: str | None,
    aliases: frozenset[str],
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
                f"{label}: no column named {_show(given)} ({option}); columns found: {shown}"
            )
    else:
        hits = [(i, text) for i, text in found if header_key(text) in aliases]
    if len(hits) > 1:
        raise InputError(
            f"{label}: {len(hits)} columns could be the {role}: "
            f"{_show_all([text for _, text in hits])}; choose one with {option}"
        )
    return hits[0] if hits else None


# --- CSV -----------------------------------------------------------------------------------


def _read_csv(label: str, data: bytes, want: _Wanted) -> _Table:
    _refuse_binary(label, data)
    text, encoding, verified = _guess_text(label, data)
    try:
        return _parse_csv(label, text, encoding, verified, want)
    except UnicodeDecodeError:
        # The sample looked like UTF-8 but the whole file is not: decide on all of it.
        text, encoding = _decode_whole(label, data)
        return _parse_csv(label, text, encoding, True, want)


def _refuse_binary(label: str, data: bytes) -> None:
    if data.startswith(_UTF16_BOMS):
        return
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            raise InputError(f"{label}: not a CSV file: it looks like {kind}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{label}: not a CSV file: it contains NUL bytes (line {_line_of(data, nul)}); "
            "it is binary, or UTF-16 text without a byte-order mark"
        )


def _guess_text(label: str, data: bytes) -> tuple[bytes, str, bool]:
    """UTF-8 bytes of the file, its encoding, and whether the whole file was checked.

    Only a sample is checked when it looks like UTF-8: the parser validates the rest for free.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :], "utf-8-sig", False
    if not data.startswith(_UTF16_BOMS):
        try:
            data[:_SNIFF_BYTES].decode("utf-8")
            return data, "utf-8", False
        except UnicodeDecodeError as error:
            if error.reason == "unexpected end of data" and len(data) > _SNIFF_BYTES:
                return data, "utf-8", False
    text, encoding = _decode_whole(label, data)
    return text, encoding, True


def _decode_whole(label: str, data: bytes) -> tuple[bytes, str]:
    """Decide the encoding on the whole file, and return it as UTF-8 bytes."""
    import numpy as np

    if data.startswith(_UTF16_BOMS):
        try:
            decoded = data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{label}: starts with a UTF-16 mark but is not UTF-16 text") from None
        if "\x00" in decoded:
            raise InputError(f"{label}: not a CSV file: it contains NUL characters")
        return decoded.encode("utf-8"), "utf-16"
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    body = data[3:] if encoding == "utf-8-sig" else data
    try:
        body.decode("utf-8")
        return body, encoding
    except UnicodeDecodeError as error:
        bad = error.start + len(data) - len(body)
    where = f"line {_line_of(data, bad)}, byte 0x{data[bad]:02x}"
    high = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) >= 0x80)
    if encoding == "utf-8-sig" or _mostly_utf8(data, high):
        raise InputError(
            f"{label}: mixes UTF-8 with another encoding (first bad byte at {where}); "
            "save it again as CSV UTF-8"
        )
    try:
        decoded = data.decode("cp1252")
    except UnicodeDecodeError as error:
        where = f"line {_line_of(data, error.start)}, byte 0x{data[error.start]:02x}"
        raise InputError(
            f"{label}: text is neither UTF-8 nor Windows-1252 (at {where}); "
            "save it again as CSV UTF-8"
        ) from None
    if not _plausible_cp1252(data, high):
        raise InputError(
            f"{label}: text is not UTF-8 and does not read as Windows-1252 either "
            f"(first odd byte at {where}); save it again as CSV UTF-8"
        )
    return decoded.encode("utf-8"), "cp1252"


def _mostly_utf8(data: bytes, high: np.ndarray) -> bool:
    """Whether most non-ASCII bytes form valid UTF-8: then the file mixes two encodings.

    A cp1252 file holds such sequences only by chance (`É’`); reading a mixed file as cp1252
    would silently garble every UTF-8 name in it. `high` holds the non-ASCII byte offsets.
    """
    sequences = len(data.decode("utf-8", errors="ignore")) - (len(data) - len(high))
    return 4 * sequences >= len(high)


def _plausible_cp1252(data: bytes, high: np.ndarray) -> bool:
    """Ask charset-normalizer whether the first lines holding non-ASCII bytes read as cp1252."""
    import charset_normalizer
    import numpy as np

    lines: list[bytes] = []
    index = size = 0
    while index < len(high) and size < _SNIFF_BYTES:
        offset = int(high[index])
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end
        lines.append(data[data.rfind(b"\n", 0, offset) + 1 : end])
        size += len(lines[-1])
        index = int(np.searchsorted(high, end))
    sample = b"\n".join(lines)[:_SNIFF_BYTES]
    return charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"]).best() is not None


def _sniff(
    label: str, text: bytes, want: _Wanted, candidates: Sequence[str]
) -> tuple[str, int, list[str]]:
    """The delimiter, the header's record index and its cells, from the first lines."""
    end = min(len(text), _SNIFF_BYTES)
    if end < len(text):
        newline = max(text.rfind(b"\n", 0, end), text.rfind(b"\r", 0, end))
        if newline < 0:
            newline = text.find(b"\n", 0, MAX_LINE_BYTES + 1)
            if newline < 0:
                raise InputError(
                    f"{label}: line 1 is longer than {MAX_LINE_BYTES:,} bytes: not a list file"
                )
        end = newline + 1
    sample = text[:end].decode("utf-8", errors="replace")
    lines = io.StringIO(sample, newline="").readlines()[: _SNIFF_RECORDS * 2]
    best: tuple[tuple[int, float, int], str, int, list[str]] | None = None
    for order, delimiter in enumerate(candidates):
        records = list(_records(lines, delimiter))[:_SNIFF_RECORDS]
        filled = [(i, cells) for i, cells in enumerate(records) if any(c.strip() for c in cells)]
        if not filled:
            continue
        index, header = filled[0]
        width = len(header)
        rest = [cells for _, cells in filled[1:]]
        regular = sum(len(cells) == width for cells in rest) / len(rest) if rest else 1.0
        roles = _roles(header, want)
        score = (roles, regular if width > 1 else 0.0, -order)
        if best is None or score > best[0]:
            best = (score, delimiter, index, header)
    if best is None:
        raise InputError(f"{label}: no header row: the file holds only blank lines")
    return best[1], best[2], best[3]


def _records(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:
        return []


def _roles(header: Sequence[str], want: _Wanted) -> int:
    """How many of the two wanted columns this header row offers."""
    keys = {header_key(cell) for cell in header}
    wanted = [
        {header_key(want.name_column)} if want.name_column else _NAME_KEYS,
        {header_key(want.country_column)} if want.country_column else _COUNTRY_KEYS,
    ]
    return sum(bool(keys & role) for role in wanted)


def _parse_csv(label: str, text: bytes, encoding: str, verified: bool, want: _Wanted) -> _Table:
    candidates = DELIMITERS
    hint = _SEP_HINT.match(text)
    if hint:
        # Excel's `sep=;` first line names the delimiter and is not shown as a row.
        candidates = (hint.group(1).decode(),)
        text = text[hint.end() :]
    delimiter, header_index, header = _sniff(label, text, want, candidates)
    columns = _match_columns(label, header, want)
    quoted = b'"' in text
    try:
        if quoted and text.count(b'"') % 2:
            raise _Malformed  # an odd quote count: let the careful parser find the culprit
        names, countries = _parse_fast(
            label, text, delimiter, len(header), columns, verified=verified, quoted=quoted
        )
    except _Malformed:
        if not verified:
            text.decode("utf-8")  # UnicodeDecodeError here sends the caller to _decode_whole
        names, countries = _parse_careful(label, text, delimiter, len(header), columns)
    skip = header_index + 1
    return _Table(
        first_row=skip + 1,
        names=names[skip:],
        countries=None if countries is None else countries[skip:],
        columns=columns,
        encoding=encoding,
        delimiter=delimiter,
    )


def _parse_fast(
    label: str,
    text: bytes,
    delimiter: str,
    width: int,
    columns: _Columns,
    *,
    verified: bool,
    quoted: bool,
) -> tuple[Cells, Cells | None]:
    """pyarrow's multi-threaded reader: every record, header and blank lines included.

    Without any double quote in the file no cell can span lines, and pyarrow splits the work
    faster when told so.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]
    wanted = [names[columns.name]] + ([] if columns.country is None else [names[columns.country]])
    try:
        table = pacsv.read_csv(
            pa.BufferReader(text),
            read_options=pacsv.ReadOptions(column_names=names, block_size=MAX_LINE_BYTES),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=quoted, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(wanted, pa.string()),
                include_columns=wanted,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=not verified,
            ),
        )
    except pa.ArrowException as error:
        if "straddl" in str(error):
            _refuse_long_lines(label, text)
        if "UTF8" in str(error):
            raise UnicodeDecodeError("utf-8", b"", 0, 1, str(error)) from None
        raise _Malformed from error
    name_cells = table.column(0)
    country_cells = None if columns.country is None else table.column(1)
    return name_cells, country_cells


def _refuse_long_lines(label: str, text: bytes) -> None:
    import numpy as np

    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord("\n"))
    bounds = np.concatenate(([-1], ends, [len(text)]))
    lengths = np.diff(bounds) - 1
    longest = int(lengths.argmax())
    if lengths[longest] > MAX_LINE_BYTES:
        raise InputError(
            f"{label}: line {longest + 1} is longer than {MAX_LINE_BYTES:,} bytes: "
            "not a list file, or a quote left open"
        )


def _parse_careful(
    label: str, text: bytes, delimiter: str, width: int, columns: _Columns
) -> tuple[Cells, Cells | None]:
    """The standard csv module, record by record, for files pyarrow refuses: says which row."""
    import pyarrow as pa

    _refuse_long_lines(label, text)
    lines = io.StringIO(text.decode("utf-8"), newline="").readlines()
    reader = csv.reader(lines, delimiter=delimiter)
    name_cells: list[str] = []
    country_cells: list[str] = []
    last_start = consumed = row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            last_start, consumed = consumed, reader.line_num
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                raise InputError(
                    f"{label}: row {row} has {len(cells)} cells but the header has {width}; "
                    f"a cell holding {_show(delimiter)} must be in double quotes"
                )
            name_cells.append(cells[columns.name] if columns.name < len(cells) else "")
            if columns.country is not None:
                country = cells[columns.country] if columns.country < len(cells) else ""
                country_cells.append(country)
    except csv.Error as error:
        raise InputError(
            f"{label}: row {row + 1}: cannot be read as CSV: {_brief(error)}"
        ) from None
    try:
        list(csv.reader(lines[last_start:], delimiter=delimiter, strict=True))
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise InputError(
                f"{label}: row {row}: a double quote opens a cell that is never closed "
                "(unbalanced quotes)"
            ) from None
    return pa.array(name_cells, pa.string()), (
        None if columns.country is None else pa.array(country_cells, pa.string())
    )


# --- workbooks -----------------------------------------------------------------------------


def _read_workbook(
    label: str, suffix: str, data: bytes, sheet: str | None, want: _Wanted
) -> _Table:
    import pyarrow as pa
    import python_calamine

    _check_workbook_bytes(label, suffix, data)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise InputError(f"{label}: the workbook is password-protected") from None
    except Exception as error:  # calamine raises several kinds for damaged files
        raise InputError(f"{label}: not a readable {suffix} workbook ({_brief(error)})") from None
    with workbook:
        chosen = _choose_sheet(label, workbook, sheet)
        try:
            grid = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        except Exception as error:
            raise InputError(
                f"{label}: sheet {_show(chosen)} cannot be read ({_brief(error)})"
            ) from None
    header_index = next(
        (i for i, cells in enumerate(grid) if any(_is_filled(cell) for cell in cells)), None
    )
    if header_index is None:
        raise InputError(f"{label}: sheet {_show(chosen)} is empty")
    header = [cell_text(cell) for cell in grid[header_index]]
    columns = _match_columns(label, header, want)
    body = grid[header_index + 1 :]
    names = pa.array(_column_text(body, columns.name), pa.string())
    countries = (
        None
        if columns.country is None
        else pa.array(_column_text(body, columns.country), pa.string())
    )
    return _Table(
        first_row=header_index + 2,
        names=names,
        countries=countries,
        columns=columns,
        sheet=chosen,
    )


def _check_workbook_bytes(label: str, suffix: str, data: bytes) -> None:
    """Say what the file really is when its content does not match its extension."""
    if data.startswith((_ZIP, _OLE)):
        if suffix != ".xls" and data.startswith(_OLE):
            raise InputError(
                f"{label}: not a {suffix} workbook: it is an old .xls workbook, "
                "or the workbook is password-protected"
            )
        return
    head = data[:4096]
    if head.lstrip().startswith(b"<"):
        raise InputError(
            f"{label}: not a {suffix} workbook: it is an HTML or XML page; "
            "open it in a spreadsheet program and save it as .xlsx"
        )
    if b"\x00" not in head and _is_text(head):
        raise InputError(f"{label}: not a {suffix} workbook: it is a text file; rename it .csv")
    raise InputError(f"{label}: not a {suffix} workbook: the file is damaged or of another kind")


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:
            return False
    return True


def _choose_sheet(label: str, workbook: Any, sheet: str | None) -> str:
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    names: list[str] = list(workbook.sheet_names)
    if sheet is None:
        visible = [
            meta.name
            for meta in workbook.sheets_metadata
            if meta.visible == SheetVisibleEnum.Visible and meta.typ == SheetTypeEnum.WorkSheet
        ]
        if not names:
            raise InputError(f"{label}: the workbook has no sheets")
        return visible[0] if visible else names[0]
    if sheet in names:
        return sheet
    loose = [name for name in names if name.strip().casefold() == sheet.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    raise InputError(f"{label}: no sheet named {_show(sheet)}; sheets: {_show_all(names)}")


def _is_filled(cell: object) -> bool:
    return not isinstance(cell, str) or bool(cell.strip())


def _column_text(body: list[list[Any]], index: int) -> list[str]:
    # calamine hands over Python objects: one pass per column is the vector operation here.
    return [
        cell if type(cell) is str else cell_text(cell)
        for cell in (cells[index] if index < len(cells) else "" for cells in body)
    ]


def cell_text(cell: object) -> str:
    """A workbook cell as the operator reads it: 2024 not 2024.0, dates in ISO form."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        # 15 significant digits is what a spreadsheet shows: 0.1+0.2 reads 0.3.
        return format(cell, ".15g")
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time():
            return cell.date().isoformat()
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    if cell is None:
        return ""
    return str(cell)


# --- shared ending -------------------------------------------------------------------------


def _finish(label: str, table: _Table, max_rows: int) -> pd.DataFrame:
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
    frame = pa.table({"row": rows, "list_name": table.names, "country": countries})
    blank = _blank(table.names)
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
