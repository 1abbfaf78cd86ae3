"""Contacts files through the real CLI: the kind, reading, every option, the plan on the account."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from importer.kinds.contacts import CONTACT_COLUMNS
from importer.sandbox import DEMO_ID, DEMO_KEY, SandboxServer
from tests.conftest import SAMPLE_DATA, read_results

SAMPLE = SAMPLE_DATA / "contacts.csv"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows_by_number(path: Path) -> dict[str, dict[str, str]]:
    return {row["row"]: row for row in read_results(path)}


def test_validate_the_sample(cli, tmp_path: Path) -> None:
    result = cli("validate", SAMPLE, "-o", tmp_path / "plan.csv")
    assert result.exit_code == 1  # the sample holds invalid rows on purpose
    assert "contacts: 30 rows in" in result.stderr
    assert "8 invalid, 1 duplicate, 21 planned" in result.stderr
    rows = read_results(tmp_path / "plan.csv")
    assert tuple(rows[0]) == CONTACT_COLUMNS
    first = rows[0]
    assert (first["phone"], first["number"], first["civility"]) == (
        "06 12 34 56 78",
        "'+33612345678",  # the results file's formula guard on a leading +
        "M",
    )
    assert "row 8 invalid, ERR_108" in result.stderr
    assert "(phone '01 42 68 53 00' in list 'Clients Paris')" in result.stderr


@pytest.mark.parametrize("suffix", [".json", ".xlsx"])
def test_validate_writes_the_contacts_columns_in_every_format(cli, tmp_path, suffix) -> None:
    output = tmp_path / f"plan{suffix}"
    assert cli("validate", SAMPLE, "-o", output).exit_code == 1
    if suffix == ".json":
        document = json.loads(output.read_text(encoding="utf-8"))
        assert tuple(document["rows"][0]) == CONTACT_COLUMNS
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(output, read_only=True).worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        assert tuple(header) == CONTACT_COLUMNS


def test_a_lists_file_stays_a_lists_file(cli, tmp_path: Path) -> None:
    lists = write(tmp_path / "lists.csv", "N°,Nom de la liste,Pays\n1,Clients,FR\n")
    result = cli("validate", lists, "-o", tmp_path / "out.csv")
    assert result.exit_code == 0
    assert "lists: 1 row in" in result.stderr
    assert "name" in read_results(tmp_path / "out.csv")[0]


def test_kind_lists_ignores_a_phone_column(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Liste,Pays,Téléphone\nClients,FR,0612345678\n")
    assert "contacts: 1 row" in cli("validate", source, "-o", tmp_path / "a.csv").stderr
    result = cli("validate", source, "--kind", "lists", "-o", tmp_path / "b.csv")
    assert result.exit_code == 0
    assert "lists: 1 row" in result.stderr


def test_kind_contacts_without_a_phone_column_is_refused(cli, tmp_path: Path) -> None:
    lists = write(tmp_path / "lists.csv", "Liste,Pays\nClients,FR\n")
    result = cli("validate", lists, "--kind", "contacts")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f'avosms-import: {lists}: no column for the phone; columns found: "Liste", "Pays"; '
        "name it with --map HEADER=phone"
    ]


def test_numero_is_the_phone_once_the_kind_is_contacts(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Liste,Pays,Numéro\nClients,FR,0612345678\n")
    assert "lists: 1 row" in cli("validate", source, "-o", tmp_path / "a.csv").stderr
    result = cli("validate", source, "--kind", "contacts", "-o", tmp_path / "b.csv")
    assert "contacts: 1 row" in result.stderr
    assert read_results(tmp_path / "b.csv")[0]["number"] == "'+33612345678"


def test_list_puts_the_whole_file_in_one_list(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Nom,Prénom,Mobile\nDupont,Anne,0612345678\n")
    result = cli(
        "validate", source, "--list", "Tous", "--default-country", "FR", "-o", tmp_path / "o.csv"
    )
    assert result.exit_code == 0, result.stderr
    (row,) = read_results(tmp_path / "o.csv")
    assert (row["list_name"], row["last_name"], row["first_name"]) == ("Tous", "Dupont", "Anne")


def test_without_a_list_column_or_list_the_file_is_refused(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Nom,Mobile\nDupont,0612345678\n")
    result = cli("validate", source, "--kind", "contacts")
    assert result.exit_code == 2
    assert "no column for the list name" in result.stderr
    assert "give --list NAME" in result.stderr


def test_map_names_columns_not_recognised(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Groupe,Pays,Perso,Ligne\nClients,FR,0612345678,x\n")
    result = cli(
        "validate",
        source,
        "--kind",
        "contacts",
        "--map",
        "Perso=phone",
        "--map",
        "Ligne=other",
        "-o",
        tmp_path / "o.csv",
    )
    assert result.exit_code == 0, result.stderr
    (row,) = read_results(tmp_path / "o.csv")
    assert (row["phone"], row["other"]) == ("0612345678", "x")


def test_map_with_an_unknown_role_is_refused(cli, tmp_path: Path) -> None:
    result = cli("validate", SAMPLE, "--map", "Perso=telephone")
    assert result.exit_code == 2
    assert "unknown role 'telephone'" in result.stderr


def test_job_file_kind_and_columns(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "Groupe,Pays,Perso\nClients,FR,0612345678\n")
    job = write(
        tmp_path / "job.yaml",
        f"input: {source.name}\nkind: contacts\ncolumns:\n  Perso: phone\noutput: o.csv\n",
    )
    result = cli("validate", "--job", job)
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "o.csv")[0]["number"] == "'+33612345678"


def test_number_options(cli, tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.csv",
        "Liste,Pays,Tel,Date de naissance\nA,FR,01 42 68 53 00,03/12/1985\nA,FR,0612345678,\n",
    )
    output = tmp_path / "o.csv"
    assert cli("validate", source, "-o", output).exit_code == 1  # a landline: ERR_108
    result = cli(
        "validate",
        source,
        "--number-types",
        "mobile,fixed-line",
        "--number-format",
        "national",
        "--month-first",
        "--birthday-format",
        "YYYY-MM-DD",
        "-o",
        output,
    )
    assert result.exit_code == 0, result.stderr
    landline, mobile = read_results(output)
    assert (landline["number"], landline["birthday"]) == ("01 42 68 53 00", "1985-03-12")
    assert mobile["number"] == "06 12 34 56 78"


def test_a_bad_number_type_is_refused(cli) -> None:
    result = cli("validate", SAMPLE, "--number-types", "landline")
    assert result.exit_code == 2
    assert "--number-types: unknown number type landline" in result.stderr


def test_a_workbook_is_read_like_a_csv(cli, tmp_path: Path) -> None:
    """Title rows above the header, a date cell as birthday, a formula without value."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Export du 1er décembre"])
    sheet.append([])
    sheet.append(["Liste", "Pays", "GSM", "Prénom", "Date de naissance", "Email"])
    sheet.append(["Clients", "FR", "06 12 34 56 78", "Anne", datetime(1985, 3, 12), "a@b.fr"])
    sheet.append(["Clients", "FR", "=A1", "Paul", "", ""])
    sheet.append(["Clients", "FR", "06 99 99 99 99", "Léa", "", '=CONCAT("x","@y.fr")'])
    book.save(tmp_path / "in.xlsx")
    result = cli("validate", tmp_path / "in.xlsx", "-o", tmp_path / "o.csv")
    assert result.exit_code == 1, result.stderr
    anne, paul, lea = read_results(tmp_path / "o.csv")
    assert (anne["row"], anne["first_name"], anne["birthday"]) == ("4", "Anne", "12/03/1985")
    assert (paul["outcome"], paul["code"]) == ("invalid", "BAD_CELL")
    assert paul["message"].startswith("cell C5 holds a formula with no computed value")
    assert (lea["outcome"], lea["email"]) == ("planned", "")
    assert lea["message"].startswith("email left out: cell F6 holds a formula")


