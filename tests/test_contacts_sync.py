"""Updates and syncs of contacts against the sandbox: merged records, removals behind the guard,
lost answers, a kill -9, and the results file as the undo file."""

from __future__ import annotations

import csv
import json
import os
import random
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.api.answers import AccountContact
from importer.api.endpoints import CONTACT_DELETE, CONTACT_FIELDS
from importer.journal_schema import MIGRATIONS
from importer.kinds.contacts import prepare
from importer.kinds.contacts_plan import ListOnAccount
from importer.kinds.contacts_sync import MaxDelete, removals
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from tests.conftest import library_run, read_results
from tests.test_resume import start_cli
from tests.test_truth import FAST_RETRIES, FAULT_MIX

#: The file's columns: list, country, phone, then the optional fields by request field name.
HEADER = ("liste", "pays", "téléphone", "nom", "prénom", "email")
FILE_FIELDS = ("contactName", "contactFirstName", "contactEmail")


def write_file(path: Path, rows: list[tuple[str, ...]], header: tuple[str, ...] = HEADER) -> Path:
    """A contacts file: one `;`-separated line per row, under `header`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def seed(list_name: str, *people: tuple[str, ...]) -> list[dict[str, str]]:
    """Contacts a sandbox list starts with: (number, last name, first name, e-mail) each."""
    return [
        {"listContactName": list_name, "contactTelephoneNumber": number}
        | dict(zip(FILE_FIELDS, fields, strict=False))
        for number, *fields in people
    ]


def mobile(n: int) -> str:
    return f"+336{10000000 + n:08d}"


def held(server: SandboxServer, name: str) -> dict[str, dict[str, str]]:
    """A sandbox list's contacts: E.164 -> request field -> value."""
    list_id = list_id_of(server, name)
    return {contact.e164: dict(contact.fields) for contact in server.contacts(list_id)}


def list_id_of(server: SandboxServer, name: str) -> str:
    return next(list_id for list_id, (known, _) in server.stats.lists.items() if known == name)


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's demo credentials in the environment."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)


