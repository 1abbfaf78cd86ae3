"""Spreadsheet traps, round 2, end to end through the real CLI into the sandbox.

One test per kind of trap: a reported file (tests/data/traps) and at least one other member of
the kind made here. Each asserts the names, codes and outcomes, and that nothing invalid
reached the sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import ROOT, read_results
from tests.data.make_fixtures import ods_number, ods_text, write_ods_rows
from tests.test_traps import created_names

TRAPS = ROOT / "tests" / "data" / "traps"

#: Every French letter with a diacritic, small and capital, in words as people write them.
FRENCH = [
    ("Pâtisserie à Noël", "FR"),
    ("Garçon élève fête", "FR"),
    ("Maïs naïf île", "FR"),
    ("Hôtel cœur où août", "FR"),
    ("Capharnaüm ambiguë", "BE"),
    ("L'Haÿ-les-Roses ex æquo", "FR"),
    ("Équipe Ève Èze", "CH"),
]
FRENCH_CAPITALS = [(f"PROSPECTS {name.upper()}", country) for name, country in FRENCH]


def assert_refused(result, sandbox, *phrases: str) -> None:
    """One line, exit code 2, saying each phrase, and not one request sent."""
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert all(phrase in result.stderr for phrase in phrases), result.stderr
    assert sandbox.stats.requests_total == 0


def sent(sandbox) -> set[str]:
    """Every name a create request carried (casefolded), whatever the answer."""
    return set(sandbox.stats.create_requests)


def results(tmp_path: Path, name: str = "out.csv") -> dict[int, dict[str, str]]:
    return {int(row["row"]): row for row in read_results(tmp_path / name)}


def parameters(tmp_path: Path) -> dict[str, str]:
    return json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["summary"]["parameters"]


def workbook(path: Path, rows: list[list[object]], formats: dict[str, str] | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for address, number_format in (formats or {}).items():
        sheet[address].number_format = number_format
    book.save(path)
    return path


# --- 1. legacy 8-bit encodings ---------------------------------------------------------------


def test_mac_roman_with_cr_line_ends_is_read_right(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f03_mac_roman_cr.csv", "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {
        "Équipe Nîmes": "FR",
        "Clients Köln": "DE",
        "Abonnés Zürich": "CH",
    }
    assert parameters(tmp_path)["encoding"] == "mac_roman"


@pytest.mark.parametrize("encoding", ["cp850", "iso8859_15", "mac_roman"])
def test_other_8bit_encodings_are_read_right(cli, api_env, tmp_path, encoding):
    text = "Nom;Pays\r\nCafé Müller;DE\r\nCœur de Genève;CH\r\nÉté à Nîmes;FR\r\n"
    if encoding == "cp850":  # no œ in DOS cp850
        text = text.replace("Cœur", "Chœur").replace("œ", "oe")
    source = tmp_path / "lists.csv"
    source.write_bytes(text.encode(encoding))
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    expected = [line.split(";") for line in text.splitlines()[1:]]
    assert created_names(api_env) == dict(expected)
    assert parameters(tmp_path)["encoding"] == encoding


def test_a_french_cp1252_export_with_every_accent_stays_cp1252(cli, api_env, tmp_path):
    rows = FRENCH + FRENCH_CAPITALS
    source = tmp_path / "export.csv"
    body = "".join(f"{name};{country}\r\n" for name, country in rows)
    source.write_bytes(("Nom de la liste;Pays\r\n" + body).encode("cp1252"))
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == dict(rows)
    assert parameters(tmp_path)["encoding"] == "cp1252"


def test_an_encoding_the_evidence_cannot_settle_is_refused_in_one_line(cli, api_env, tmp_path):
    # `Košice` in Windows-1252 reads `Koöice` in Mac Roman: both are plausible words.
    source = tmp_path / "lists.csv"
    source.write_bytes("name,country\nKošice,SK\n".encode("cp1252"))
    refused = cli("run", source, "-o", "out.csv")
    assert_refused(refused, api_env, "8-bit encoding cannot be told", "save it again as CSV UTF-8")


# --- 2. the header below titles ----------------------------------------------------------------


def test_title_rows_above_the_header_of_a_workbook(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f04_title_rows_above_header.xlsx", "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert "header on row 3" in result.stderr
    assert created_names(api_env) == {"Clients Marseille": "FR", "Prospects Liège": "BE"}
    assert sent(api_env) == {"clients marseille", "prospects liège"}
    rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["rows"]
    assert [row["row"] for row in rows] == [4, 5]
    assert parameters(tmp_path)["header_row"] == "3"


def test_title_notes_and_blank_lines_above_a_csv_header(cli, api_env, tmp_path):
    source = tmp_path / "export.csv"
    source.write_text(
        "Export des listes;;\n;;\nGénéré le 1er mars 2024\n\nNom;Pays;Note\n"
        "Clients Lyon;FR;\n;;\nClients Gand;BE;x\n",
        encoding="utf-8",
    )
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {"Clients Lyon": "FR", "Clients Gand": "BE"}
    assert sent(api_env) == {"clients lyon", "clients gand"}
    rows = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["rows"]
    assert [row["row"] for row in rows] == [6, 8]
    assert parameters(tmp_path)["header_row"] == "5"


def test_a_header_on_the_first_row_is_not_mentioned(cli, api_env, tmp_path):
    source = tmp_path / "lists.csv"
    source.write_text("name,country\nA,FR\n", encoding="utf-8")
    result = cli("run", source, "-o", "out.json")
    assert result.exit_code == 0, result.stderr
    assert "header on row" not in result.stderr
    assert "header_row" not in parameters(tmp_path)
    assert parameters(tmp_path)["encoding"] == "utf-8"


def test_a_header_found_by_the_given_column_names_below_a_title(cli, api_env, tmp_path):
    source = workbook(
        tmp_path / "lists.xlsx",
        [["Listes à créer"], [], ["Libellé groupe", "Zone"], ["Alpha", "FR"]],
    )
    result = cli(
        "run",
        source,
        "-o",
        "out.json",
        "--name-column",
        "Libellé groupe",
        "--country-column",
        "Zone",
    )
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {"Alpha": "FR"}


def test_no_header_within_the_first_rows_gives_one_line(cli, api_env, tmp_path):
    source = tmp_path / "lists.csv"
    source.write_text("".join(f"note {i}\n" for i in range(25)) + "name,country\nA,FR\n")
    refused = cli("run", source, "-o", "out.csv")
    assert_refused(
        refused, api_env, "no column for the list name", "in the first 20 non-blank rows"
    )


# --- 3. cells that are not what they show -----------------------------------------------------


def test_formulas_without_a_computed_value(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f10_formula_without_cached_value.xlsx", "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    for row, cell in ((2, "B2"), (3, "A3")):
        assert (rows[row]["outcome"], rows[row]["code"]) == ("invalid", "BAD_CELL")
        assert f"cell {cell} holds a formula with no computed value" in rows[row]["message"]
        assert "Excel or LibreOffice" in rows[row]["message"]
        assert "empty" not in rows[row]["message"]
    assert created_names(api_env) == {"Clients Gand": "BE"}
    assert sent(api_env) == {"clients gand"}


def test_error_cells_and_a_new_formula(cli, api_env, tmp_path):
    source = tmp_path / "lists.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Country"])
    sheet.append(["#N/A", "FR"])
    sheet.append(["Good", "#REF!"])
    sheet.append(['=UPPER("lille")', "FR"])  # openpyxl saves no computed value
    sheet.append(["Kept", "DE"])
    sheet["A2"].data_type = "e"
    sheet["B3"].data_type = "e"
    book.save(source)
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    assert rows[2]["message"].startswith("cell A2 holds the error #N/A: fix the formula")
    assert rows[3]["message"].startswith("cell B3 holds the error #REF!")
    assert "cell A4 holds a formula with no computed value" in rows[4]["message"]
    assert {rows[r]["code"] for r in (2, 3, 4)} == {"BAD_CELL"}
    assert created_names(api_env) == {"Kept": "DE"}
    assert sent(api_env) == {"kept"}


def test_list_names_stored_as_dates(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f21_list_names_stored_as_dates.xlsx", "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    for row in (2, 3, 4):
        assert (rows[row]["outcome"], rows[row]["code"]) == ("invalid", "BAD_CELL")
        assert f"cell A{row} holds a date" in rows[row]["message"]
        assert "format the column as text" in rows[row]["message"]
    assert created_names(api_env) == {"Newsletter": "FR"}
    assert sent(api_env) == {"newsletter"}


def test_percentages_times_and_formatted_numbers(cli, api_env, tmp_path):
    source = workbook(
        tmp_path / "lists.xlsx",
        [
            ["Name", "Country"],
            [0.12, "FR"],  # 12%: derivable
            [0.125, "DE"],  # 12.5%: the decimal mark depends on the reader's locale
            [dt.time(9, 30), "BE"],
            [75, "CH"],  # 00075: zero-padded
            [1234.5, "IT"],  # 1,234.50 or 1 234,50
            [dt.date(2024, 1, 2), "ES"],  # Excel's 1/2
            [dt.date(2024, 1, 15), "PT"],  # shown as 2024-01-15 whatever the locale
        ],
        {
            "A2": "0%",
            "A3": "0.0%",
            "A4": "h:mm",
            "A5": "00000",
            "A6": "#,##0.00",
            "A7": "m/d",
            "A8": "yyyy-mm-dd",
        },
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    assert created_names(api_env) == {"12%": "FR", "00075": "CH", "2024-01-15": "PT"}
    assert sent(api_env) == {"12%", "00075", "2024-01-15"}
    rows = results(tmp_path)
    assert "cell A3 holds a number shown with the format 0.0%" in rows[3]["message"]
    assert "cell A4 holds a time" in rows[4]["message"]
    assert "cell A6 holds a number shown with the format #,##0.00" in rows[6]["message"]
    assert "cell A7 holds a date" in rows[7]["message"]
    assert {rows[r]["code"] for r in (3, 4, 6, 7)} == {"BAD_CELL"}


def test_ods_errors_formulas_and_the_text_a_number_shows(cli, api_env, tmp_path):
    error = (
        '<table:table-cell table:formula="of:=1/0" office:value-type="float" office:value="0"'
        ' calcext:value-type="error"><text:p>#DIV/0!</text:p></table:table-cell>'
    )
    lost = '<table:table-cell table:formula="of:=UPPER(&quot;lille&quot;)"/>'
    source = tmp_path / "lists.ods"
    write_ods_rows(
        source,
        [
            ods_text("Nom") + ods_text("Pays"),
            error + ods_text("FR"),
            lost + ods_text("FR"),
            ods_number("0.12", "12%", kind="percentage") + ods_text("FR"),
            ods_number("1234.5", "1 234,50 €", kind="currency") + ods_text("BE"),
        ],
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    assert rows[2]["message"].startswith("cell A2 holds the error #DIV/0!")
    assert rows[3]["message"].startswith("cell A3 holds a formula with no computed value")
    assert {rows[2]["code"], rows[3]["code"]} == {"BAD_CELL"}
    assert created_names(api_env) == {"12%": "FR", "1 234,50 €": "BE"}
    assert sent(api_env) == {"12%", "1 234,50 €"}


# --- 4. invisible characters -------------------------------------------------------------------


def test_no_break_and_zero_width_spaces_in_headers_and_values(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f15_nbsp_zero_width_header_and_values.csv", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {"Clients Paris": "FR", "VIP": "BE", "Prospects Lyon": "FR"}
    assert sent(api_env) == {"clients paris", "vip", "prospects lyon"}
    rows = results(tmp_path)
    assert (rows[3]["outcome"], rows[3]["message"]) == ("duplicate", "same list as row 2")


def test_other_invisible_characters_and_the_joiners_that_stay(cli, api_env, tmp_path):
    source = tmp_path / "lists.csv"
    source.write_text(
        "\u2060Nom\u00ad,Pa\u200bys\n"
        "Soldes\u2060 été,\u200eFR\n"
        "Sol\u00addes été,FR\n"  # the same list: a soft hyphen is invisible
        "\ufeffRéseau\u200f,F\u200dR\n"
        "Équipe 👩\u200d💻,FR\n"  # the joiner makes one emoji: kept
        "می\u200cخواهم,IR\n"  # the non-joiner is part of the Persian word: kept
        "Fin\u200d,DE\n",  # a joiner at the end joins nothing: removed
        encoding="utf-8",
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {
        "Soldes été": "FR",
        "Réseau": "FR",
        "Équipe 👩\u200d💻": "FR",
        "می\u200cخواهم": "IR",
        "Fin": "DE",
    }
    assert len(api_env.stats.create_requests) == 5  # the duplicate was not sent
    assert results(tmp_path)[3]["outcome"] == "duplicate"


# --- 5. EL and XK ------------------------------------------------------------------------------


def test_el_is_greece_and_kosovo_is_no_iso_country(cli, api_env, tmp_path):
    result = cli("run", TRAPS / "f20_uk_el_xk_codes.csv", "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    rows = results(tmp_path)
    assert (rows[5]["country_code"], rows[5]["outcome"]) == ("GR", "created")
    for row in (7, 8):
        assert (rows[row]["outcome"], rows[row]["code"]) == ("invalid", "ERR_103")
        assert "is not an ISO 3166 country" in rows[row]["message"]
    assert sent(api_env) == {
        "clients londres",
        "clients leeds",
        "clients york",
        "clients athènes",
        "clients patras",
    }


def test_other_spellings_of_greece_and_kosovo(cli, api_env, tmp_path):
    source = tmp_path / "lists.csv"
    source.write_text("name,country\nA,el\nB, EL \nC,xk\nD,KOSOVA\n", encoding="utf-8")
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    assert created_names(api_env) == {"A": "GR", "B": "GR"}
    rows = results(tmp_path)
    assert all("is not an ISO 3166 country (Kosovo" in rows[r]["message"] for r in (4, 5))
    assert sent(api_env) == {"a", "b"}
