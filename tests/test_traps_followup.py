"""Spreadsheet traps, round 2, as a new user met them: more members of each kind.

Through the real CLI into the sandbox; each test builds its own input and asserts what was
created, and that nothing else (no title, no mojibake) reached the sandbox.
"""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from tests.conftest import read_results
from tests.test_traps import created_names
from tests.test_traps_round2 import assert_refused, parameters, results, sent, workbook

# --- the header row: the one that recognises the most columns ---------------------------------


@pytest.mark.parametrize(
    ("text", "created", "header_row"),
    [
        *[
            (f"{title}\n\nnom;pays\nA;FR\nB;DE\n", {"A": "FR", "B": "DE"}, "3")
            for title in ("Liste", "Groupe", "Name", "LISTE :")
        ],
        ("Groupe\nnom;téléphone\nA;0601\nB;0602\n", {"A": "FR", "B": "FR"}, "2"),
        ("nom\nListe\nB\n", {"Liste": "FR", "B": "FR"}, None),  # one column: no title
    ],
)
def test_a_one_word_title_is_not_the_header_with_a_default_country(
    cli, api_env, tmp_path, text, created, header_row
):
    source = tmp_path / "lists.csv"
    source.write_text(text, encoding="utf-8")
    # A phone column would make it a contacts file: the kind is pinned.
    result = cli("run", source, "--kind", "lists", "--default-country", "FR", "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == created
    assert sent(api_env) == {name.casefold() for name in created}
    assert parameters(tmp_path).get("header_row") == header_row


def test_a_workbook_title_and_the_country_column_below_it(cli, api_env, tmp_path):
    source = workbook(
        tmp_path / "lists.xlsx",
        [["Liste"], [], ["nom", "pays", "tel"], ["A", "DE"], ["B", "BE"]],
    )
    result = cli("run", source, "--kind", "lists", "--default-country", "FR", "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {"A": "DE", "B": "BE"}
    assert sent(api_env) == {"a", "b"}
    assert parameters(tmp_path)["header_row"] == "3"


@pytest.mark.parametrize(
    "title",
    ["Export;généré le;01/02/2024", '"Export; brut";généré le;01/02/2024'],
    ids=["plain", "quoted"],
)
def test_a_title_wider_than_the_header(cli, api_env, tmp_path, title):
    source = tmp_path / "lists.csv"
    source.write_text(f"{title}\n\nnom;pays\nA;FR\nB;DE\n", encoding="utf-8")
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {"A": "FR", "B": "DE"}
    assert parameters(tmp_path)["header_row"] == "3"


def test_a_data_row_wider_than_the_header_below_a_title_is_still_refused(cli, api_env, tmp_path):
    source = tmp_path / "lists.csv"
    source.write_text("Export;généré le;01/02/2024\n\nnom;pays\nA;FR\nB;DE;x\n", encoding="utf-8")
    refused = cli("run", source, "-o", "out.csv")
    assert_refused(refused, api_env, "row 5 has 3 cells but the header has 2")


# --- 8-bit encodings: decoded right or refused, never mojibake --------------------------------

DECODED = [
    ("cp850", ["Mamá", "Papá y Mamá", "Canción"], "ES"),
    ("cp850", ["Álvaro", "Ángel"], "ES"),
    ("mac_roman", ["Música", "Júlio", "Túnel"], "PT"),
    ("iso8859_15", ["Škoda"], "CZ"),
    ("iso8859_15", ["Škoda", "Promo 5€"], "FR"),
]


@pytest.mark.parametrize(("encoding", "names", "country"), DECODED)
def test_legacy_encodings_whose_windows_1252_reading_is_suspect(
    cli, api_env, tmp_path, encoding, names, country
):
    source = tmp_path / "lists.csv"
    body = "".join(f"{name},{country}\n" for name in names)
    source.write_bytes(("name,country\n" + body).encode(encoding))
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == dict.fromkeys(names, country)
    assert parameters(tmp_path)["encoding"] == encoding


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("cp850", "Papá y Mamá"),  # cp850's `á` is the byte of Windows-1252's no-break space
        ("cp1252", "Jean\u00a0Dupont"),  # ... so a French export reads `JeanáDupont` in cp850
    ],
)
def test_a_no_break_space_or_an_a_acute_alone_is_refused(cli, api_env, tmp_path, encoding, name):
    source = tmp_path / "lists.csv"
    source.write_bytes(f"name,country\n{name},ES\n".encode(encoding))
    refused = cli("run", source, "-o", "out.csv")
    assert_refused(refused, api_env, "8-bit encoding cannot be told", "save it again as CSV UTF-8")


