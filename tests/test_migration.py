"""Other providers' exports through the real CLI against the sandbox: recognised without a
mapping, free fields never guessed, `--preset`, `--map`, and their opt-out columns obeyed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from importer.kinds.providers import PROVIDER_HEADERS, PROVIDERS
from importer.kinds.roles import Role, recognised_keys, undecided_keys
from importer.read import header_key
from importer.sandbox import SandboxServer
from tests.conftest import ROOT, read_results

PROVIDER_FILES = ROOT / "tests" / "data" / "providers"

#: Each sample export: its opted-out number (None: the provider has no opt-out column).
OPTED_OUT = {
    "octopush": None,
    "smsfactor": None,
    "smspartner": "+33612000022",
    "brevo": "+33612000032",
    "textmagic": "+33612000042",
    "clicksend": None,
    "messagebird": None,
}


def import_export(cli, server: SandboxServer, source: Path, *extra: str):
    output = Path.cwd() / f"{source.stem}.results.csv"
    result = cli("run", source, "--base-url", server.url, "-o", output, "--rate", "0", *extra)
    return result, read_results(output) if output.exists() else []


def import_into_a_list(cli, preset: str, *extra: str):
    """A provider's sample export run into one new list; the numbers the sandbox was sent."""
    with SandboxServer() as server:
        result, rows = import_export(
            cli,
            server,
            PROVIDER_FILES / f"{preset}.csv",
            "--list",
            "Migration",
            "--default-country",
            "FR",
            *extra,
        )
        sent = {number for _list_id, number in server.stats.add_requests}
    return result, rows, sent


@pytest.mark.parametrize("preset", sorted(PROVIDERS))
def test_each_providers_export_imports_without_a_mapping(cli, creds, preset: str) -> None:
    result, rows, sent = import_into_a_list(cli, preset)
    assert result.exit_code == 0, result.stderr
    opted_out = OPTED_OUT[preset]
    for row in rows:
        number = row["number"].lstrip("'")
        if preset != "smsfactor":  # its info1…info4 are free fields: never guessed
            assert row["first_name"] and row["last_name"], row
        if number == opted_out:
            assert (row["outcome"], row["code"]) == ("excluded", "OPTED_OUT")
            assert number not in sent
        else:
            assert row["outcome"] == "created", row
            assert number in sent
    assert len(sent) == len(rows) - (opted_out is not None)


def test_free_fields_are_never_guessed_and_said_so(cli, creds) -> None:
    result, rows, _ = import_into_a_list(cli, "octopush")
    assert result.exit_code == 0
    assert {row["other"] for row in rows} == {""}
    assert "column 'param1' is not imported: a free parameter (Octopush)" in result.stderr
    assert "to import it: --map param1=other (or another role)" in result.stderr


def test_map_names_a_free_field(cli, creds) -> None:
    result, rows, _ = import_into_a_list(cli, "octopush", "--map", "param1=other")
    assert result.exit_code == 0
    assert [row["other"] for row in rows] == ["Gold", ""]
    assert "'param1'" not in result.stderr and "'param2' is not imported" in result.stderr


def test_a_header_two_tables_read_otherwise_is_not_guessed_but_named(cli, creds, tmp_path) -> None:
    source = tmp_path / "smsfactor-lists.csv"
    source.write_text("name,value,info1\nClients,33612000071,Ada\n", encoding="utf-8")
    with SandboxServer() as server:
        result, _ = import_export(cli, server, source, "--default-country", "FR")
        assert server.stats.requests_total == 0
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"avosms-import: {source}: no column for the list name;")
    assert (
        "candidates not guessed: 'name' (the list's name (SMSFactor); a person's full name in "
        "most exports), 'info1' (a free information (SMSFactor))"
    ) in line
    assert "--preset" in line


def test_preset_picks_one_providers_reading(cli, creds, tmp_path) -> None:
    source = tmp_path / "smsfactor-lists.csv"
    source.write_text(
        "name,value,info1\nClients,33612000071,Ada\nProspects,33612000072,Alan\n",
        encoding="utf-8",
    )
    with SandboxServer() as server:
        result, rows = import_export(
            cli, server, source, "--default-country", "FR", "--preset", "SMSFactor"
        )
        names = sorted(name for name, _country in server.stats.lists.values())
    assert result.exit_code == 0, result.stderr
    assert names == ["Clients", "Prospects"]
    assert [row["outcome"] for row in rows] == ["created", "created"]


