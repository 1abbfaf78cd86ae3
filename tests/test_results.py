"""The results file: formats round-trip, exact columns, atomic writes, formula neutralisation."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

from importer import atomic_file, results, results_xlsx
from importer.code_meanings import CODE_EXPLANATIONS, UNKNOWN_CODE_EXPLANATION, explain_code
from importer.errors import ConfigError
from importer.records import RESULT_COLUMNS
from importer.results import summary_line, tally, write_results
from tests.factories import ROWS, make_frame, make_summary

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def expected_text() -> pd.DataFrame:
    return make_frame(extra=False).astype(str)


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


# --- round trips -----------------------------------------------------------------------------


def test_csv_round_trips_with_bom_and_exact_columns(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_results(make_frame(), path, make_summary())
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = read_csv(path)
    assert tuple(back.columns) == RESULT_COLUMNS
    pd.testing.assert_frame_equal(back, expected_text())


def test_json_round_trips_with_summary(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_results(make_frame(), path, make_summary())
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"summary", "rows"}
    assert [tuple(row) for row in document["rows"]] == [RESULT_COLUMNS] * len(ROWS)
    assert [tuple(row.values()) for row in document["rows"]] == ROWS
    assert isinstance(document["rows"][0]["row"], int)
    assert isinstance(document["rows"][0]["attempts"], int)
    summary = document["summary"]
    assert summary["started_at"] == "2024-05-01T22:00:00"
    assert summary["counts"]["invalid"] == 2
    assert summary["code_counts"]["ERR_901"] == 1
    assert summary["rows"] == len(ROWS)
    assert summary["delimiter"] == ";"


def test_xlsx_round_trips_as_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_results(make_frame(), path, make_summary())
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Results", "Summary"]
    sheet = workbook["Results"]
    values = [[("" if v is None else v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert tuple(values[0]) == RESULT_COLUMNS
    assert values[1:] == expected_text().values.tolist()
    back = pd.read_excel(
        path, sheet_name="Results", dtype=str, keep_default_na=False, engine="openpyxl"
    )
    pd.testing.assert_frame_equal(back, expected_text())


def test_missing_values_become_empty_text(tmp_path: Path) -> None:
    frame = make_frame()
    frame.loc[0, "message"] = None
    frame.loc[1, "list_contact_id"] = float("nan")
    frame["attempts"] = frame["attempts"].astype(object)
    frame.loc[2, "attempts"] = None
    path = tmp_path / "out.csv"
    write_results(frame, path, make_summary())
    back = read_csv(path)
    assert back.loc[0, "message"] == ""
    assert back.loc[1, "list_contact_id"] == ""
    assert back.loc[2, "attempts"] == "0"


def test_missing_column_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="attempts"):
        write_results(make_frame().drop(columns="attempts"), tmp_path / "x.csv", make_summary())


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.txt"):
        write_results(make_frame(), tmp_path / "out.txt", make_summary())
    assert list(tmp_path.iterdir()) == []


def test_empty_frame_writes_header_only(tmp_path: Path) -> None:
    empty = make_frame([])
    summary = make_summary(empty)
    for suffix in (".csv", ".xlsx", ".json"):
        write_results(empty, tmp_path / f"out{suffix}", summary)
    assert tuple(read_csv(tmp_path / "out.csv").columns) == RESULT_COLUMNS
    assert json.loads((tmp_path / "out.json").read_text())["rows"] == []
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["Results"]
    assert sheet.max_row == 1


# --- atomicity -------------------------------------------------------------------------------


def test_parent_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "out.csv"
    write_results(make_frame(), path, make_summary())
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json"])
def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"out{suffix}"
    path.write_bytes(b"the previous results")

    real_fsync = os.fsync
    calls = []

    def fsync_then_crash(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "fsync", fsync_then_crash)
    with pytest.raises(OSError, match="disk full"):
        write_results(make_frame(), path, make_summary())
    assert calls  # the failure came after the content was written
    assert path.read_bytes() == b"the previous results"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_failure_inside_writer_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    import pyarrow.csv as pacsv

    def half_write(table: object, handle: object, **options: object) -> None:
        handle.write(b"row,list_name\n2,half")  # type: ignore[attr-defined]
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(pacsv, "write_csv", half_write)
    with pytest.raises(RuntimeError):
        write_results(make_frame(), path, make_summary())
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    write_results(make_frame(), path, make_summary())
    assert len(read_csv(path)) == len(ROWS)


def test_atomic_write_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with atomic_file.atomic_write(tmp_path / "f.txt") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o640


# --- formula injection -----------------------------------------------------------------------


def hostile_frame() -> pd.DataFrame:
    rows = [
        (10 + i, f"{c}cmd|' /C calc'!A0", f"{c}FR", f"{c}SUM(1+1)", "FR", "created", "OK",
         f"{c}msg", "1", 1)
        for i, c in enumerate(DANGEROUS)
    ]  # fmt: skip
    rows.append((20, "safe=1", "fr", "a-b", "FR", "created", "OK", "", "2", 1))
    return make_frame(rows)


TEXT_COLUMNS = ("list_name", "country", "name", "message")


def test_csv_neutralises_every_dangerous_first_character(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    frame = hostile_frame()
    write_results(frame, path, make_summary(frame))
    back = read_csv(path)
    for column in TEXT_COLUMNS:
        expected = ["'" + v for v in frame[column][: len(DANGEROUS)]]
        assert back[column][: len(DANGEROUS)].tolist() == expected
    assert back.iloc[-1][["list_name", "name"]].tolist() == ["safe=1", "a-b"]


def test_xlsx_neutralises_every_dangerous_first_character(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    frame = hostile_frame()
    write_results(frame, path, make_summary(frame))
    sheet = openpyxl.load_workbook(path)["Results"]
    header = [c.value for c in sheet[1]]
    for i, char in enumerate(DANGEROUS):
        cells = dict(zip(header, sheet[i + 2], strict=True))
        for column in TEXT_COLUMNS:
            cell = cells[column]
            assert cell.data_type == "s", (char, column)
            # a carriage return is stored as Excel's escape `_x000D_`, which Excel reads back
            assert unescape(cell.value) == "'" + frame.loc[i, column]
    last = dict(zip(header, sheet[sheet.max_row], strict=True))
    assert last["list_name"].value == "safe=1"


def test_xlsx_keeps_e164_numbers_as_they_are_and_csv_defuses_them(tmp_path: Path) -> None:
    rows = [
        (2, "+33612345678", "FR", "+33612345678", "FR", "created", "OK", "+1", "1", 1),
        (3, "+33 6 12", "FR", "+3361234567890123", "FR", "created", "OK", "+1+1", "1", 1),
    ]
    frame = make_frame(rows)
    write_results(frame, tmp_path / "out.xlsx", make_summary(frame))
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["Results"]
    header = [c.value for c in sheet[1]]
    first, second = (dict(zip(header, sheet[n], strict=True)) for n in (2, 3))
    # a text cell in a text column: Excel never runs it, and the number copies out clean
    assert (first["list_name"].value, first["message"].value) == ("+33612345678", "+1")
    assert first["list_name"].data_type == "s"
    # not an E.164 number (a space; more than 15 digits; an operator): defused as before
    assert second["list_name"].value == "'+33 6 12"
    assert second["name"].value == "'+3361234567890123"
    assert second["message"].value == "'+1+1"
    write_results(frame, tmp_path / "out.csv", make_summary(frame))
    assert read_csv(tmp_path / "out.csv")["list_name"].tolist() == ["'+33612345678", "'+33 6 12"]


def test_json_keeps_names_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    frame = hostile_frame()
    write_results(frame, path, make_summary(frame))
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    assert [r["name"] for r in rows] == frame["name"].tolist()
    assert [r["list_name"] for r in rows] == frame["list_name"].tolist()


def test_neutralise_text_single_value() -> None:
    assert [results.neutralise_text(c + "x") for c in DANGEROUS] == [
        "'" + c + "x" for c in DANGEROUS
    ]
    assert results.neutralise_text("") == ""
    assert results.neutralise_text("a=b") == "a=b"


# --- xlsx presentation -----------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> openpyxl.Workbook:
    path = tmp_path / "out.xlsx"
    write_results(make_frame(), path, make_summary())
    return openpyxl.load_workbook(path)


def test_xlsx_header_frozen_and_filtered(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["Results"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:J{len(ROWS) + 1}"
    assert all(cell.font.b for cell in sheet[1])


def test_xlsx_every_cell_is_text(workbook: openpyxl.Workbook) -> None:
    for row in workbook["Results"].iter_rows():
        for cell in row:
            if cell.value is not None:
                assert cell.data_type == "s"
                assert cell.number_format == "@"


def test_xlsx_widths_follow_longest_value_capped(tmp_path: Path) -> None:
    frame = make_frame()
    frame.loc[0, "message"] = "m" * 500
    path = tmp_path / "out.xlsx"
    write_results(frame, path, make_summary())
    dims = openpyxl.load_workbook(path)["Results"].column_dimensions
    # Excel stores a width as characters plus the cell's padding (a fraction of a character)
    assert int(dims["A"].width) == results_xlsx.XLSX_MIN_WIDTH + 2  # "row", short numbers
    assert int(dims["B"].width) == len('Say "hi", all\nnow') + 2
    assert int(dims["H"].width) == results_xlsx.XLSX_MAX_WIDTH + 2


def test_xlsx_rows_tinted_by_outcome(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["Results"]
    outcome_column = RESULT_COLUMNS.index("outcome")
    for row in sheet.iter_rows(min_row=2):
        outcome = row[outcome_column].value
        tint = results_xlsx.OUTCOME_FILLS[outcome]
        # the row's format tints the row's empty cells (Excel shows it); written cells carry it
        row_format = sheet.row_dimensions[row[0].row]
        assert (row_format.fill.fgColor.rgb[-6:], row_format.fill.fill_type) == (tint, "solid")
        written = [cell for cell in row if cell.value is not None]
        assert {cell.fill.fgColor.rgb[-6:] for cell in written} == {tint}, outcome
        assert {cell.fill.fill_type for cell in written} == {"solid"}
        assert {cell.number_format for cell in written} == {"@"}


def test_xlsx_outcome_fills_are_the_agreed_tints() -> None:
    fills = results_xlsx.OUTCOME_FILLS
    assert fills["duplicate"] == fills["planned"]
    assert fills["failed"] == fills["invalid"]
    assert len({fills["created"], fills["exists"], fills["planned"], fills["failed"],
                fills["pending"]}) == 5  # fmt: skip


def test_xlsx_summary_sheet(workbook: openpyxl.Workbook) -> None:
    rows = [
        [v for v in row if v is not None] for row in workbook["Summary"].iter_rows(values_only=True)
    ]
    as_pairs = {row[0]: row[1:] for row in rows if row}
    assert as_pairs["Input"] == ["lists.csv"]
    assert as_pairs["Input SHA-256"] == ["ab" * 32]
    assert as_pairs["Encoding"] == ["cp1252"]
    assert as_pairs["Delimiter"] == ["semicolon (;)"]
    assert as_pairs["Started at"] == ["2024-05-01T22:00:00"]
    assert as_pairs["Ended at"] == ["2024-05-01T22:00:03"]
    assert as_pairs["invalid"] == [2]
    assert as_pairs["total"] == [len(ROWS)]
    assert as_pairs["ERR_901"] == [1, CODE_EXPLANATIONS["ERR_9xx"]]
    assert as_pairs["workers"] == ["4"]


def test_xlsx_summary_headings_are_bold_text(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["Summary"]
    headings = {"Run", "Outcome", "Code", "Option"}
    seen = set()
    for row in sheet.iter_rows():
        first = row[0]
        bold = first.value in headings
        if bold:
            seen.add(first.value)
        for cell in row:
            if cell.value is not None:
                assert bool(cell.font.b) == bold, cell.coordinate
                assert (cell.number_format == "@") == bold, cell.coordinate
    assert seen == headings
    assert [int(sheet.column_dimensions[c].width) for c in "ABC"] == list(
        results_xlsx.SUMMARY_WIDTHS
    )


def test_xlsx_table_of_any_columns_is_text_without_tints(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": [17, 18], "name": ["=cmd", "Été"], "contacts": pd.array([3, None], dtype="Int64")}
    )
    path = tmp_path / "lists.xlsx"
    results.write_table(frame, path, sheet_name="Lists")
    sheet = openpyxl.load_workbook(path)["Lists"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:C3"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values == [["id", "name", "contacts"], ["17", "'=cmd", "3"], ["18", "Été", None]]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.value is not None:
                assert (cell.data_type, cell.number_format) == ("s", "@")
                assert cell.fill.fill_type is None
    assert all(cell.font.b for cell in sheet[1])


def test_xlsx_summary_sheet_neutralises_and_never_holds_the_key(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    summary = make_summary(input_path="=HYPERLINK(1)", sheet="Feuil1", encoding=None)
    summary.delimiter = None
    write_results(make_frame(), path, summary)
    sheet = openpyxl.load_workbook(path)["Summary"]
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "'=HYPERLINK(1)" in values
    assert "Feuil1" in values
    assert "Encoding" not in values
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_xlsx_drops_control_characters_and_caps_cells(tmp_path: Path) -> None:
    frame = make_frame()
    frame.loc[0, "list_name"] = "bell\x07 here"
    frame.loc[1, "message"] = "x" * 40_000
    path = tmp_path / "out.xlsx"
    write_results(frame, path, make_summary())
    sheet = openpyxl.load_workbook(path)["Results"]
    assert sheet["B2"].value == "bell\ufffd here"
    assert len(sheet["H3"].value) == results_xlsx.XLSX_MAX_CELL_CHARS
    # the CSV keeps the value as it was
    write_results(frame, tmp_path / "out.csv", make_summary())
    assert read_csv(tmp_path / "out.csv").loc[0, "list_name"] == "bell\x07 here"


@settings(deadline=None, max_examples=60)  # a workbook per example: timing varies
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=40), max_size=8))
@example(["_x000D_", "a\rb", " lead ", "bell\x07", "=1", "", "x\ny", "😀"])
def test_xlsx_text_reads_back_as_written(tmp_path_factory: pytest.TempPathFactory, values) -> None:
    """Whatever the text, a spreadsheet reader gets it back: only formulas are defused and the
    control characters an .xlsx cannot hold replaced (escapes like `_x000D_` included)."""
    from python_calamine import CalamineWorkbook

    path = tmp_path_factory.mktemp("xlsx") / "any.xlsx"
    results.write_table(pd.DataFrame({"value": values}, dtype=object), path, sheet_name="S")
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    read_back = [row[0] for row in grid[1:]]
    read_back += [""] * (len(values) - len(read_back))  # calamine stops at the last filled row
    expected = [
        re.sub(results_xlsx.XLSX_ILLEGAL_PATTERN, "\ufffd", results.neutralise_text(value))
        for value in values
    ]
    assert read_back == expected


def test_xlsx_refuses_more_rows_than_excel_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results_xlsx, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ConfigError, match=r"\.csv"):
        write_results(make_frame(), Path("never-written.xlsx"), make_summary())
    assert not Path("never-written.xlsx").exists()


# --- summary line, codes, tally --------------------------------------------------------------


def test_tally_counts_outcomes_and_codes() -> None:
    counts, codes = tally(make_frame())
    assert counts == {
        "created": 1, "exists": 1, "invalid": 2, "duplicate": 1, "failed": 1, "pending": 1,
        "planned": 1,
    }  # fmt: skip
    assert codes == {"OK": 2, "ERR_101": 1, "DUPLICATE": 1, "ERR_103": 1, "ERR_901": 1,
                     "NOT_SENT": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "elapsed", "throttled", "line"),
    [
        (
            {"failed": 1, "created": 7, "invalid": 2, "exists": 1, "duplicate": 1},
            3.4,
            0.0,
            "12 rows in 3.4 s: 7 created, 1 exists, 2 invalid, 1 duplicate, 1 failed",
        ),
        ({"created": 3, "failed": 0}, 0.04, 2.0, "3 rows in 0.0 s: 3 created, 2.0 s throttled"),
        ({"planned": 1}, 1.0, 0.0, "1 row in 1.0 s: 1 planned"),
        ({}, 0.0, 0.0, "0 rows in 0.0 s"),
        ({"created": 5000, "pending": 20}, 725.0, 61.0,
         "5020 rows in 12 min 05 s: 5000 created, 20 pending, 1 min 01 s throttled"),
        ({"created": 1}, 7384.0, 0.0, "1 row in 2 h 03 min: 1 created"),
    ],
)  # fmt: skip
def test_summary_line(counts: dict[str, int], elapsed: float, throttled: float, line: str) -> None:
    summary = make_summary(counts=counts, throttled_seconds=throttled)
    summary.ended_at = datetime.fromtimestamp(summary.started_at.timestamp() + elapsed)
    assert summary_line(summary) == line


@pytest.mark.parametrize(
    ("code", "expected_key"),
    [
        ("ERR_100", "ERR_100"),
        ("ERR_101", "ERR_101"),
        ("ERR_104", "ERR_104"),
        ("ERR_901", "ERR_9xx"),
        ("ERR_999", "ERR_9xx"),
        ("HTTP_503", "HTTP_5xx"),
        ("HTTP_500", "HTTP_5xx"),
        ("HTTP_429", "HTTP_429"),
        ("HTTP_404", "HTTP_4xx"),
        ("TIMEOUT", "TIMEOUT"),
        ("CONNECTION", "CONNECTION"),
        ("BAD_ANSWER", "BAD_ANSWER"),
        ("NOT_SENT", "NOT_SENT"),
        ("DUPLICATE", "DUPLICATE"),
    ],
)
def test_explain_code(code: str, expected_key: str) -> None:
    assert explain_code(code) == CODE_EXPLANATIONS[expected_key]


def test_explain_unknown_and_empty_codes() -> None:
    assert explain_code("") == ""
    assert explain_code("WHATEVER") == UNKNOWN_CODE_EXPLANATION


def test_every_local_code_is_explained() -> None:
    from importer.records import LocalCode

    for code in LocalCode:
        assert explain_code(code) != UNKNOWN_CODE_EXPLANATION, code


# --- write_table (the account's lists export) ------------------------------------------------

LISTS = pd.DataFrame(
    {
        "list_contact_id": ["1001", "1002"],
        "name": ['=Promo, "été"', "Clients"],
        "country_code": ["FR", "NA"],
        "nb_contact": ["12", None],
    }
)


def test_write_table_csv_json_xlsx(tmp_path: Path) -> None:
    for suffix in (".csv", ".json", ".xlsx"):
        results.write_table(LISTS, tmp_path / f"lists{suffix}", sheet_name="Lists")
    csv = read_csv(tmp_path / "lists.csv")
    assert tuple(csv.columns) == tuple(LISTS.columns)
    assert csv["name"].tolist() == ['\'=Promo, "été"', "Clients"]
    assert csv["nb_contact"].tolist() == ["12", ""]
    rows = json.loads((tmp_path / "lists.json").read_text(encoding="utf-8"))
    assert rows[0] == {
        "list_contact_id": "1001", "name": "=Promo, \"été\"", "country_code": "FR",
        "nb_contact": "12",
    }  # fmt: skip
    book = openpyxl.load_workbook(tmp_path / "lists.xlsx")
    assert book.sheetnames == ["Lists"]
    sheet = book["Lists"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D3"
    assert sheet["B2"].value == '\'=Promo, "été"'
    assert sheet["A2"].data_type == "s" and sheet["A2"].number_format == "@"


def test_write_table_empty_and_unknown_format(tmp_path: Path) -> None:
    empty = LISTS.iloc[0:0]
    results.write_table(empty, tmp_path / "none.json")
    assert json.loads((tmp_path / "none.json").read_text()) == []
    with pytest.raises(ConfigError):
        results.write_table(LISTS, tmp_path / "lists.ods")


def test_empty_code_is_not_a_summary_code(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_results(make_frame(), path, make_summary(code_counts={"": 3, "OK": 1}))
    first_cells = [row[0].value for row in openpyxl.load_workbook(path)["Summary"].iter_rows()]
    code_at = first_cells.index("Code")
    assert first_cells[code_at + 1 : code_at + 3] == ["OK", None]


def test_csv_written_in_slices_is_the_file_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, sliced = tmp_path / "whole.csv", tmp_path / "sliced.csv"
    write_results(make_frame(), whole, make_summary())
    monkeypatch.setattr(results, "CSV_BATCH_ROWS", 2)
    write_results(make_frame(), sliced, make_summary())
    assert len(make_frame()) > 2
    assert sliced.read_bytes() == whole.read_bytes()
    write_results(make_frame().iloc[0:0], sliced, make_summary())
    assert sliced.read_bytes() == whole.read_bytes().splitlines(keepends=True)[0]
