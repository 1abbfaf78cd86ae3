"""A contacts run's results read back, through the real CLI against the sandbox: the undo of a
sync keeps opted-out numbers out and restores the rest with the sync's own options; what reading
said about a row (a field left out) stays in its final message; an update keeps what does not
change as the account holds it; the summary after a sync counts what is still there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.sandbox import FaultPlan, SandboxServer
from tests.conftest import read_results, seeded_account
from tests.test_contacts_sync import held, list_id_of, write_file

#: The list every test starts with, and its three people.
LD = "LD"
PEOPLE = ("+33678000001", "+33678000002", "+33678000003")


@pytest.fixture
def ld(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox whose list LD (FR) holds 0678000001..3, the third with an e-mail."""
    contacts = [
        {"listContactName": LD, "contactTelephoneNumber": number} for number in PEOPLE[:2]
    ] + [
        {
            "listContactName": LD,
            "contactTelephoneNumber": PEOPLE[2],
            "contactName": "Trois",
            "contactEmail": "p3@ex.fr",
        }
    ]
    yield from seeded_account(monkeypatch, [(LD, "FR")], contacts)


def phones_file(path: Path, *rows: tuple[str, ...], header: tuple[str, ...] = ("phone",)) -> Path:
    return write_file(path, list(rows), header)


def test_the_undo_of_a_sync_never_puts_back_a_number_of_the_stop_list(
    cli, ld: SandboxServer, tmp_path: Path
) -> None:
    """A number removed because it is in `--exclude` is `deleted` with code `OPTED_OUT`; the
    results read back (no STOP list given) keep it out: `excluded`, never added."""
    source = phones_file(tmp_path / "ld2.csv", ("0678000001",), ("0678000002",))
    (tmp_path / "stop2.txt").write_text("0678000003\n", encoding="utf-8")
    sync = cli(
        "run", source, "--list", LD, "--exclude", "stop2.txt", "--default-country", "FR",
        "--sync", "--max-delete", "1", "-o", "ld2.r.csv",
    )  # fmt: skip
    assert sync.exit_code == 0, sync.stderr
    removed = [row for row in read_results(tmp_path / "ld2.r.csv") if row["row"] == ""]
    assert [(r["number"].lstrip("'"), r["outcome"], r["code"]) for r in removed] == [
        (PEOPLE[2], "deleted", "OPTED_OUT")
    ]
    assert removed[0]["message"].endswith("in the STOP list")
    assert removed[0]["country"] == "FR"  # the list's, from the account
    undo = cli("run", "ld2.r.csv", "--list", LD, "--default-country", "FR", "-o", "undo.csv")
    assert undo.exit_code == 0, undo.stderr
    assert set(held(ld, LD)) == set(PEOPLE[:2])
    assert not ld.stats.add_requests
    back = read_results(tmp_path / "undo.csv")
    assert [(r["row"], r["outcome"]) for r in back] == [
        ("2", "exists"),
        ("3", "exists"),
        ("4", "excluded"),
    ]


def test_the_undo_of_a_sync_restores_with_the_syncs_options(
    cli, ld: SandboxServer, tmp_path: Path
) -> None:
    """The input rows of a `--list`/`--default-country` run keep their cells as read (no
    country); the undo run with the same options exits 0 and restores what the sync removed."""
    source = phones_file(tmp_path / "in.csv", ("0678000001",))
    sync = cli(
        "run", source, "--list", LD, "--default-country", "FR", "--sync", "--max-delete", "2",
        "-o", "sync.csv",
    )  # fmt: skip
    assert sync.exit_code == 0, sync.stderr
    assert set(held(ld, LD)) == {PEOPLE[0]}
    rows = read_results(tmp_path / "sync.csv")
    assert [(r["country"], r["outcome"]) for r in rows] == [
        ("", "exists"),
        ("FR", "deleted"),
        ("FR", "deleted"),
    ]
    undo = cli("run", "sync.csv", "--list", LD, "--default-country", "FR", "-o", "undo.csv")
    assert undo.exit_code == 0, undo.stderr
    assert set(held(ld, LD)) == set(PEOPLE)
    assert held(ld, LD)[PEOPLE[2]]["contactEmail"] == "p3@ex.fr"
    list_id = list_id_of(ld, LD)
    assert ld.stats.add_requests == {(list_id, PEOPLE[1]): 1, (list_id, PEOPLE[2]): 1}


