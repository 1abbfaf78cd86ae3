"""`contacts-export` through the real CLI against the sandbox: reads only, every option, every
format, and an export that imports back into an empty account as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from importer.account_export import EXPORT_COLUMNS
from importer.api.endpoints import CONTACT_DELETE
from importer.kinds.contacts import CONTACT_COLUMNS
from importer.sandbox import DEMO_ID, DEMO_KEY, NameRule, SandboxServer
from tests.conftest import read_results, seeded_account
from tests.test_sandbox_contacts import post

LISTS = [("Clients Paris", "FR"), ("Newsletter", "FR"), ("Clients Bruxelles", "BE")]
SEED = [
    {
        "listContactName": "Clients Paris",
        "contactTelephoneNumber": "+33612345678",
        "contactCivility": "M",
        "contactName": "Dupont",
        "contactFirstName": "Jean",
        "contactEmail": "jean.dupont@example.fr",
        "contactBirthday": "12/03/1985",
        "contactOther": "=1+1",  # formula-like: guarded in CSV and XLSX, imported back as it is
    },
    {
        "listContactName": "Clients Paris",
        "contactTelephoneNumber": "0623456789",  # the national form the account may hold
        "contactCivility": "Mme",
        "contactName": "Durand",
        "contactFirstName": "Anne-Sophie",
        "contactOther": '-VIP, relance; "oui"',
    },
    {"listContactName": "Newsletter", "contactTelephoneNumber": "+33611223344"},
    {
        "listContactName": "Clients Bruxelles",
        "contactTelephoneNumber": "+32470123456",
        "contactFirstName": "Lucas",
    },
]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox account holding `LISTS` and `SEED`, with the demo credentials set."""
    yield from seeded_account(monkeypatch, LISTS, SEED)


def book(server: SandboxServer) -> dict[tuple[str, str], dict[str, str]]:
    """What the account holds: (list name, number in E.164) -> the contact's fields."""
    held = {}
    for item in server.lists():
        for contact in server.contacts(item.list_contact_id):
            held[(item.name, contact.e164)] = dict(contact.fields)
    return held


def only_reads(server: SandboxServer, lists_read: int) -> None:
    assert server.stats.list_requests == 1
    assert sum(server.stats.information_requests.values()) == lists_read
    assert not server.stats.create_requests and not server.stats.add_requests
    assert not server.stats.update_requests and not server.stats.delete_requests


