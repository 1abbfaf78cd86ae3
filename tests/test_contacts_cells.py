"""Phone numbers stored as numbers in a workbook: read as Excel shows them, or as their digits."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from importer.cells import displayed_text, whole_digits
from tests.conftest import read_results


def phones_workbook(path: Path, cells: list[tuple[object, str]]) -> Path:
    """A contacts workbook: one list, one country, a phone cell per row with its format."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Liste", "Pays", "Téléphone"])
    for row, (value, number_format) in enumerate(cells, start=2):
        sheet.append(["Clients", "FR", value])
        sheet.cell(row=row, column=3).number_format = number_format
    book.save(path)
    return path


def test_phone_number_cells_read_as_excel_shows_them_or_as_their_digits(cli, tmp_path) -> None:
    source = phones_workbook(
        tmp_path / "in.xlsx",
        [
            (612345678, "0# ## ## ## ##"),  # Excel's French "phone number" format
            (612345679, '0#" "##" "##" "##" "##'),  # the same, its spaces quoted
            (612345670, "#"),
            (612345671, "0"),
            (33612345672, "0.00E+00"),  # shown 3.36E+10, but the value is exact
            (612345673, "#,##0"),  # shown 612,345,673 or 612 345 673: the digits stand
            (612345674, "0000000000"),
        ],
    )
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [row["phone"] for row in rows] == [
        "06 12 34 56 78",
        "06 12 34 56 79",
        "612345670",
        "612345671",
        "33612345672",
        "612345673",
        "0612345674",
    ]
    assert {row["outcome"] for row in rows} == {"planned"}
    assert [row["number"] for row in rows][:2] == ["'+33612345678", "'+33612345679"]


def test_a_list_name_under_a_locale_dependent_format_is_still_refused(cli, tmp_path) -> None:
    """Only the phone reads a number's digits whatever its format: a list name is text."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Nom de la liste", "Pays"])
    sheet.append([2024, "FR"])
    sheet["A2"].number_format = "#,##0"
    sheet.append([2025, "FR"])
    sheet["A3"].number_format = "0# ##"  # digits and spaces: the same in every locale
    book.save(tmp_path / "in.xlsx")
    assert cli("validate", tmp_path / "in.xlsx", "-o", "out.csv").exit_code == 1
    rows = read_results(tmp_path / "out.csv")
    assert [(row["code"], row["name"]) for row in rows] == [("BAD_CELL", "2024"), ("", "20 25")]


@pytest.mark.parametrize(
    ("value", "number_format", "shown"),
    [
        (612345678, "0# ## ## ## ##", "06 12 34 56 78"),
        (612345678.0, "00 00 00 00 00", "06 12 34 56 78"),
        (612345678, r"0#\ ##\ ##\ ##\ ##", "06 12 34 56 78"),
        (612345678, "[$-40C]0# ## ## ## ##", "06 12 34 56 78"),
        (2015550123, "(###) ###-####", "(201) 555-0123"),
        (5, "0# ##", "0 5"),
        (0, "#", ""),
        (-12, "0#", "-12"),
        (612345678, "0.00E+00", None),
        (612345678, "#,##0", None),
        (612345678, "0# ##;[Red]-0# ##", None),
        (612345678, "[<=9999999]###-####;(###) ###-####", None),
    ],
)
def test_displayed_text_of_digit_formats(value, number_format, shown) -> None:
    assert displayed_text(value, number_format) == shown


@pytest.mark.parametrize(
    ("value", "digits"),
    [(612345678.0, "612345678"), (33612345678, "33612345678"), (6.5, None), (True, None)],
)
def test_whole_digits(value, digits) -> None:
    assert whole_digits(value) == digits