def test_run_keeps_what_reading_said_about_a_field_left_out(
    cli, ld: SandboxServer, tmp_path: Path
) -> None:
    """`validate` and `run` say alike which field was left out and why: on created, exists and
    updated rows."""
    source = phones_file(
        tmp_path / "in.csv",
        ("0678000009", "bad-email", ""),  # created
        ("0678000001", "", "31/02/1980"),  # exists
        ("0678000003", "bad-email", "31/02/1980"),  # updated: its last name
        header=("phone", "email", "birthday"),
    )
    checked = cli("validate", source, "--list", LD, "--default-country", "FR", "-o", "v.csv")
    assert checked.exit_code == 0, checked.stderr
    said = [row["message"] for row in read_results(tmp_path / "v.csv")]
    assert "e-mail 'bad-email'" in said[0] and "left out" in said[0]
    assert "birthday '31/02/1980'" in said[1] and "left out" in said[1]
    result = cli("run", source, "--list", LD, "--default-country", "FR", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [row["outcome"] for row in rows] == ["created", "exists", "exists"]
    assert rows[0]["message"].startswith("added to list")
    assert rows[1]["message"].startswith("already in list")
    for row, reading in zip(rows, said, strict=True):
        assert row["message"].endswith(reading), (row["message"], reading)
    assert rows[2]["message"].count("left out") == 2
    # With --update, the row whose last name differs is updated and still says so.
    update_file = phones_file(
        tmp_path / "up.csv",
        ("0678000003", "Autre", "bad-email"),
        header=("phone", "nom", "email"),
    )
    updated = cli(
        "run", update_file, "--list", LD, "--default-country", "FR", "--update", "-o", "up.out.csv"
    )
    assert updated.exit_code == 0, updated.stderr
    (row,) = read_results(tmp_path / "up.out.csv")
    assert row["outcome"] == "updated"
    assert row["message"].startswith("updated in list") and "last_name" in row["message"]
    assert "e-mail 'bad-email'" in row["message"] and "left out" in row["message"]
    assert row["email"] == "p3@ex.fr"  # left out of the file: the account's value kept


def test_an_update_keeps_the_accounts_email_when_only_its_case_differs(
    cli, ld: SandboxServer, tmp_path: Path
) -> None:
    """E-mails compare without case; a field that does not change is sent as the account holds
    it, so the message's list of changed fields is the whole truth."""
    source = phones_file(
        tmp_path / "in.csv", ("0678000003", "Autre", "P3@EX.FR"), header=("phone", "nom", "email")
    )
    result = cli(
        "run", source, "--list", LD, "--default-country", "FR", "--update", "-o", "out.csv"
    )
    assert result.exit_code == 0, result.stderr
    (row,) = read_results(tmp_path / "out.csv")
    assert row["outcome"] == "updated"
    assert row["message"].endswith(": last_name")
    assert row["email"] == "p3@ex.fr"
    assert held(ld, LD)[PEOPLE[2]]["contactEmail"] == "p3@ex.fr"
    assert held(ld, LD)[PEOPLE[2]]["contactName"] == "Autre"


def test_after_a_sync_the_summary_counts_only_the_excluded_numbers_still_there(
    cli, ld: SandboxServer, tmp_path: Path
) -> None:
    """An import leaves an excluded number in its list and says so; a sync removes it, says it
    will, and its summary (line and JSON) no longer counts it."""
    source = phones_file(tmp_path / "in.csv", ("0678000001",), ("0678000002",))
    (tmp_path / "stop.txt").write_text("0678000003\n", encoding="utf-8")
    common = ("--list", LD, "--exclude", "stop.txt", "--default-country", "FR")
    plain = cli("run", source, *common, "-o", "plain.json")
    assert plain.exit_code == 0, plain.stderr
    assert "an import leaves them there; --sync removes them" in plain.stderr
    assert "1 excluded number still in a list" in plain.stderr
    summary = json.loads((tmp_path / "plain.json").read_text(encoding="utf-8"))["summary"]
    assert list(summary["excluded_present"].values()) == [[PEOPLE[2]]]
    synced = cli("run", source, *common, "--sync", "--max-delete", "1", "-o", "sync.json")
    assert synced.exit_code == 0, synced.stderr
    assert "--sync removes them (within --max-delete)" in synced.stderr
    assert "an import leaves them there" not in synced.stderr
    assert "still in a list" not in synced.stderr
    summary = json.loads((tmp_path / "sync.json").read_text(encoding="utf-8"))["summary"]
    assert summary["excluded_present"] == {}
    assert set(held(ld, LD)) == set(PEOPLE[:2])


@pytest.mark.parametrize("made_by", ["contacts-export", "run"])
def test_a_json_export_or_results_file_is_refused_as_input_in_one_line(
    cli, ld: SandboxServer, tmp_path: Path, made_by: str
) -> None:
    """JSON is written, never read back: one line naming the file and what to do, exit 2."""
    if made_by == "contacts-export":
        made = cli("contacts-export", LD, "-o", "x.json")
    else:
        source = phones_file(tmp_path / "in.csv", ("0678000001",))
        made = cli("run", source, "--list", LD, "--default-country", "FR", "-o", "x.json")
    assert made.exit_code == 0, made.stderr
    again = cli("run", "x.json", "--list", LD, "--default-country", "FR")
    assert again.exit_code == 2
    assert again.stderr.strip().splitlines() == [
        "avosms-import: x.json: JSON is written, never read back (an export or a results file "
        "in JSON is one-way): export or write the results as .csv or .xlsx to import them"
    ]
    assert not ld.stats.add_requests


def test_a_row_whose_list_cannot_be_created_still_says_what_was_left_out(
    cli, creds: None, tmp_path: Path
) -> None:
    with SandboxServer(faults=FaultPlan(error_9xx_rate=1.0)) as server:
        source = phones_file(
            tmp_path / "in.csv", ("0678000001", "bad-email"), header=("phone", "email")
        )
        result = cli(
            "run", source, "--list", "Nouvelle", "--default-country", "FR",
            "--base-url", server.url, "--max-attempts", "1", "-o", "out.csv",
        )  # fmt: skip
        assert result.exit_code == 1, result.stderr
    (row,) = read_results(tmp_path / "out.csv")
    assert row["outcome"] == "failed" and row["code"].startswith("LIST_ERR_9")
    assert row["message"].startswith("not sent: its list could not be created")
    assert "e-mail 'bad-email'" in row["message"] and row["message"].endswith("left out")