def test_lists_by_name_are_matched_by_the_same_name_rule(cli, account, tmp_path: Path) -> None:
    result = cli("contacts-export", "  clients   PARIS ", "newsletter", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "3 contacts of 2 lists written to out.csv\n"
    only_reads(account, 2)
    rows = read_results(tmp_path / "out.csv")
    assert tuple(rows[0]) == EXPORT_COLUMNS
    # The results' columns a contacts import reads back, in their order.
    what_happened = {"row", "number", "outcome", "code", "message", "attempts"}
    assert tuple(c for c in CONTACT_COLUMNS if c not in what_happened) == EXPORT_COLUMNS
    assert rows[0] == {
        "list_name": "Clients Paris",
        "country": "FR",
        "phone": "'+33612345678",  # the CSV formula guard, as in results files
        "list_contact_id": "1001",
        "civility": "M",
        "last_name": "Dupont",
        "first_name": "Jean",
        "email": "jean.dupont@example.fr",
        "birthday": "12/03/1985",
        "other": "'=1+1",
    }
    assert [row["phone"] for row in rows[1:]] == ["0623456789", "'+33611223344"]


def test_id_and_all_choose_lists_each_once(cli, account, tmp_path: Path) -> None:
    result = cli("contacts-export", "--id", "1003", "--id", "1001", "Clients Paris", "-o", "a.csv")
    assert result.exit_code == 0, result.stderr
    only_reads(account, 2)
    rows = read_results(tmp_path / "a.csv")
    names = [row["list_name"] for row in rows]
    assert names == ["Clients Paris", "Clients Paris", "Clients Bruxelles"]  # names, then ids

    every = cli("contacts-export", "--all", "-o", "b.csv")
    assert every.exit_code == 0, every.stderr
    assert "4 contacts of 3 lists written to b.csv" in every.stderr
    assert len(read_results(tmp_path / "b.csv")) == 4


def test_the_default_output_and_an_empty_list(cli, account, tmp_path: Path) -> None:
    with SandboxServer(existing_lists=[("Vide", "FR")]) as empty:
        result = cli("contacts-export", "Vide", "--base-url", empty.url)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "0 contacts of 1 list written to account-contacts.csv\n"
    assert (tmp_path / "account-contacts.csv").read_text(encoding="utf-8-sig").splitlines() == [
        ",".join(f'"{column}"' for column in EXPORT_COLUMNS)
    ]


@pytest.mark.parametrize("suffix", [".json", ".xlsx"])
def test_json_and_xlsx_by_extension(cli, account, tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"out{suffix}"
    assert cli("contacts-export", "Clients Paris", "-o", output).exit_code == 0
    if suffix == ".json":
        rows = json.loads(output.read_text(encoding="utf-8"))
        assert [(r["phone"], r["other"]) for r in rows] == [
            ("+33612345678", "=1+1"),  # JSON is data: written unchanged
            ("0623456789", '-VIP, relance; "oui"'),
        ]
    else:
        sheet = load_workbook(output, read_only=True)["Contacts"]
        header, *rows = sheet.iter_rows(values_only=True)
        assert header == EXPORT_COLUMNS
        # E.164 stays as it is in a workbook; other formula-like cells are guarded.
        assert [(r[2], r[9]) for r in rows] == [
            ("+33612345678", "'=1+1"),
            ("0623456789", '\'-VIP, relance; "oui"'),
        ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_imports_back_into_an_empty_account_as_it_was(
    cli, account, tmp_path: Path, suffix: str
) -> None:
    export = tmp_path / f"backup{suffix}"
    assert cli("contacts-export", "--all", "-o", export).exit_code == 0
    before = book(account)
    with SandboxServer() as fresh:
        result = cli("run", export, "--base-url", fresh.url, "-o", "restore.csv")
        assert result.exit_code == 0, result.stderr
        assert "4 created" in result.stderr
        assert "(3 lists created for them)" in result.stderr
        restored = book(fresh)
        countries = {item.name: item.country_code for item in fresh.lists()}
    assert restored == before
    assert countries == {"Clients Paris": "FR", "Newsletter": "FR", "Clients Bruxelles": "BE"}


def test_a_list_emptied_then_restored_from_its_export(cli, account, tmp_path: Path) -> None:
    assert cli("contacts-export", "Clients Paris", "-o", "paris.xlsx").exit_code == 0
    before = book(account)
    for contact in account.contacts("1001"):
        form = {"listContactId": "1001", "contactTelephoneNumber": contact.number}
        assert post(account, CONTACT_DELETE.path, **form)["code"] == "OK"
    assert not account.contacts("1001")
    result = cli("run", "paris.xlsx", "-o", "restore.csv")
    assert result.exit_code == 0, result.stderr
    assert book(account) == before
    # The list existed: its contacts went back into it, by its name.
    assert all(row["list_contact_id"] == "1001" for row in read_results(tmp_path / "restore.csv"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["Clients Pari"],
            "no list named 'Clients Pari' on the account; "
            "did you mean 'Clients Paris' or 'Clients Bruxelles'?",
        ),
        (
            ["Zzz"],
            "no list named 'Zzz' on the account; its lists: 'Clients Paris', 'Newsletter', "
            "'Clients Bruxelles'",
        ),
        (["--id", "42"], "no list with id '42' on the account"),
        ([], "name at least one list (LIST or --id ID), or give --all"),
        (
            ["--all", "-o", "out.txt"],
            "out.txt: unknown file format '.txt'; use one of .csv, .xlsx, .json",
        ),
    ],
)
def test_what_cannot_be_exported_is_one_line_and_exit_2(
    cli, account, args: list[str], message: str
) -> None:
    result = cli("contacts-export", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"avosms-import: {message}"]
    assert not account.stats.information_requests  # refused before any list is read


def test_a_name_the_account_holds_twice_is_refused_with_their_ids(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    lists = [("Paris", "FR"), ("PARIS", "FR")]
    with SandboxServer(existing_lists=lists, name_rule=NameRule.STRICT) as server:
        result = cli("contacts-export", "paris", "--base-url", server.url)
        assert not server.stats.information_requests
        chosen = cli("contacts-export", "--id", "1002", "--base-url", server.url, "-o", "p.csv")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "avosms-import: list name 'paris' is ambiguous: the account has 2 lists with this name: "
        "'Paris' (id 1001), 'PARIS' (id 1002); choose one with --id"
    ]
    assert chosen.exit_code == 0, chosen.stderr


def test_credentials_and_api_errors(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVOSMS_ID", raising=False)
    monkeypatch.delenv("AVOSMS_KEY", raising=False)
    with SandboxServer(existing_lists=LISTS) as server:
        missing = cli("contacts-export", "--all", "--base-url", server.url)
        monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
        monkeypatch.setenv("AVOSMS_KEY", "not-the-demo-key")
        refused = cli("contacts-export", "--all", "--base-url", server.url)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("avosms-import: no credentials")
    assert refused.exit_code == 3
    assert "ERR_100" in refused.stderr and "not-the-demo-key" not in refused.stderr
    assert len(refused.stderr.splitlines()) == 1


def test_a_job_file_gives_the_api_settings(cli, account, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(f"base_url: {account.url}\ntimeout: 5\nmax_attempts: 2\n", encoding="utf-8")
    result = cli(
        "contacts-export", "Newsletter", "--job", job, "--backoff-initial", "0.1", "-o", "n.csv"
    )
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "n.csv")[0]["phone"] == "'+33611223344"