@pytest.fixture
def account(demo: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox whose list "Clients" (FR) holds three people."""
    people = seed(
        "Clients",
        (mobile(1), "Durand", "Anne", "anne@example.fr"),
        (mobile(2), "Martin", "Paul", "paul@example.fr"),
        (mobile(3), "Petit", "Léa", "lea@example.fr"),
    )
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=people) as server:
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        yield server


def by_number(path: Path) -> dict[str, dict[str, str]]:
    return {row["number"].lstrip("'"): row for row in read_results(path)}


# --------------------------------------------------------------------------- --update


def test_update_sends_the_merged_record_and_never_blanks_an_empty_cell(
    cli, account, tmp_path: Path
) -> None:
    source = write_file(
        tmp_path / "in.csv",
        [
            ("Clients", "FR", "06 10 00 00 01", "", "", "anne.durand@example.fr"),  # new e-mail
            ("Clients", "FR", "06 10 00 00 02", "Martin", "Paul", "PAUL@example.fr"),  # same
            ("Clients", "FR", "06 10 00 00 03", "Petit-Roux", "", ""),  # new last name
        ],
    )
    result = cli("run", source, "--update", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert "2 updated, 1 exists" in result.stderr
    rows = by_number(tmp_path / "out.csv")
    anne, paul, lea = rows[mobile(1)], rows[mobile(2)], rows[mobile(3)]
    assert (anne["outcome"], anne["code"]) == ("updated", "OK")
    assert anne["message"].endswith(": email")
    # The results row is the merged record that was sent, the account's number included.
    assert (anne["last_name"], anne["first_name"], anne["email"]) == (
        "Durand",
        "Anne",
        "anne.durand@example.fr",
    )
    assert paul["outcome"] == "exists"  # an e-mail's case is no difference
    assert lea["outcome"] == "updated" and lea["message"].endswith(": last_name")
    after = held(account, "Clients")
    assert after[mobile(1)]["contactFirstName"] == "Anne"  # the empty cell kept it
    assert after[mobile(1)]["contactEmail"] == "anne.durand@example.fr"
    assert (after[mobile(3)]["contactName"], after[mobile(3)]["contactEmail"]) == (
        "Petit-Roux",
        "lea@example.fr",
    )
    assert sum(account.stats.update_requests.values()) == 2
    assert sum(account.stats.add_requests.values()) == 0


def test_without_update_differing_rows_stay_exists_and_nothing_is_updated(
    cli, account, tmp_path: Path
) -> None:
    source = write_file(
        tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "new@example.fr")]
    )
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    row = by_number(tmp_path / "out.csv")[mobile(1)]
    assert row["outcome"] == "exists"
    assert "differs on the account: email (not updated)" in row["message"]
    assert not account.stats.update_requests


def test_clear_empty_blanks_empty_cells_only(cli, account, tmp_path: Path) -> None:
    """An empty cell is blanked; a cell left out as invalid and a column the file lacks are not."""
    header = ("liste", "pays", "téléphone", "prénom", "email")
    source = write_file(
        tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "not an e-mail")], header
    )
    result = cli("run", source, "--update", "--clear-empty", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    row = by_number(tmp_path / "out.csv")[mobile(1)]
    assert (row["outcome"], row["first_name"]) == ("updated", "")
    changed, said = row["message"].split("; ", 1)
    assert changed.endswith(": first_name")
    assert said.startswith("e-mail 'not an e-mail' is not valid") and said.endswith("left out")
    after = held(account, "Clients")[mobile(1)]
    assert after["contactFirstName"] == ""
    assert (after["contactEmail"], after["contactName"]) == ("anne@example.fr", "Durand")


def test_clear_empty_needs_update(cli, account, tmp_path: Path) -> None:
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "")])
    result = cli("run", source, "--clear-empty")
    assert result.exit_code == 2
    assert "--clear-empty (job key clear_empty) applies to updates: add --update" in result.stderr
    assert account.stats.requests_total == 0


def test_update_and_sync_are_refused_on_a_lists_file(cli, account, tmp_path: Path) -> None:
    source = tmp_path / "lists.csv"
    source.write_text("name,country\nClients,FR\n", encoding="utf-8")
    for flag in ("--update", "--sync"):
        result = cli("run", source, flag)
        assert result.exit_code == 2
        assert "apply to contacts files, and this is a lists file" in result.stderr
    assert account.stats.requests_total == 0


def test_an_update_whose_contact_left_the_list_is_an_add(tmp_path: Path) -> None:
    people = seed("Clients", (mobile(1), "Durand"), (mobile(2), "Martin"))
    source = write_file(
        tmp_path / "in.csv",
        [
            ("Clients", "FR", mobile(1), "Durand-X", "", ""),
            ("Clients", "FR", mobile(2), "M", "", ""),
        ],
    )
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=people) as server:
        list_id = list_id_of(server, "Clients")
        read_list = server.information
        reads: list[str] = []

        def information(form: Mapping[str, str]) -> dict[str, Any]:
            answer = read_list(form)
            reads.append(form.get("listContactId", ""))
            if reads == [list_id]:
                # Someone removes the second contact right after its list was first read.
                gone = {"listContactId": list_id, "contactTelephoneNumber": mobile(2)}
                removed = server.contact(CONTACT_DELETE, {**gone, "id": DEMO_ID, "key": DEMO_KEY})
                assert removed["code"] == "OK"
            return answer

        server.information = information  # type: ignore[method-assign]
        result = library_run(tmp_path, server, source, lambda _: None, workers=1, update=True)
        assert result.exit_code == 0
        assert held(server, "Clients")[mobile(2)]["contactName"] == "M"
        assert server.stats.added == {(list_id, mobile(2)): 1}
    rows = by_number(tmp_path / "out.csv")
    assert rows[mobile(1)]["outcome"] == "updated"
    again = rows[mobile(2)]
    assert (again["outcome"], again["attempts"]) == ("created", "2")
    assert "it had left the list before its update (ERR_104)" in again["message"]


# --------------------------------------------------------------------------- --sync


def test_sync_removes_exactly_the_numbers_the_file_does_not_name(
    cli, account, tmp_path: Path
) -> None:
    account_list = list_id_of(account, "Clients")
    source = write_file(
        tmp_path / "in.csv",
        [
            ("Clients", "FR", "0610000001", "Durand", "Anne", ""),
            ("Clients", "FR", "0610000003", "", "", ""),
            ("Clients", "FR", "0610000004", "Neuf", "", ""),
        ],
    )
    # 1 of 3 contacts is 33%: over the default 10%, within --max-delete 1.
    result = cli("run", source, "--sync", "--max-delete", "1", "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert "1 created, 2 exists, 1 deleted" in result.stderr
    assert set(held(account, "Clients")) == {mobile(1), mobile(3), mobile(4)}
    assert account.stats.deleted == {(account_list, mobile(2)): 1}
    assert sum(account.stats.delete_requests.values()) == 1
    rows = read_results(tmp_path / "out.csv")
    removal = rows[-1]  # after the input rows, with no row number, its full record
    assert [row["row"] for row in rows] == ["2", "3", "4", ""]
    assert (removal["outcome"], removal["code"]) == ("deleted", "OK")
    assert (removal["list_name"], removal["country"], removal["list_contact_id"]) == (
        "Clients",
        "FR",
        account_list,
    )
    assert (removal["last_name"], removal["first_name"], removal["email"]) == (
        "Martin",
        "Paul",
        "paul@example.fr",
    )
    assert removal["message"] == f"deleted from list {account_list}: not in the file"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_results_of_a_sync_imported_back_restore_the_removed_contacts(
    cli, account, tmp_path: Path, suffix: str
) -> None:
    before = held(account, "Clients")
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "")])
    synced = f"sync{suffix}"
    result = cli("run", source, "--sync", "--max-delete", "100%", "-o", synced)
    assert result.exit_code == 0, result.stderr
    assert set(held(account, "Clients")) == {mobile(1)}
    undo = cli("run", synced, "-o", "undo.csv")
    assert undo.exit_code == 0, undo.stderr
    assert held(account, "Clients") == before  # every field of every removed contact is back
    outcomes = {
        row["number"].lstrip("'"): row["outcome"] for row in read_results(tmp_path / "undo.csv")
    }
    assert outcomes == {mobile(1): "exists", mobile(2): "created", mobile(3): "created"}


@pytest.mark.parametrize(
    ("rows", "more"),
    [
        ([], "the file holds a header only"),  # an empty export
        ([("Clients", "FR", "0610000001", "", "", "")], "would remove 2 of the 3 contacts"),
    ],
    ids=["empty", "truncated"],
)
def test_the_guard_refuses_an_empty_or_truncated_file_and_sends_nothing(
    cli, account, tmp_path: Path, rows, more
) -> None:
    new_list = [("Nouvelle", "FR", "0610000009", "", "", "")] if rows else []
    source = write_file(tmp_path / "in.csv", [*rows, *new_list])
    reads = account.stats.list_requests
    result = cli("run", source, "--sync", "--kind", "contacts", "-o", "out.csv")
    assert result.exit_code == 2
    assert more in result.stderr
    assert account.stats.create_requests.total() == 0  # not even the new list
    for counter in ("add_requests", "update_requests", "delete_requests"):
        assert not getattr(account.stats, counter)
    assert account.stats.list_requests <= reads + 1  # reads only
    assert len(held(account, "Clients")) == 3
    assert not (tmp_path / "out.csv").exists()


def test_the_guard_gives_one_line_per_list_and_stops_every_list(cli, demo, tmp_path: Path) -> None:
    people = seed("A", *[(mobile(n),) for n in range(20)]) + seed(
        "B", *[(mobile(n),) for n in range(10)]
    )
    people += seed("C", *[(mobile(n),) for n in range(10)])
    lists = [("A", "FR"), ("B", "FR"), ("C", "FR")]
    rows = [("A", "FR", mobile(n), "", "", "") for n in range(17)]  # A loses 3 of 20: 15%
    rows += [("B", "FR", mobile(n), "", "", "") for n in range(5)]  # B loses 5 of 10: 50%
    rows += [("C", "FR", mobile(n), "", "", "") for n in range(9)]  # C loses 1 of 10: 10%
    source = write_file(tmp_path / "in.csv", rows)
    with SandboxServer(existing_lists=lists, existing_contacts=people) as server:
        result = cli("run", source, "--sync", "--base-url", server.url, "--state", "s.db")
        assert result.exit_code == 2
        *plan, guard = result.stderr.strip().split("\navosms-import: ")
        # The plan comes first (a line per list), then the guard's refusal.
        planned = [line for line in plan[0].splitlines() if line.startswith("plan for")]
        assert [line.split(":")[0] for line in planned] == [
            "plan for list 'A' (id 1001, 20 contacts)",
            "plan for list 'B' (id 1002, 10 contacts)",
            "plan for list 'C' (id 1003, 10 contacts)",
        ]
        lines = ("avosms-import: " + guard).splitlines()
        assert len(lines) == 2, result.stderr
        assert lines[0].startswith(
            "avosms-import: --sync would remove 3 of the 20 contacts of list 'A'"
        )
        assert "more than --max-delete 10% allows (2)" in lines[0]
        assert "allow it with --max-delete 3 (job key max_delete)" in lines[0]
        assert lines[1].startswith("--sync would remove 5 of the 10 contacts of list 'B'")
        assert not server.stats.delete_requests  # not even from C, within the guard
        runs = cli("runs", "--state", "s.db")
        assert "exit 2" in runs.stdout
        allowed = cli("run", source, "--sync", "--base-url", server.url, "--max-delete", "50%")
        assert allowed.exit_code == 0, allowed.stderr
        assert sum(server.stats.deleted.values()) == 3 + 5 + 1


@pytest.mark.parametrize(
    ("max_delete", "before", "allowed"),
    [
        ("10%", 10, 1),
        ("10%", 19, 1),  # 1.9 is never rounded up
        ("10%", 20, 2),
        ("12.5%", 24, 3),
        ("0%", 50, 0),
        ("100%", 7, 7),
        ("3", 1000, 3),
        (0, 5, 0),
        (" 7 ", 2, 7),
    ],
)
def test_the_guard_compares_exactly(max_delete, before, allowed) -> None:
    assert MaxDelete.parse(max_delete).allowed(before) == allowed


@pytest.mark.parametrize("value", ["-1", "101%", "2.5", "ten", "%", "", "nan%", True])
def test_max_delete_refuses_what_is_not_a_count_or_a_share(cli, tmp_path: Path, value) -> None:
    with pytest.raises(ValueError):
        MaxDelete.parse(value)
    if isinstance(value, str) and value:
        source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "")])
        result = cli("validate", source, "--max-delete", value)
        assert result.exit_code == 2
        assert "--max-delete must be a number of contacts such as 50, or a share such as 10%" in (
            result.stderr
        )


def test_max_delete_is_exact_at_the_boundary(cli, demo, tmp_path: Path) -> None:
    """10 contacts, 10%: one removal passes, two are refused."""
    people = seed("A", *[(mobile(n),) for n in range(10)])
    with SandboxServer(existing_lists=[("A", "FR")], existing_contacts=people) as server:
        two = write_file(
            tmp_path / "two.csv", [("A", "FR", mobile(n), "", "", "") for n in range(8)]
        )
        refused = cli("run", two, "--sync", "--base-url", server.url)
        assert refused.exit_code == 2 and "would remove 2 of the 10" in refused.stderr
        one = write_file(
            tmp_path / "one.csv", [("A", "FR", mobile(n), "", "", "") for n in range(9)]
        )
        done = cli("run", one, "--sync", "--base-url", server.url)
        assert done.exit_code == 0, done.stderr
        assert len(server.stats.deleted) == 1


def test_validate_check_account_plans_the_removals_and_their_guard(
    cli, account, tmp_path: Path
) -> None:
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "x@y.fr")])
    result = cli("validate", source, "--check-account", "--sync", "--update", "-o", "plan.csv")
    assert result.exit_code == 2  # the run would refuse: 2 of 3
    assert "--sync would remove 2 of the 3 contacts of list 'Clients'" in result.stderr
    rows = read_results(tmp_path / "plan.csv")
    assert [(row["row"], row["outcome"]) for row in rows] == [
        ("2", "planned"),
        ("", "planned"),
        ("", "planned"),
    ]
    assert rows[0]["message"].startswith("to update in list ")
    assert rows[1]["message"].endswith(": not in the file")
    within = cli(
        "validate", source, "--check-account", "--sync", "--max-delete", "2", "-o", "p.csv"
    )
    assert within.exit_code == 0, within.stderr
    writes = ("create_requests", "add_requests", "update_requests", "delete_requests")
    assert not any(getattr(account.stats, counter) for counter in writes)


def test_sync_update_and_clear_empty_from_a_job_file(cli, account, tmp_path: Path) -> None:
    write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "Annie", "")])
    (tmp_path / "job.yaml").write_text(
        "input: in.csv\noutput: out.csv\nupdate: true\nclear_empty: true\nsync: true\n"
        "max_delete: 2\n",
        encoding="utf-8",
    )
    result = cli("run", "--job", "job.yaml")
    assert result.exit_code == 0, result.stderr
    assert "1 updated, 2 deleted" in result.stderr
    after = held(account, "Clients")
    assert after == {mobile(1): dict.fromkeys(CONTACT_FIELDS, "") | {"contactFirstName": "Annie"}}


# --------------------------------------------------------------------------- faults and kills


def test_30_percent_lost_answers_on_updates_and_deletes_are_settled_truthfully(
    cli, demo, tmp_path: Path
) -> None:
    people = seed("A", *[(mobile(n), f"Nom {n}") for n in range(300)])
    rows = [("A", "FR", mobile(n), f"Nouveau {n}", "", "") for n in range(100)]  # updates
    rows += [("A", "FR", mobile(n), f"Nom {n}", "", "") for n in range(100, 200)]  # unchanged
    source = write_file(tmp_path / "in.csv", rows)  # 100 to delete
    with SandboxServer(existing_lists=[("A", "FR")], existing_contacts=people) as server:
        server.set_faults(FaultPlan(lost_answer_rate=0.3, seed=7))
        result = cli(
            "run", source, "--update", "--sync", "--max-delete", "100", "--base-url", server.url,
            *FAST_RETRIES, "-o", "out.csv",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert server.stats.faults["lost_answer"] > 30
        after = held(server, "A")
        list_id = list_id_of(server, "A")
        # Each change done once: a lost update sent again changes nothing the second time.
        assert server.stats.updated == {(list_id, mobile(n)): 1 for n in range(100)}
        assert server.stats.deleted == {(list_id, mobile(n)): 1 for n in range(200, 300)}
    assert set(after) == {mobile(n) for n in range(200)}
    assert all(after[mobile(n)]["contactName"] == f"Nouveau {n}" for n in range(100))
    results = read_results(tmp_path / "out.csv")
    outcomes = [row["outcome"] for row in results]
    assert outcomes.count("updated") == 100 and outcomes.count("deleted") == 100
    assert outcomes.count("exists") == 100
    settled = [row for row in results if "confirmed by re-reading the list" in row["message"]]
    assert any(row["outcome"] == "deleted" for row in settled), "no lost delete was settled"


def test_a_sync_killed_at_a_random_point_then_run_again_does_each_change_once(
    tmp_path: Path,
) -> None:
    count = 1200  # 400 kept, 400 updated, 400 removed on the account; 400 new in the file
    people = seed("A", *[(mobile(n), f"Nom {n}") for n in range(count)])
    rows = [("A", "FR", mobile(n), f"Nom {n}", "", "") for n in range(400)]
    rows += [("A", "FR", mobile(n), f"Autre {n}", "", "") for n in range(400, 800)]
    rows += [("A", "FR", mobile(n), f"Nouveau {n}", "", "") for n in range(count, count + 400)]
    source = write_file(tmp_path / "in.csv", rows)
    kill_at = random.Random(os.getpid()).randint(20, 1150)  # changes done when killed

    def changes() -> int:
        return sum(len(getattr(server.stats, c)) for c in ("added", "updated", "deleted"))

    with SandboxServer(
        existing_lists=[("A", "FR")], existing_contacts=people, faults=FaultPlan(latency=0.002)
    ) as server:
        list_id = list_id_of(server, "A")
        args = ("run", source, "-o", "out.csv", "--rate", "0", "--update", "--sync")
        args += ("--max-delete", "34%")
        first = start_cli(server, *args, cwd=tmp_path)
        deadline = time.monotonic() + 120
        while changes() < kill_at:
            assert time.monotonic() < deadline and first.poll() is None, "no kill point reached"
            time.sleep(0.002)
        first.kill()
        first.wait()
        done_at_kill = changes()
        second = start_cli(server, *args, cwd=tmp_path)
        _, stderr = second.communicate(timeout=240)
        assert second.returncode == 0, stderr
        assert done_at_kill < 1200, "the kill came too late to test anything"
        assert server.stats.added == {(list_id, mobile(n)): 1 for n in range(count, count + 400)}
        assert server.stats.updated == {(list_id, mobile(n)): 1 for n in range(400, 800)}
        assert server.stats.deleted == {(list_id, mobile(n)): 1 for n in range(800, count)}
        after = held(server, "A")
    wanted = {row[2]: row[3] for row in rows}
    assert {number: fields["contactName"] for number, fields in after.items()} == wanted
    results = read_results(tmp_path / "out.csv")
    removals = [row for row in results if row["row"] == ""]
    # Every removal is in the second run's results, those of the killed run said as such.
    assert {row["number"].lstrip("'") for row in removals} == {mobile(n) for n in range(800, count)}
    assert {row["outcome"] for row in removals} <= {"deleted", "exists"}
    assert all(
        row["message"].startswith("already gone: deleted from list")
        for row in removals
        if row["outcome"] == "exists"
    )


def test_a_contacts_journal_of_the_previous_schema_is_upgraded(
    cli, account, tmp_path: Path
) -> None:
    connection = sqlite3.connect(tmp_path / "state.db")
    for migrate in MIGRATIONS[:2]:
        migrate(connection)
    connection.execute("PRAGMA user_version = 2")
    connection.commit()
    connection.close()
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "")])
    result = cli("run", source, "--state", "state.db", "--sync", "--max-delete", "2")
    assert result.exit_code == 0, result.stderr
    connection = sqlite3.connect(tmp_path / "state.db")
    actions = connection.execute('SELECT "row", action FROM contact_rows ORDER BY "row"').fetchall()
    connection.close()
    assert actions == [(-2, "delete"), (-1, "delete"), (2, "")]
    rebuilt = cli("results", "1", "-o", "run1.csv", "--state", "state.db")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert [row["row"] for row in read_results(tmp_path / "run1.csv")] == ["2", "", ""]


def test_the_shipped_sync_job_mirrors_a_segment_into_its_list(cli, demo, tmp_path: Path) -> None:
    people = seed("Clients actifs", *[(mobile(n), f"Nom {n}") for n in range(20)])
    rows = [("", "", mobile(n), f"Nom {n}", "", "") for n in range(1, 20)]  # 1 of 20 left: 5%
    rows += [("", "", mobile(99), "Nouveau", "", "")]
    source = write_file(tmp_path / "segment.csv", rows)
    job = Path(__file__).resolve().parent.parent / "jobs" / "sync.yaml"
    with SandboxServer(
        existing_lists=[("Clients actifs", "FR")], existing_contacts=people
    ) as server:
        result = cli(
            "run", source, "--job", job, "--base-url", server.url, "-o", "out.csv",
            "--report", "report.html", "--log-file", "sync.log", "--state", "state.db",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert set(held(server, "Clients actifs")) == {mobile(n) for n in [*range(1, 20), 99]}
    assert "1 created, 19 exists, 1 deleted" in result.stderr


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    faults=FAULT_MIX,
    attempts=st.integers(1, 3),
    plan=st.lists(st.sampled_from("kura"), min_size=24, max_size=24),
)
def test_update_and_removal_outcomes_agree_with_the_sandbox_ledger_under_random_faults(
    cli, demo, tmp_path: Path, faults, attempts, plan
) -> None:
    """Each of 24 contacts kept (k), updated (u), removed (r) or added (a): `updated` iff this
    run's update changed it (once), `deleted` iff this run removed it (once), `created` iff it
    added it; `exists` for a kept one; `failed` ones are not as the file wants; `pending` only
    when the run stopped (exit 3)."""
    people = seed("A", *[(mobile(n), f"Nom {n}") for n, what in enumerate(plan) if what != "a"])
    names = {"k": "Nom", "u": "Autre", "a": "Nouveau"}
    rows = [
        ("A", "FR", mobile(n), f"{names[w]} {n}", "", "") for n, w in enumerate(plan) if w != "r"
    ]
    source = write_file(tmp_path / f"mix-{faults['seed']}.csv", rows)
    with SandboxServer(existing_lists=[("A", "FR")], existing_contacts=people) as server:
        list_id = list_id_of(server, "A")
        server.set_faults(FaultPlan(**faults))
        result = cli(
            "run", source, "-o", "mix.csv", "--max-attempts", str(attempts), "--update",
            "--sync", "--max-delete", "100%", "--state", tmp_path / f"s-{faults['seed']}.db",
            *FAST_RETRIES, "--base-url", server.url,
        )  # fmt: skip
        assert result.exit_code in (0, 1, 3), result.stderr
        stats = server.stats
        after = {c.e164: c.fields["contactName"] for c in server.contacts(list_id)}
    counters = {"created": stats.added, "updated": stats.updated, "deleted": stats.deleted}
    assert all(set(counter.values()) <= {1} for counter in counters.values())
    results = read_results(tmp_path / "mix.csv")
    # A run stopped before its plan (the lists could not be read) has no removal rows yet.
    assert len(results) == 24 or (result.exit_code == 3 and len(results) == len(rows))
    for row in results:
        number = row["number"].lstrip("'")
        what = plan[int(number[-2:])] if number.startswith("+3361") else "?"
        outcome, key = row["outcome"], (list_id, number)
        assert (row["row"] == "") == (what == "r"), row
        if outcome == "pending":
            assert result.exit_code == 3, row
        elif outcome in counters:
            assert counters[outcome][key] == 1, row
        elif outcome == "exists":
            assert what == "k" and key not in stats.updated, row
        else:
            assert outcome == "failed", row
            wanted = None if what == "r" else f"{names[what]} {int(number[-2:])}"
            assert after.get(number) != wanted, row


def test_a_removal_that_fails_is_logged_as_a_removal(cli, account, tmp_path: Path) -> None:
    source = write_file(
        tmp_path / "in.csv",
        [("Clients", "FR", "0610000001", "", "", ""), ("Clients", "FR", "0610000002", "", "", "")],
    )
    account.set_faults(FaultPlan(error_9xx_rate=1.0))  # writes only: the reads still answer
    result = cli(
        "run", source, "--sync", "--max-delete", "1", "--max-attempts", "1", "-o", "out.csv",
        "--log-format", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    removal = read_results(tmp_path / "out.csv")[-1]
    assert (removal["row"], removal["outcome"]) == ("", "failed")
    assert removal["message"].endswith("still in the list when re-read, so not deleted")
    logged = [json.loads(line) for line in result.stderr.splitlines() if '"removal failed' in line]
    assert len(logged) == 1 and logged[0]["row"] is None
    assert mobile(3) in held(account, "Clients")


def test_validate_without_check_account_says_sync_plans_nothing(
    cli, account, tmp_path: Path
) -> None:
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "", "", "")])
    result = cli("validate", source, "--sync", "-o", "plan.csv")
    assert result.exit_code == 0, result.stderr
    assert "--sync: removals are planned only with --check-account" in result.stderr
    assert len(read_results(tmp_path / "plan.csv")) == 1
    assert account.stats.requests_total == 0


def test_removals_take_excluded_numbers_from_every_list_the_file_names() -> None:
    """The hook for opt-outs: an excluded number goes from a synced list, and from a list the
    file names only through excluded rows, which is not synced as a whole."""
    contacts = {mobile(n): AccountContact(mobile(n), {}) for n in range(4)}
    lists = {
        "a": ListOnAccount("1", "FR", contacts, "A"),
        "b": ListOnAccount("2", "FR", contacts, "B"),
    }
    frame = prepare(
        pd.DataFrame(
            {
                "row": [2, 3, 4],
                "list_name": ["A", "A", "B"],
                "country": ["FR"] * 3,
                "phone": [mobile(0), mobile(1), mobile(2)],
            }
        )
    )
    frame.loc[2, "outcome"] = "excluded"  # B's only row: B is not synced as a whole
    planned = removals(frame, lists, {mobile(1): "STOP list", mobile(2): "opted out"})
    assert list(zip(planned["list_key"], planned["e164"], planned["change"], strict=True)) == [
        ("a", mobile(1), "STOP list"),
        ("a", mobile(2), "opted out"),
        ("a", mobile(3), "not in the file"),
        ("b", mobile(1), "STOP list"),
        ("b", mobile(2), "opted out"),
    ]
    assert list(planned["row"]) == [-1, -2, -3, -4, -5]


def test_sync_removes_the_missing_and_the_excluded_numbers(cli, account, tmp_path: Path) -> None:
    """An opted-out number, and a STOP-list number that no row names, leave the list; nothing
    is sent for them but their removal."""
    account_list = list_id_of(account, "Clients")
    header = ("liste", "pays", "téléphone", "stop")
    rows = [("Clients", "FR", "0610000001", "oui"), ("Clients", "FR", "0610000002", "")]
    source = write_file(tmp_path / "in.csv", rows, header)
    (tmp_path / "stop.txt").write_text(f"{mobile(3)}\n", encoding="utf-8")
    result = cli(
        "run", source, "--sync", "--max-delete", "2", "--exclude", "stop.txt", "-o", "out.csv"
    )
    assert result.exit_code == 0, result.stderr
    assert set(held(account, "Clients")) == {mobile(2)}
    assert account.stats.deleted == {(account_list, mobile(1)): 1, (account_list, mobile(3)): 1}
    assert not account.stats.add_requests and not account.stats.update_requests
    removals_made = {
        row["number"].lstrip("'"): row
        for row in read_results(tmp_path / "out.csv")
        if row["row"] == ""
    }
    assert removals_made[mobile(1)]["message"].endswith(": excluded number (row 2)")
    assert removals_made[mobile(3)]["message"].endswith(": in the STOP list")


def test_the_undo_never_restores_nor_adds_an_excluded_number(cli, account, tmp_path: Path) -> None:
    """The results' `excluded` rows stay excluded when the file is read back (an opt-out is about
    the number): a removed contact that had opted out is not put back."""
    list_id = list_id_of(account, "Clients")
    header = ("liste", "pays", "téléphone", "stop")
    rows = [
        ("Clients", "FR", "0610000001", ""),
        ("Clients", "FR", "0610000002", "oui"),  # on the account: removed, never restored
        ("Clients", "FR", "0610000009", "oui"),  # never on the account: never sent
    ]
    source = write_file(tmp_path / "in.csv", rows, header)
    result = cli("run", source, "--sync", "--max-delete", "100%", "-o", "sync.csv")
    assert result.exit_code == 0, result.stderr
    assert set(held(account, "Clients")) == {mobile(1)}
    undo = cli("run", "sync.csv", "-o", "undo.csv")
    assert undo.exit_code == 0, undo.stderr
    assert set(held(account, "Clients")) == {mobile(1), mobile(3)}
    assert set(account.stats.add_requests) == {(list_id, mobile(3))}
    outcomes = [(row["row"], row["outcome"]) for row in read_results(tmp_path / "undo.csv")]
    assert outcomes == [
        ("2", "exists"),
        ("3", "excluded"),
        ("4", "excluded"),
        ("5", "excluded"),  # the removal of the opted-out number
        ("6", "created"),
    ]


def test_the_report_shows_updates_and_removals_per_list(cli, account, tmp_path: Path) -> None:
    source = write_file(tmp_path / "in.csv", [("Clients", "FR", "0610000001", "X", "", "")])
    args = ("--update", "--sync", "--max-delete", "2", "-o", "out.xlsx", "--report", "r.html")
    account.set_faults(FaultPlan(error_9xx_rate=1.0))
    failed = cli("run", source, *args, "--max-attempts", "1")
    assert failed.exit_code == 1, failed.stderr  # every write fails: 1 update, 2 removals
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<td>-1</td>" not in page  # a removal has no input row
    assert "still in the list when re-read, so not deleted" in page
    account.set_faults(FaultPlan())
    done = cli("run", source, *args)
    assert done.exit_code == 0, done.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<th>updated</th><th>deleted</th>" in page  # the per-list table
