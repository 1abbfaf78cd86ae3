"""Reading input files: every cell as text, spreadsheet row numbers, one-line errors."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import random
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.cells import cell_text
from importer.errors import ExitCode, InputError
from importer.read import SourceTable, header_key, read_table
from importer.read_csv import MAX_LINE_BYTES

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good"
BAD = DATA / "bad"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((BAD / "EXPECTED.yaml").read_text("utf-8"))


Row = tuple[int, str, str]


def rows(table: SourceTable) -> list[Row]:
    frame = table.frame
    return list(zip(frame["row"].tolist(), frame["list_name"], frame["country"], strict=True))


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def input_error(path: Path, **options: Any) -> str:
    with pytest.raises(InputError) as caught:
        read_table(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --- good files ----------------------------------------------------------------------------


def test_french_excel_csv_in_cp1252() -> None:
    table = read_table(GOOD / "french_cp1252.csv")
    assert (table.encoding, table.delimiter, table.sheet) == ("cp1252", ";", None)
    assert (table.name_header, table.country_header) == ("Nom de la liste", "Pays")
    assert rows(table) == [
        (2, "Clients Île-de-France", "France"),
        (3, "Équipe Genève", "CH"),
        (5, "Marché de Noël – été", "Allemagne"),
        (6, "Prêt-à-porter œuvre", "NA"),
    ]


def test_utf8_with_bom_keeps_text_as_typed() -> None:
    table = read_table(GOOD / "utf8_bom.csv")
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert (table.name_header, table.country_header) == ("List name", "Country code")
    assert rows(table) == [
        (2, "Zürich Kunden", "ch"),
        (3, "NA", "NA"),
        (4, "None", "null"),
        (5, "007", "1e3"),
        (7, "Paris, France", "FR"),
    ]


@pytest.mark.parametrize(
    ("name", "delimiter", "expected"),
    [
        ("tab.tsv", "\t", [(2, "Smith & Co", "GB"), (3, "O'Brien", "IE")]),
        ("pipe.csv", "|", [(2, "Alpha", "FR"), (3, "Beta, Gamma", "DE")]),
    ],
)
def test_sniffed_delimiters(name: str, delimiter: str, expected: list[Row]) -> None:
    table = read_table(GOOD / name)
    assert (table.encoding, table.delimiter) == ("utf-8", delimiter)
    assert rows(table) == expected


def test_xlsx_cells_read_as_the_operator_sees_them() -> None:
    table = read_table(GOOD / "numbers.xlsx")
    assert (table.encoding, table.delimiter, table.sheet) == (None, None, "Lists")
    assert rows(table) == [
        (2, "2024", "FR"),
        (3, "007", "DE"),
        (4, "1000", "NA"),
        (6, "2024-01-15", "IT"),
        (7, "0.5", "ES"),
        (8, "TRUE", "BE"),
        (9, "  Spaced\u00a0name ", " fr "),
    ]


def test_xlsx_other_sheet_by_name_ignoring_case() -> None:
    table = read_table(GOOD / "numbers.xlsx", sheet="archive 2023")
    assert table.sheet == "Archive 2023"
    assert (table.name_header, table.country_header) == ("Liste", "Code pays")
    assert rows(table) == [(2, "Old list", "PT")]


def test_ods() -> None:
    table = read_table(GOOD / "numbers.ods")
    assert table.sheet == "Listes"
    assert rows(table) == [(2, "2024", "FR"), (3, "007", "Belgique"), (5, "2024-01-15", "NA")]


def test_frame_shape_and_types() -> None:
    frame = read_table(GOOD / "utf8_bom.csv").frame
    assert list(frame.columns) == ["row", "list_name", "country"]
    assert str(frame["row"].dtype) == "int64"
    assert frame["list_name"].dtype == "str"
    assert frame["country"].dtype == "str"
    assert not frame.isna().to_numpy().any()


@pytest.mark.parametrize("name", sorted(path.name for path in GOOD.iterdir()))
def test_sha256_is_of_the_file_bytes(name: str) -> None:
    path = GOOD / name
    assert read_table(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- CSV details ---------------------------------------------------------------------------


def test_blank_rows_dropped_without_renumbering(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "\n\nname,country\nA,FR\n\n , \n,\nB,\n,DE\n\u00a0,\t\n")
    assert rows(read_table(path)) == [(4, "A", "FR"), (8, "B", ""), (9, "", "DE")]


def test_short_rows_padded_and_empty_extra_cells_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name,country,note\nA\nB,FR,x,,\nC,DE\n")
    assert rows(read_table(path)) == [(2, "A", ""), (3, "B", "FR"), (4, "C", "DE")]


def test_quoted_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", 'name;country\n"Two\nlines";FR\n"a ""b"";c";DE\nlast;IT\n')
    assert rows(read_table(path)) == [
        (2, "Two\nlines", "FR"),
        (3, 'a "b";c', "DE"),
        (4, "last", "IT"),
    ]


def test_quote_inside_an_unquoted_cell_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", 'name,country\n17" screens,FR\n')
    assert rows(read_table(path)) == [(2, '17" screens', "FR")]


def test_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name,country\r\nA,FR\r\nB,DE")
    assert rows(read_table(path)) == [(2, "A", "FR"), (3, "B", "DE")]


def test_many_rows_match_the_csv_module(tmp_path: Path) -> None:
    """Several pyarrow blocks, quoted newlines across them, numbering from the csv module."""
    rng = random.Random(4)
    lines = ["name,country,note"]
    for i in range(60_000):
        name = f'"L{i}\n{rng.random()}"' if i % 97 == 0 else f"L{i} {rng.random()}"
        lines.append("" if i % 101 == 0 else f"{name},{rng.choice(['FR', 'NA', ''])},{'x' * 20}")
    text = "\n".join(lines) + "\n"
    path = write(tmp_path, "big.csv", text)
    expected = [
        (number, cells[0], cells[1])
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        if number > 1 and cells and (cells[0].strip() or cells[1].strip())
    ]
    assert rows(read_table(path)) == expected


def test_utf16_with_byte_order_mark(tmp_path: Path) -> None:
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated."""
    path = write(tmp_path, "l.txt", "name\tcountry\nÉté\tFR\n".encode("utf-16"))
    table = read_table(path)
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert rows(table) == [(2, "Été", "FR")]