def test_preset_in_a_job_file_and_an_unknown_preset(cli, creds, tmp_path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("name,value\nClients,33612000081\n", encoding="utf-8")
    job = tmp_path / "job.yaml"
    job.write_text("input: export.csv\npreset: smsfactor\ndefault_country: FR\n", "utf-8")
    with SandboxServer() as server:
        result = cli("validate", "--job", job, "--base-url", server.url, "-o", "plan.csv")
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "plan.csv")[0]["list_name"] == "Clients"
    refused = cli("validate", source, "--preset", "orange")
    assert refused.exit_code == 2
    assert "unknown preset 'orange'; presets are octopush, smsfactor" in refused.stderr


def test_the_migration_job_imports_a_provider_export_end_to_end(cli, tmp_path) -> None:
    for part in (
        "jobs/migration.yaml",
        "sample_data/provider-export.csv",
        "sample_data/stop-list.txt",
    ):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes((ROOT / part).read_bytes())
    result = cli("run", "--job", tmp_path / "jobs" / "migration.yaml", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [row["outcome"] for row in rows] == ["created"] * 2 + ["excluded"] * 2 + [
        "created"
    ] * 2 + ["excluded", "created"]
    assert rows[0]["other"] == "Boutique Lyon"  # columns: {custom1: other}
    assert "read as FR (--default-country)" in rows[3]["message"]
    assert "opted out on row 8 (column 'stopSms': '1')" in rows[2]["message"]
    assert "contacts: 8 rows in" in result.stderr and "5 created, 3 excluded" in result.stderr
    # Its results read back: opt-outs win, also over a list the file alone cannot make (the
    # rows' country cells are empty: the job gave `--list` and `--default-country`).
    again = cli("validate", "out.csv", "-o", "again.csv")
    assert again.exit_code == 1
    outcomes = [(row["outcome"], row["code"]) for row in read_results(tmp_path / "again.csv")]
    assert outcomes == [("invalid", "LIST_ERR_102")] * 2 + [("excluded", "OPTED_OUT")] * 2 + [
        ("invalid", "LIST_ERR_102")
    ] * 2 + [("excluded", "OPTED_OUT"), ("invalid", "LIST_ERR_102")]
    same = ("--list", "Clients migrés", "--default-country", "FR")
    planned = cli("validate", "out.csv", *same, "-o", "planned.csv")
    assert planned.exit_code == 0, planned.stderr
    rows = read_results(tmp_path / "planned.csv")
    assert [row["outcome"] for row in rows] == ["planned"] * 2 + ["excluded"] * 2 + [
        "planned"
    ] * 2 + ["excluded", "planned"]


# -- the data table and the README ---------------------------------------------------------


def test_every_provider_header_is_read_as_its_table_says() -> None:
    undecided = undecided_keys()
    for entry in PROVIDER_HEADERS:
        key = header_key(entry.header)
        if entry.role is None:
            assert key in undecided, entry
        elif key not in undecided:
            assert key in recognised_keys()[Role(entry.role)], entry
        else:  # disagreement: the provider's own preset reads it its way
            assert key in recognised_keys(entry.provider)[Role(entry.role)], entry


def test_the_readme_table_of_exports_is_the_data_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Migrating from another provider", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`"):
            table[cells[0]] = (cells[1], cells[2], cells[3])
    for preset, name in PROVIDERS.items():
        assert table[name][0] == f"`{preset}`"
        headers = [entry for entry in PROVIDER_HEADERS if entry.provider == preset]
        shown = re.findall(r"`([^`]+)`", table[name][1] + " " + table[name][2])
        assert sorted(shown) == sorted(entry.header for entry in headers), name
        free = re.findall(r"`([^`]+)`", table[name][2])
        undecided = undecided_keys()
        expected = [e.header for e in headers if header_key(e.header) in undecided]
        assert sorted(free) == sorted(expected), name


def test_no_phone_column_names_the_candidates(cli, tmp_path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("info1,info2\n0612345678,Ada\n", encoding="utf-8")
    result = cli("validate", source, "--list", "Clients", "--default-country", "FR")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "no phone column for a contacts import" in line
    assert "candidates not guessed: 'info1' (a free information (SMSFactor))" in line
    assert line.endswith("name it with --map HEADER=phone")
