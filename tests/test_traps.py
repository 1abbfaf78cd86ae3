"""Spreadsheet traps that must import correctly, end to end into the sandbox."""

from __future__ import annotations

from tests.conftest import ROOT, read_results

GOOD = ROOT / "tests" / "data" / "good"


def created_names(sandbox) -> dict[str, str]:
    return {name: country for name, country in sandbox.stats.lists.values()}


def test_none_null_na_and_numbers_are_data_not_missing_values(cli, api_env, tmp_path):
    source = tmp_path / "traps.csv"
    source.write_text(
        "name,country,,\n"
        "None,NA,,\n"
        "null,FR,,\n"
        "NA,DE,,\n"
        "007,FR,,\n"
        "1e3,FR,,\n"
        "\u00a0Non\u00a0breaking\u00a0 ,  fr\u00a0,,\n"
        ",,,\n"
        ",,,\n",
        encoding="utf-8",
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {
        "None": "NA",
        "null": "FR",
        "NA": "DE",
        "007": "FR",
        "1e3": "FR",
        "Non breaking": "FR",
    }
    rows = read_results(tmp_path / "out.csv")
    assert [row["row"] for row in rows] == ["2", "3", "4", "5", "6", "7"]
    assert rows[0]["list_name"] == "None" and rows[0]["country"] == "NA"


def test_xlsx_numbers_and_iso_dates_keep_their_displayed_text(cli, api_env, tmp_path):
    result = cli("run", GOOD / "numbers.xlsx", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    names = created_names(api_env)
    # The date cell is formatted yyyy-mm-dd: the sheet shows exactly that text.
    assert {"2024", "007", "2024-01-15", "0.5"} <= set(names)
    assert "2024.0" not in names


def test_ods_numbers_are_sent_as_shown_and_dates_refused(cli, api_env, tmp_path):
    result = cli("run", GOOD / "numbers.ods", "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    assert created_names(api_env) == {"2024": "FR", "007": "BE"}
    rows = {row["row"]: row for row in read_results(tmp_path / "out.csv")}
    assert rows["2"]["outcome"] == "created"
    assert (rows["5"]["outcome"], rows["5"]["code"]) == ("invalid", "BAD_CELL")
    assert "cell A5 holds a date" in rows["5"]["message"]


def test_a_french_excel_export_in_cp1252_with_semicolons(cli, api_env, tmp_path):
    result = cli("run", GOOD / "french_cp1252.csv", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert created_names(api_env) == {
        "Clients Île-de-France": "FR",
        "Équipe Genève": "CH",
        "Marché de Noël – été": "DE",
        "Prêt-à-porter œuvre": "NA",
    }