def test_check_account_plans_against_the_lists_and_their_contacts(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    seed = [
        {"listContactName": "Clients Paris", "contactTelephoneNumber": "0612345678"},
        {
            "listContactName": "Clients Paris",
            "contactTelephoneNumber": "+33623456789",
            "contactCivility": "Madame",  # the same civility spelt otherwise
            "contactName": "Bernard",
            "contactFirstName": "Sophie",
            "contactEmail": "autre@example.fr",
            "contactBirthday": "02/11/1979",
        },
        {"listContactName": "Clients Bruxelles", "contactTelephoneNumber": "0470123456"},
    ]
    lists = [("Clients Paris", "FR"), ("Clients Bruxelles", "BE")]
    with SandboxServer(existing_lists=lists, existing_contacts=seed) as server:
        plan = tmp_path / "plan.csv"
        result = cli("validate", SAMPLE, "--check-account", "--base-url", server.url, "-o", plan)
        assert server.stats.add_requests == {}  # read-only
        assert server.stats.list_requests == 1
        assert sum(server.stats.information_requests.values()) == 2
    assert result.exit_code == 1
    rows = rows_by_number(plan)
    assert rows["2"]["outcome"] == "exists"
    assert rows["2"]["list_contact_id"] == "1001"
    assert rows["3"]["outcome"] == "exists"
    assert rows["3"]["message"] == (
        "already in list 1001; differs on the account: email (not updated)"
    )
    assert rows["28"]["outcome"] == "exists"  # 0470 12 34 56, Belgian list
    assert rows["12"]["message"] == "list not on the account: it is created first"


def test_the_contacts_job_checks_the_sample_against_the_sandbox(cli, tmp_path: Path) -> None:
    job = SAMPLE_DATA.parent / "jobs" / "contacts.yaml"
    output = tmp_path / "plan.csv"
    result = cli("validate", "--job", job, "-o", output, "--report", tmp_path / "r.html")
    assert result.exit_code == 1
    assert "contacts: 30 rows in" in result.stderr
    rows = read_results(output)
    assert rows[0]["message"] == "list not on the account: it is created first"
    assert (tmp_path / "r.html").exists()


def test_the_report_counts_contacts_per_list(cli, tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    assert cli("validate", SAMPLE, "-o", tmp_path / "o.csv", "--report", report).exit_code == 1
    page = report.read_text(encoding="utf-8")
    assert "<h2>Per list</h2>" in page
    # Offline, the lists are not read: their contacts before and after are left blank.
    assert (
        '<tr><td>Prospects Lyon</td><td></td><td class="num"></td><td class="num"></td>'
        '<td class="num"><span class="bar" style="width:36px;background:#9e9e9e" '
        'title="to add: 4"></span>4</td>'
        '<td class="num"><span class="bar" style="width:44px;background:#d84315" '
        'title="invalid: 5"></span>5</td><td class="num">0</td>'
        "<td>ERR_107 × 2, ERR_106 × 1, ERR_102 × 1, ERR_108 × 1</td></tr>"
    ) in page


def test_the_report_names_each_contact_needing_attention(cli, tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.csv",
        "Liste;Pays;Nom;Prénom;Téléphone\n"
        "Clients;FR;Martin;Julien;06 12 34 56 78\n"
        "Clients;FR;Petit;Anne;06 12 3\n",
    )
    report = tmp_path / "r.html"
    assert cli("validate", source, "-o", tmp_path / "o.csv", "--report", report).exit_code == 1
    page = report.read_text(encoding="utf-8")
    attention = page[page.index("<h2>Rows needing attention</h2>") :]
    assert (
        "<tr><th>Row</th><th>List name</th><th>Phone</th><th>Name</th><th>Country</th>"
        "<th>Outcome</th>"
    ) in attention
    assert (
        '<td class="num">3</td><td>Clients</td><td>06 12 3</td><td>Anne Petit</td><td>FR</td>'
        "<td>invalid</td>"
    ) in attention
    assert "Julien" not in attention


def test_the_report_of_lists_keeps_its_columns(cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "name,country\nFine,FR\nNowhere,Atlantis\n")
    report = tmp_path / "r.html"
    assert cli("validate", source, "-o", tmp_path / "o.csv", "--report", report).exit_code == 1
    attention = report.read_text(encoding="utf-8").split("<h2>Rows needing attention</h2>")[1]
    assert "<tr><th>Row</th><th>List name</th><th>Country</th><th>Outcome</th>" in attention
    assert "<th>Phone</th>" not in attention
