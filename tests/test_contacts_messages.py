"""What a contacts run says, and when: the kind first, one-line refusals naming the option the
operator used, and reads of the account counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_results


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -------------------------------------------------------------- the first line names the kind


def two_rows_workbook(path: Path, header: tuple[str, str, str]) -> Path:
    """A workbook of two rows, the second with an unknown country (a warning)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append(["Clients", "FR", "06 12 34 56 78"])
    sheet.append(["Clients", "Atlantis", "06 12 34 56 79"])
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("header", "kind", "why"),
    [
        (("Liste", "Pays", "Téléphone"), "contacts", "a phone column, 'Téléphone'"),
        (("Nom de la liste", "Pays", "Note"), "lists", "a lists file: no phone column"),
    ],
)
def test_the_first_line_of_the_log_names_the_kind(cli, tmp_path, header, kind, why) -> None:
    source = two_rows_workbook(tmp_path / "in.xlsx", header)
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    said = lines(result.stderr)
    assert said[0].startswith(f"{kind}: {source} (") and why in said[0], said
    assert said[1].startswith("warning: row 3 invalid")  # the warnings come after it
    assert said[-1].startswith(f"{kind}: 2 rows in")  # and the summary names it too


def test_the_kind_line_comes_first_in_a_json_log_too(cli, tmp_path) -> None:
    """A cell the reader refuses (BAD_CELL) is warned about after the kind's line."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Nom de la liste", "Pays"])
    sheet.append([2024, "FR"])
    sheet["A2"].number_format = "#,##0.00"  # a locale-dependent display: refused, BAD_CELL
    sheet.append(["Clients", "FR"])
    book.save(tmp_path / "in.xlsx")
    result = cli("validate", tmp_path / "in.xlsx", "-o", "out.json", "--log-format", "json")
    records = [json.loads(line) for line in lines(result.stderr)]
    assert records[0]["kind"] == "lists" and records[0]["level"] == "INFO"
    assert records[1]["level"] == "WARNING" and records[1]["code"] == "BAD_CELL"
    assert records[-1]["message"].startswith("lists: 2 rows in")


def test_a_clean_run_logs_only_its_summary_and_a_refusal_only_its_line(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "Liste;Pays;Téléphone\nClients;FR;0612345678\n")
    clean = cli("validate", source, "-o", "out.csv")
    (line,) = lines(clean.stderr)
    assert clean.exit_code == 0 and line.startswith("contacts: 1 row in ")
    refused = cli("validate", source, "--kind", "contacts", "--map", "Portable=phone")
    assert refused.exit_code == 2
    assert len(lines(refused.stderr)) == 1


# -------------------------------------------------------------- N°, row numbers and the kind


def test_a_row_number_column_is_not_taken_for_the_phone(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "N°;Nom;Prénom\n1;Dupont;Jean\n2;Martin;Paul\n3;Roy;Léa\n")
    result = cli("validate", source, "--kind", "contacts", "--list", "Clients")
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert line.startswith(f"avosms-import: {source}: column 'N°' holds row numbers")
    assert "--map HEADER=phone" in line and '--map "N°=phone"' in line


def test_a_numero_column_of_phones_is_the_phone_once_the_kind_is_contacts(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "Numéro;Nom\n06 12 34 56 78;Dupont\n0612345679;Roy\n")
    result = cli(
        "validate", source, "--kind", "contacts", "--list", "Clients", "--default-country", "FR"
    )
    assert result.exit_code == 0, result.stderr
    assert [row["number"] for row in read_results(tmp_path / "in.results.csv")] == [
        "'+33612345678",
        "'+33612345679",
    ]


def test_a_mapped_row_number_column_is_the_operators_choice(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "N°;Nom\n1;Dupont\n")
    result = cli("validate", source, "--map", "N°=phone", "--list", "C", "--default-country", "FR")
    assert result.exit_code == 1  # read as asked: the number 1 is invalid, row by row
    assert read_results(tmp_path / "in.results.csv")[0]["code"] == "ERR_106"


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        (("--kind", "lists"), "; or, if it holds contacts, give --kind contacts"),
        ((), "; or, if it holds contacts, name its phone column with --map HEADER=phone"),
    ],
)
def test_a_lists_file_without_a_list_column_points_at_contacts(cli, tmp_path, options, hint):
    source = write(tmp_path / "in.csv", "Prénom;Numéro\nJean;0612345678\n")
    result = cli("validate", source, *options)
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert "no column for the list name" in line and hint in line


# -------------------------------------------------------------- --list without a country


def test_list_without_a_country_is_one_refusal_before_anything_is_sent(
    cli, api_env, tmp_path
) -> None:
    source = write(tmp_path / "in.csv", "Téléphone\n0612345678\n0612345679\n")
    result = cli("run", source, "--list", "Clients")
    assert result.exit_code == 2
    assert lines(result.stderr) == [
        f"avosms-import: {source}: no column for the country of list 'Clients' (--list) "
        "(not on the account); columns found: 'Téléphone'; give --default-country ISO2, or "
        "--map HEADER=country"
    ]
    assert api_env.stats.requests_total == 1  # the account's lists read: nothing sent
    assert not api_env.stats.add_requests
    assert cli("run", source, "--list", "Clients", "--default-country", "FR").exit_code == 0


def test_a_contacts_file_without_a_country_column_is_refused_once(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "Liste;Téléphone\nClients;0612345678\n")
    result = cli("validate", source)
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert "no column for the country of the lists" in line


# -------------------------------------------------------------- --map or columns:


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("foo", "avosms-import: --map: 'foo': expected HEADER=ROLE"),
        ("tel=bogus", "avosms-import: --map: column 'tel': unknown role 'bogus'; roles are "),
    ],
)
def test_map_errors_name_map_on_the_command_line(cli, tmp_path, value, said) -> None:
    source = write(tmp_path / "in.csv", "liste;pays;tel\nA;FR;0612345678\n")
    result = cli("validate", source, "--map", value)
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert line.startswith(said) and "--columns" not in line


def test_map_errors_name_columns_in_a_job_file(cli, tmp_path) -> None:
    write(tmp_path / "in.csv", "liste;pays;tel\nA;FR;0612345678\n")
    job = write(tmp_path / "job.yaml", "input: in.csv\ncolumns:\n  tel: bogus\n")
    (line,) = lines(cli("validate", "--job", job).stderr)
    assert line.startswith(f"avosms-import: {job}: line 2: \"columns\": column 'tel': unknown")
    missing = write(tmp_path / "missing.yaml", "input: in.csv\ncolumns:\n  Portable: phone\n")
    (line,) = lines(cli("validate", "--job", missing).stderr)
    assert "(columns: {HEADER: phone})" in line and "--map" not in line
    on_line = cli("validate", tmp_path / "in.csv", "--map", "Portable=phone")
    assert "(--map HEADER=phone)" in on_line.stderr


# -------------------------------------------------------------- reads of the account


def test_a_run_that_creates_lists_reads_the_account_lists_once(cli, api_env, tmp_path) -> None:
    source = write(
        tmp_path / "in.csv",
        "Liste;Pays;Téléphone\nA;FR;0612345678\nB;FR;0612345679\nA;FR;0612345670\n",
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert "(2 lists created for them)" in result.stderr
    assert api_env.stats.list_requests == 1
    assert sum(api_env.stats.information_requests.values()) == 0  # new lists: nothing to read


# -------------------------------------------------------------- a neighbour's national number


def test_a_french_mobile_typed_nationally_in_a_belgian_list_is_err_107(cli, tmp_path) -> None:
    source = write(tmp_path / "in.csv", "Liste;Pays;Téléphone\nBruxelles;BE;06 12 34 56 78\n")
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 1
    (row,) = read_results(tmp_path / "out.csv")
    assert (row["outcome"], row["code"], row["number"]) == ("invalid", "ERR_107", "")
    assert row["message"].startswith(
        "a number of France (+33) typed in national form, not of the list's country BE"
    )


def test_map_alone_makes_a_contacts_file(cli, tmp_path) -> None:
    """`Liste` and `Pays` would make a lists file; a mapping is only ever for contacts."""
    source = write(tmp_path / "in.csv", "Liste;Pays;Portable perso\nClients;FR;0612345678\n")
    result = cli("validate", source, "--map", "Portable perso=phone", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("contacts: 1 row in")
    assert read_results(tmp_path / "out.csv")[0]["number"] == "'+33612345678"


# ------------------------------------------------- a phone header is a contacts file, always


@pytest.mark.parametrize(
    "phone", ["Tél. portable", "N° de téléphone", "Mobile perso", "Tel mobile", "Téléphone 1"]
)
def test_a_french_phone_header_makes_a_contacts_file(cli, api_env, tmp_path, phone) -> None:
    """Recognised by its words (`tél`, `téléphone`, `mobile`), in a cp1252 file too; the
    contacts reach their list."""
    source = tmp_path / "in.csv"
    source.write_bytes(
        f"Liste;Pays;Prénom;{phone}\r\nClients;FR;Éric;06 12 34 56 78\r\n".encode("cp1252")
    )
    result = cli("run", source, "-o", "out.csv", "--rate", "0")
    assert result.exit_code == 0, result.stderr
    assert lines(result.stderr)[0].startswith(f"contacts: {source} (")
    (row,) = read_results(tmp_path / "out.csv")
    assert (row["outcome"], row["first_name"], row["phone"]) == (
        "created",
        "Éric",
        "06 12 34 56 78",
    )
    assert api_env.stats.add_requests and "lists: 1 created" not in result.stderr


@pytest.mark.parametrize("header", ["Fax", "Tél. fixe", "Tél. domicile", "Numéro"])
def test_a_landline_fax_or_row_number_header_does_not_tell_the_kind(header) -> None:
    from importer.kinds.roles import Kind, detect_kind, is_phone_header

    assert not is_phone_header(header)
    assert detect_kind(["Nom de la liste", "Pays", header]) is Kind.LISTS


@pytest.mark.parametrize(
    "header",
    ["phone", "phone_number", "phoneNumber", "msisdn", "value", "destination", "SMS", "mobile"],
)
def test_an_export_without_a_list_column_is_refused_as_contacts(cli, tmp_path, header) -> None:
    """Its header says contacts: the refusal asks for --list (and a country), not for the
    lists kind's options."""
    source = write(tmp_path / "in.csv", f"{header},first name\n0612345678,Éric\n")
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 2, result.stderr
    (line,) = lines(result.stderr)
    assert "no column for the list name" in line and "--list NAME" in line, line
    assert "--default-country" in line and "--name-column" not in line, line
    assert f"{header}=phone" not in line


