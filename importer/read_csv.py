"""Read a CSV file: guess its encoding and delimiter, then parse it with pyarrow.

pyarrow's reader takes the hot path; when it refuses a file, the standard csv module reads it
again record by record, to name the row at fault in the :class:`InputError`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from importer.encodings import choose_8bit
from importer.errors import InputError
from importer.quoting import brief, quote
from importer.read import (
    HEADER_SEARCH_ROWS,
    OLE_SIGNATURE,
    ZIP_SIGNATURE,
    FoundColumns,
    RawTable,
    WantedColumns,
    find_header,
    header_roles,
    is_filled,
    match_columns,
)

if TYPE_CHECKING:
    import numpy as np

    from importer.read import Cells

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: Longest line accepted in a CSV: far beyond any list name, small enough to refuse junk early.
MAX_LINE_BYTES = 1 << 20

_SNIFF_BYTES = 64 * 1024
_SNIFF_RECORDS = 50
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (ZIP_SIGNATURE, "a zip archive or an .xlsx/.ods workbook: give it its real extension"),
    (OLE_SIGNATURE, "an .xls workbook or another Office document: give it its real extension"),
)
_SEP_HINT = re.compile(rb"sep=([^\r\n\"])(?:\r\n|\n|\r)")


class _Malformed(Exception):
    """The fast CSV parser refused the file; the careful one will say why."""


def _line_of(data: bytes, offset: int) -> int:
    # Old Mac files end lines with CR alone; CRLF counts once either way.
    return max(data.count(b"\n", 0, offset), data.count(b"\r", 0, offset)) + 1


def read_csv(label: str, data: bytes, want: WantedColumns) -> RawTable:
    """The wanted columns of a CSV file, its encoding and delimiter detected."""
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
    verdict = choose_8bit(data)
    if verdict.encoding is None or verdict.text is None:
        raise InputError(
            f"{label}: text is not UTF-8, and its 8-bit encoding cannot be told for sure "
            f"({verdict.why}; first non-ASCII byte at {where}); save it again as CSV UTF-8"
        )
    return verdict.text.encode("utf-8"), verdict.encoding


def _mostly_utf8(data: bytes, high: np.ndarray) -> bool:
    """Whether most non-ASCII bytes form valid UTF-8: then the file mixes two encodings.

    A cp1252 file holds such sequences only by chance (`É’`); reading a mixed file as cp1252
    would silently garble every UTF-8 name in it. `high` holds the non-ASCII byte offsets.
    """
    sequences = len(data.decode("utf-8", errors="ignore")) - (len(data) - len(high))
    return 4 * sequences >= len(high)


def _sniff(
    label: str, text: bytes, want: WantedColumns, candidates: Sequence[str]
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
    lines = io.StringIO(sample, newline="").readlines()[: (_SNIFF_RECORDS + HEADER_SEARCH_ROWS) * 2]
    best: tuple[tuple[bool, int, float, int], str, int, list[str]] | None = None
    for order, delimiter in enumerate(candidates):
        records = list(_records(lines, delimiter))[: _SNIFF_RECORDS + HEADER_SEARCH_ROWS]
        found = find_header(records, want)
        if found is None:
            continue
        index, complete = found
        header = records[index]
        width = len(header)
        rest = [cells for cells in records[index + 1 :] if is_filled(cells)][:_SNIFF_RECORDS]
        regular = sum(len(cells) == width for cells in rest) / len(rest) if rest else 1.0
        score = (complete, sum(header_roles(header, want)), regular if width > 1 else 0.0, -order)
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


def _parse_csv(
    label: str, text: bytes, encoding: str, verified: bool, want: WantedColumns
) -> RawTable:
    candidates = DELIMITERS
    hint = _SEP_HINT.match(text)
    if hint:
        # Excel's `sep=;` first line names the delimiter and is not shown as a row.
        candidates = (hint.group(1).decode(),)
        text = text[hint.end() :]
    delimiter, header_index, header = _sniff(label, text, want, candidates)
    columns = match_columns(label, header, want)
    quoted = b'"' in text
    skip = header_index + 1
    # Without quotes every record is one line, so pyarrow can skip the lines above the header
    # itself (titles wider or narrower than the header); otherwise they are cut off after.
    skipped = 0 if quoted else skip
    try:
        if quoted and text.count(b'"') % 2:
            raise _Malformed  # an odd quote count: let the careful parser find the culprit
        names, countries = _parse_fast(
            label, text, delimiter, len(header), columns, verified=verified, skip=skipped
        )
    except _Malformed:
        if not verified:
            text.decode("utf-8")  # UnicodeDecodeError here sends the caller to _decode_whole
        names, countries = _parse_careful(label, text, delimiter, len(header), columns, skip)
        skipped = 0
    return RawTable(
        first_row=skip + 1,
        names=names[skip - skipped :],
        countries=None if countries is None else countries[skip - skipped :],
        columns=columns,
        encoding=encoding,
        delimiter=delimiter,
    )


def _parse_fast(
    label: str,
    text: bytes,
    delimiter: str,
    width: int,
    columns: FoundColumns,
    *,
    verified: bool,
    skip: int,
) -> tuple[Cells, Cells | None]:
    """pyarrow's multi-threaded reader: every record after the first `skip` lines, the header
    and blank lines included.

    `skip` is given only for a file without any double quote: there no cell can span lines,
    and pyarrow splits the work faster when told so.
    """
    quoted = skip == 0 and b'"' in text
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]
    wanted = [names[columns.name]] + ([] if columns.country is None else [names[columns.country]])
    try:
        table = pacsv.read_csv(
            pa.BufferReader(text),
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=MAX_LINE_BYTES, skip_rows=skip
            ),
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
    label: str, text: bytes, delimiter: str, width: int, columns: FoundColumns, skip: int
) -> tuple[Cells, Cells | None]:
    """The standard csv module, record by record, for files pyarrow refuses: says which row.

    Every record is returned; the first `skip` (titles above the header, and the header) are
    not held to the header's width.
    """
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
            if row > skip and len(cells) > width and any(cell.strip() for cell in cells[width:]):
                raise InputError(
                    f"{label}: row {row} has {len(cells)} cells but the header has {width}; "
                    f"a cell holding {quote(delimiter)} must be in double quotes"
                )
            name_cells.append(cells[columns.name] if columns.name < len(cells) else "")
            if columns.country is not None:
                country = cells[columns.country] if columns.country < len(cells) else ""
                country_cells.append(country)
    except csv.Error as error:
        raise InputError(f"{label}: row {row + 1}: cannot be read as CSV: {brief(error)}") from None
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