def test_cp1252_late_in_an_ascii_file(tmp_path: Path) -> None:
    """The sample is pure ASCII; the accented rows come after it."""
    body = "".join(f"List {i},FR\n" for i in range(20_000))
    path = write(tmp_path, "l.csv", ("name,country\n" + body + "Liège,BE\n").encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "cp1252"
    assert rows(table)[-1] == (20_002, "Liège", "BE")


def test_invalid_utf8_after_the_sample(tmp_path: Path) -> None:
    body = "".join(f"Zürich {i},CH\n" for i in range(20_000)).encode()
    path = write(tmp_path, "l.csv", b"name,country\n" + body + b"Bad\x81,FR\n")
    assert "line 20002" in input_error(path)


def test_header_after_blank_lines_and_in_column_two(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", ";;\n;;\n;Nom;Pays\n;A;FR\n")
    table = read_table(path)
    assert (table.delimiter, table.name_header) == (";", "Nom")
    assert rows(table) == [(4, "A", "FR")]


def test_delimiter_follows_the_header_not_the_data(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name;country\nParis, France;FR\nLyon, Rhône;FR\n")
    table = read_table(path)
    assert table.delimiter == ";"
    assert rows(table)[0] == (2, "Paris, France", "FR")


def test_excel_sep_hint_line(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "sep=;\r\nname;country\r\nA,B;FR\r\n")
    table = read_table(path)
    assert table.delimiter == ";"
    assert rows(table) == [(2, "A,B", "FR")]


def test_name_only_file_when_country_not_required(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name\nA\n\nB\n")
    table = read_table(path, country_required=False)
    assert table.country_header is None
    assert rows(table) == [(2, "A", ""), (4, "B", "")]


def test_exactly_max_rows_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name,country\n" + "".join(f"L{i},FR\n\n" for i in range(5)))
    assert len(read_table(path, max_rows=5).frame) == 5


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name_header", "country_header"),
    [
        ("Name", "Country"),
        ("LIST NAME", "country_code"),
        ("listContactName", "listContactCountryCode"),
        ("list_contact_name", "ISO2"),
        ("Nom de la liste", "Code pays"),
        (" nom   liste ", "PAYS"),
        ("Liste", "Code ISO"),
        ("Groupe", "Country Code"),
        ("Contact list", "iso"),
        ("Libellé", "code du pays"),
    ],
)
def test_header_aliases(tmp_path: Path, name_header: str, country_header: str) -> None:
    path = write(tmp_path, "l.csv", f"id,{name_header},{country_header},,\n1,A,FR,,\n")
    table = read_table(path)
    assert (table.name_header, table.country_header) == (name_header.strip(), country_header)
    assert rows(table) == [(2, "A", "FR")]


def test_header_key_ignores_case_space_accents_punctuation() -> None:
    assert header_key(" Nom de la LISTE ") == header_key("nomdelaliste")
    assert header_key("Libellé") == header_key("LIBELLE")
    assert header_key("list_contact-name") == "listcontactname"


def test_explicit_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "Name,Group,Where,Country\nA,G,FR,DE\n")
    table = read_table(path, name_column="group", country_column="Where")
    assert (table.name_header, table.country_header) == ("Group", "Where")
    assert rows(table) == [(2, "G", "FR")]


def test_explicit_column_settles_two_candidates(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "Name,List,Country\nA,B,FR\n")
    assert rows(read_table(path, name_column="List")) == [(2, "B", "FR")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name_column": "Title"}, 'no column named "Title" (--name-column); columns found:'),
        ({"country_column": "Land"}, 'no column named "Land" (--country-column)'),
        ({"country_column": "name"}, 'column "name" cannot hold both the list name and'),
    ],
)
def test_explicit_column_errors(tmp_path: Path, options: dict[str, str], message: str) -> None:
    path = write(tmp_path, "l.csv", "name,country\nA,FR\n")
    assert message in input_error(path, **options)


def test_explicit_country_column_must_exist_even_when_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name\nA\n")
    assert "no column named" in input_error(path, country_column="pays", country_required=False)


def test_columns_found_listed_on_one_short_line(tmp_path: Path) -> None:
    header = ",".join(f"col{i}\\n" + "x" * 100 for i in range(50))
    path = write(tmp_path, "l.csv", header + "\n" + "," * 49 + "\n")
    message = input_error(path)
    assert "and 30 more" in message
    assert len(message) < 1500


# --- workbooks -----------------------------------------------------------------------------


def test_first_visible_sheet_is_the_default(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "Setup"
    hidden.sheet_state = "hidden"
    shown = book.create_sheet("Lists")
    shown.append(["name", "country"])
    shown.append(["A", "FR"])
    path = tmp_path / "l.xlsx"
    book.save(path)
    table = read_table(path)
    assert table.sheet == "Lists"
    assert rows(table) == [(2, "A", "FR")]


def test_workbook_header_below_title_rows(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["B3"] = "Nom"
    sheet["C3"] = "Pays"
    sheet["B4"] = "A"
    sheet["C4"] = "FR"
    sheet["B6"] = "B"
    path = tmp_path / "l.xlsx"
    book.save(path)
    assert rows(read_table(path)) == [(4, "A", "FR"), (6, "B", "")]


def test_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "l.xlsx"
    openpyxl.Workbook().save(path)
    assert 'sheet "Sheet" is empty' in input_error(path)


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        (2024.0, "2024"),
        (1000.0, "1000"),
        (0.5, "0.5"),
        (0.1 + 0.2, "0.3"),
        (-3.0, "-3"),
        (7, "7"),
        (True, "TRUE"),
        (False, "FALSE"),
        (dt.date(2024, 1, 15), "2024-01-15"),
        (dt.datetime(2024, 1, 15), "2024-01-15"),
        (dt.datetime(2024, 1, 15, 10, 30), "2024-01-15 10:30:00"),
        (dt.time(10, 30), "10:30:00"),
        ("007", "007"),
        (None, ""),
    ],
)
def test_cell_text(cell: object, text: str) -> None:
    assert cell_text(cell) == text


# --- hostile files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_corpus(name: str) -> None:
    expected = EXPECTED[name]
    path = BAD / name
    with pytest.raises(InputError) as caught:
        read_table(path, **expected.get("options", {}))
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected["message"] in message
    assert "\n" not in message
    assert caught.value.exit_code == ExitCode(expected["exit_code"])


def test_every_bad_file_has_an_expectation() -> None:
    on_disk = {path.name for path in BAD.iterdir() if path.name != "EXPECTED.yaml"}
    assert on_disk == set(EXPECTED)
    fixtures = [path for folder in (GOOD, BAD) for path in folder.iterdir()]
    assert all(path.stat().st_size < 10_000 for path in fixtures)


def test_missing_file(tmp_path: Path) -> None:
    assert input_error(tmp_path / "nope.csv").endswith("no such file")


def test_folder(tmp_path: Path) -> None:
    assert "is a folder" in input_error(tmp_path)


def test_50_mb_single_line(tmp_path: Path) -> None:
    path = write(tmp_path, "huge.csv", b"name,country," + b"x" * 50_000_000)
    assert f"line 1 is longer than {MAX_LINE_BYTES:,} bytes" in input_error(path)


@pytest.mark.parametrize("quote", ["", '"'])
def test_long_line_further_down(tmp_path: Path, quote: str) -> None:
    body = "".join(f"L{i},FR\n" for i in range(1000))
    long_line = f"{quote}{'y' * (2 * MAX_LINE_BYTES)}{quote},FR\n"
    path = write(tmp_path, "l.csv", "name,country\n" + body + long_line + "last,IT\n")
    assert f"line 1002 is longer than {MAX_LINE_BYTES:,} bytes" in input_error(path)


def test_zip_named_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", (GOOD / "numbers.xlsx").read_bytes())
    assert "give it its real extension" in input_error(path)


def test_zip_that_is_no_workbook(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr("word/document.xml", "<w:document/>")
    path = write(tmp_path, "l.xlsx", archive.getvalue())
    assert "not a readable .xlsx workbook (" in input_error(path)


def test_utf16_without_bom_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name,country\nA,FR\n".encode("utf-16-le"))
    assert "UTF-16" in input_error(path)


def test_bom_then_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", codecs.BOM_UTF8 + b"name,country\nCaf\xe9,FR\n")
    assert "mixes UTF-8 with another encoding" in input_error(path)


def test_cp1252_lookalike_noise_is_refused(tmp_path: Path) -> None:
    allowed = [b for b in range(1, 256) if b not in b"\n\x81\x8d\x8f\x90\x9d"]
    rng = random.Random(1)
    noise = bytes(rng.choice(allowed) for _ in range(3000))
    path = write(tmp_path, "l.csv", b"name,country\n" + noise + b",FR\n")
    assert "8-bit encoding cannot be told for sure" in input_error(path)


def test_too_many_rows_counts_non_blank_rows_only(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", "name,country\n" + "".join(f"L{i},FR\n" for i in range(11)))
    assert "11 rows, more than the limit of 10" in input_error(path, max_rows=10)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.sampled_from([b"", b"name,country\n", b"Nom;Pays\r\n", codecs.BOM_UTF8]),
    body=st.binary(max_size=300)
    | st.text(alphabet=st.sampled_from(list('ab,;"\t|\n\r é\x00')), max_size=200).map(str.encode),
)
def test_any_bytes_give_rows_or_one_line(tmp_path: Path, header: bytes, body: bytes) -> None:
    path = write(tmp_path, "any.csv", header + body)
    try:
        table = read_table(path, country_required=False)
    except InputError as error:
        assert "\n" not in str(error)
        assert str(error).startswith(f"{path}: ")
    else:
        assert len(table.frame) > 0
        assert table.frame["row"].is_monotonic_increasing
        assert (table.frame["row"] >= 2).all()