def test_two_list_name_candidates_do_not_hide_a_phone_column(cli, tmp_path) -> None:
    """`Liste` and `Nom` could both be a lists file's name: the phone column decides first."""
    source = write(
        tmp_path / "in.csv", "Liste,Nom,Pays,Tél. portable\nClients,Dupont,FR,0612345678\n"
    )
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    (row,) = read_results(tmp_path / "out.csv")
    assert (row["list_name"], row["last_name"], row["outcome"]) == ("Clients", "Dupont", "planned")


def test_the_row_limit_is_said_for_a_contacts_file_found_without_kind(cli, tmp_path) -> None:
    body = "".join(f"Clients,Dupont,FR,06123456{i}\n" for i in range(10, 31))
    source = write(tmp_path / "big.csv", "Liste,Nom,Pays,Téléphone\n" + body)
    result = cli("validate", source, "--max-rows", "10", "-o", "out.csv")
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert "21 rows, more than the limit of 10" in line, line


def test_a_date_in_the_phone_column_is_a_bad_cell(cli, tmp_path) -> None:
    """Shown as an ISO date (a display the reader knows): still no phone number."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Liste", "Pays", "Téléphone"])
    sheet.append(["Clients", "FR", dt.date(2020, 1, 2)])
    sheet["C2"].number_format = "yyyy-mm-dd"
    sheet.append(["Clients", "FR", "0612345678"])
    book.save(tmp_path / "in.xlsx")
    result = cli("validate", tmp_path / "in.xlsx", "-o", "out.csv")
    assert result.exit_code == 1, result.stderr
    bad, good = read_results(tmp_path / "out.csv")
    assert (bad["outcome"], bad["code"]) == ("invalid", "BAD_CELL"), bad
    assert "cell C2 holds a date (2020-01-02" in bad["message"], bad
    assert good["outcome"] == "planned"


def test_a_duplicates_empty_cells_never_differ(cli, tmp_path) -> None:
    source = write(
        tmp_path / "in.csv",
        "Liste,Pays,Téléphone,Email,Date de naissance,Prénom\n"
        "Clients,FR,0612345678,eric@example.com,12/03/1985,Éric\n"
        "Clients,FR,06 12 34 56 78,,,Éric\n"
        "Clients,FR,+33612345678,,,Eric\n",
    )
    result = cli("validate", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    _, empty, other = read_results(tmp_path / "out.csv")
    assert empty["outcome"] == "duplicate" and "differ" not in empty["message"], empty
    assert other["message"].endswith("(other fields differ: first_name)"), other


# ------------------------------------------ --list NAME: the country of a list on the account


def test_list_on_the_account_gives_its_country(cli, creds, tmp_path) -> None:
    """The README's nightly sync: `--list` without a country column nor --default-country."""
    from importer.sandbox import SandboxServer

    source = write(tmp_path / "segment.csv", "Téléphone,Prénom\n06 12 34 56 78,Éric\n")
    with SandboxServer(existing_lists=[("Clients actifs", "FR")]) as server:
        url = ("--base-url", server.url)
        checked = cli("validate", source, "--list", "clients ACTIFS", "--check-account", *url)
        assert checked.exit_code == 0, checked.stderr
        assert not server.stats.add_requests
        ran = cli("run", source, "--list", "Clients actifs", "--sync", "-o", "out.csv", *url)
        assert ran.exit_code == 0, ran.stderr
        sent = [number for _list_id, number in server.stats.add_requests]
        missing = cli("run", source, "--list", "Prospects", "-o", "no.csv", *url)
        offline = cli("validate", source, "--list", "Clients actifs", "-o", "plan.csv")
    assert sent == ["+33612345678"]
    (row,) = read_results(tmp_path / "out.csv")
    assert (row["outcome"], row["country"]) == ("created", "")  # the cell as read: none
    for refused, where in ((missing, " (not on the account)"), (offline, "")):
        assert refused.exit_code == 2
        (line,) = lines(refused.stderr)
        assert "no column for the country of list" in line and "--default-country" in line
        assert f"(--list){where};" in line, line
    assert not (tmp_path / "no.csv").exists()