def test_a_euro_sign_alone_is_refused_rather_than_guessed(cli, api_env, tmp_path):
    # `5€` in ISO-8859-15 is `5ñ` in cp850 and `5§` in Mac Roman: nothing settles it.
    source = tmp_path / "lists.csv"
    source.write_bytes("name,country\nPromo 5€,FR\n".encode("iso8859_15"))
    refused = cli("run", source, "-o", "out.csv")
    assert_refused(refused, api_env, "8-bit encoding cannot be told", "save it again as CSV UTF-8")


def test_a_euro_sign_from_windows_excel_is_read_as_windows_1252(cli, tmp_path):
    # Byte 0x80 is `€` in Windows-1252 only; its reading is clean, and Windows-1252 then wins.
    source = tmp_path / "eu.csv"
    source.write_bytes(b"Liste;Pays;Phone;Name\r\nPromo 5\x80;FR;06 12 34 56 78;Jean\r\n")
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 0
    (row,) = read_results(tmp_path / "out.csv")
    assert row["list_name"] == "Promo 5€" and row["outcome"] == "planned"


@pytest.mark.parametrize(
    "name",
    [
        "ÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸàâæçéèêëîïôœùûüÿ",
        "Cœur sœur Œuvre bœuf vœux manœuvre",
        "Prix\u00a0: 5\u00a0€ n°3",
    ],
)
def test_french_windows_1252_words_stay_windows_1252(cli, api_env, tmp_path, name):
    source = tmp_path / "lists.csv"
    source.write_bytes(f"nom;pays\n{name};FR\n".encode("cp1252"))
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert list(created_names(api_env)) == [" ".join(name.replace("\u00a0", " ").split())]
    assert parameters(tmp_path)["encoding"] == "cp1252"


# --- cells ------------------------------------------------------------------------------------


def test_a_formula_whose_value_is_the_empty_text_is_an_empty_name(cli, api_env, tmp_path):
    source = workbook(
        tmp_path / "lists.xlsx", [["Name", "Country"], ['=""', "FR"], ["=X1", "FR"], ["A", "DE"]]
    )
    # What Excel and LibreOffice store for `=""`: a text result that is empty. openpyxl
    # stores no result at all, which stays a formula without its computed value (row 3).
    with zipfile.ZipFile(source) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(
        b'<c r="A2"><f>""</f><v /></c>', b'<c r="A2" t="str"><f>""</f><v></v></c>'
    )
    with zipfile.ZipFile(source, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    assert (rows[2]["code"], rows[2]["message"]) == ("ERR_101", "list name is empty")
    assert rows[3]["code"] == "BAD_CELL"
    assert created_names(api_env) == {"A": "DE"}


def test_a_time_is_reported_to_the_second(cli, api_env, tmp_path):
    source = workbook(
        tmp_path / "lists.xlsx",
        [["Name", "Country"], [dt.time(9, 29, 59, 997000), "FR"]],
        {"A2": "h:mm AM/PM"},
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    assert "cell A2 holds a time (09:30:00, shown as h:mm AM/PM)" in results(tmp_path)[2]["message"]
    assert sent(api_env) == set()
