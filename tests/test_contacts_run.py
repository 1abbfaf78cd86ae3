"""`run` of a contacts file against the sandbox: lists first, adds once, truthful outcomes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.api.endpoints import CONTACT_ADD
from importer.client import AvoSmsClient, Credentials
from importer.journal_schema import MIGRATIONS
from importer.kinds.contacts import CONTACT_COLUMNS
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from importer.send import LAUNCH_WINDOWS, QUEUED_PER_WORKER
from tests.conftest import SAMPLE_DATA, library_run, read_results, write_csv
from tests.test_resume import start_cli
from tests.test_truth import FAST_RETRIES, FAULT_MIX

SAMPLE = SAMPLE_DATA / "contacts.csv"


def contacts_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A contacts file: list, country, phone."""
    lines = ["liste;pays;téléphone", *(";".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def many_contacts(count: int, lists: int) -> list[tuple[str, str, str]]:
    """`count` distinct French mobiles spread over `lists` lists."""
    return [(f"Liste {n % lists}", "FR", f"06{10000000 + n:08d}") for n in range(count)]


def added_once(server: SandboxServer, expected: int) -> None:
    """Every contact the sandbox holds was added by exactly one request that added it."""
    assert set(server.stats.added.values()) == {1}
    assert len(server.stats.added) == expected


def by_row(path: Path) -> dict[str, dict[str, str]]:
    return {row["row"]: row for row in read_results(path)}


def test_run_adds_the_sample_creating_its_lists_first(cli, api_env, tmp_path: Path) -> None:
    result = cli("run", SAMPLE, "-o", "out.csv")
    assert result.exit_code == 1, result.stderr  # invalid rows on purpose
    assert "contacts: 30 rows in" in result.stderr
    assert "21 created, 8 invalid, 1 duplicate (4 lists created for them)" in result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert tuple(rows[0]) == CONTACT_COLUMNS
    created = [row for row in rows if row["outcome"] == "created"]
    ids = {list_id for list_id in api_env.stats.lists}
    assert created and all(row["list_contact_id"] in ids for row in created)
    assert all(row["code"] == "OK" and row["attempts"] == "1" for row in created)
    added_once(api_env, 21)
    assert sum(api_env.stats.add_requests.values()) == 21  # invalid and duplicates never sent

    again = cli("run", SAMPLE, "-o", "out.csv")
    assert again.exit_code == 1, again.stderr  # as the first run: invalid rows, nothing sent
    assert sum(api_env.stats.add_requests.values()) == 21
    assert sum(api_env.stats.create_requests.values()) == 4
    assert sum(api_env.stats.information_requests.values()) == 4  # each list read once
    assert "0 lists created" in again.stderr
    rerun = read_results(tmp_path / "out.csv")
    assert Counter(row["outcome"] for row in rerun) == {
        "exists": 21,
        "invalid": 8,
        "duplicate": 1,
    }
    # A finished run sent nothing for them because they were there: no word of a stop.
    exists = [row for row in rerun if row["outcome"] == "exists"]
    assert all(row["message"].startswith("already in list ") for row in exists)
    assert not any("not sent" in row["message"] for row in exists)


def test_a_finished_job_without_invalid_rows_runs_again_with_no_add_and_exits_0(
    cli, api_env, tmp_path: Path
) -> None:
    source = contacts_csv(tmp_path / "in.csv", many_contacts(40, 3))
    assert cli("run", source).exit_code == 0
    reads = api_env.stats.list_requests
    again = cli("run", source)
    assert again.exit_code == 0, again.stderr
    assert sum(api_env.stats.add_requests.values()) == 40
    assert api_env.stats.list_requests == reads + 1
    assert sum(api_env.stats.information_requests.values()) == 3
    assert all(row["outcome"] == "exists" for row in read_results(tmp_path / "in.results.csv"))


def test_existing_lists_and_contacts_are_reused(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    seed = [{"listContactName": "Clients", "contactTelephoneNumber": "0612345678"}]
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=seed) as server:
        source = contacts_csv(
            tmp_path / "in.csv",
            [("clients", "FR", "+33 6 12 34 56 78"), ("Clients", "FR", "06 98 76 54 32")],
        )
        result = cli("run", source, "--base-url", server.url, "-o", "out.csv")
        assert result.exit_code == 0, result.stderr
        assert sum(server.stats.create_requests.values()) == 0
        assert "0 lists created" in result.stderr
    rows = by_row(tmp_path / "out.csv")
    assert (rows["2"]["outcome"], rows["2"]["number"]) == ("exists", "'+33612345678")
    assert rows["3"]["outcome"] == "created"
    assert rows["2"]["list_contact_id"] == rows["3"]["list_contact_id"]


def test_a_list_of_another_country_on_the_account_checks_its_numbers_there(
    cli, tmp_path: Path, monkeypatch
) -> None:
    """The file says FR, the account's list is BE: its Belgian number is added as Belgian,
    and the list whose country agrees keeps the file's plan."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    with SandboxServer(existing_lists=[("Belges", "BE"), ("Clients", "FR")]) as server:
        source = contacts_csv(
            tmp_path / "in.csv",
            [("Belges", "FR", "0470 12 34 56"), ("Clients", "FR", "06 12 34 56 78")],
        )
        result = cli("run", source, "--base-url", server.url, "-o", "out.csv")
        assert result.exit_code == 0, result.stderr
    rows = by_row(tmp_path / "out.csv")
    assert (rows["2"]["outcome"], rows["2"]["number"]) == ("created", "'+32470123456")
    assert (rows["3"]["outcome"], rows["3"]["number"]) == ("created", "'+33612345678")


def test_a_row_whose_list_cannot_be_created_is_not_sent(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    with SandboxServer(faults=FaultPlan(error_9xx_rate=1.0)) as server:
        source = contacts_csv(tmp_path / "in.csv", [("Nouvelle", "FR", "0612345678")])
        result = cli(
            "run", source, "--base-url", server.url, "--max-attempts", "1", "-o", "out.csv"
        )
        assert result.exit_code == 1, result.stderr
        assert server.stats.add_requests == {}
    row = by_row(tmp_path / "out.csv")["2"]
    assert row["outcome"] == "failed"
    assert row["code"].startswith("LIST_ERR_9")
    assert row["message"].startswith("not sent: its list could not be created")


def test_30_percent_lost_answers_on_adds_still_add_each_contact_once(
    cli, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    faults = FaultPlan(lost_answer_rate=0.3, seed=11)
    with SandboxServer(existing_lists=[(f"Liste {n}", "FR") for n in range(4)]) as server:
        server.set_faults(faults)
        source = contacts_csv(tmp_path / "in.csv", many_contacts(200, 4))
        result = cli(
            "run", source, "--base-url", server.url, "--rate", "0", "--backoff-initial", "0.01",
            "--backoff-max", "0.05", "-o", "out.csv",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        added_once(server, 200)
        assert server.stats.faults["lost_answer"] > 20
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"created"}
    confirmed = [row for row in rows if "confirmed by re-reading the list" in row["message"]]
    assert confirmed, "no lost answer was settled by a re-read"


def test_err_105_on_a_first_attempt_is_exists_and_a_vanished_list_stops_its_rows(
    tmp_path: Path,
) -> None:
    rows = [("Clients", "FR", f"06{10000000 + n:08d}") for n in range(10)]
    rows += [("Autres", "FR", f"07{50000000 + n:08d}") for n in range(10)]
    source = contacts_csv(tmp_path / "in.csv", rows)
    with SandboxServer(existing_lists=[("Clients", "FR"), ("Autres", "FR")]) as server:
        ids = {name: list_id for list_id, (name, _) in server.stats.lists.items()}
        client = AvoSmsClient(server.url, Credentials(DEMO_ID, DEMO_KEY))
        seen = 0

        def meanwhile(step: str) -> None:
            nonlocal seen
            if step != "collected":
                return
            seen += 1
            if seen == 1:  # someone adds row 11's contact, and deletes the other list
                assert (
                    client.change_contact(CONTACT_ADD, ids["Clients"], "+33610000009", {}).code
                    == "OK"
                )
                server.delete_list(ids["Autres"])

        result = library_run(tmp_path, server, source, meanwhile, workers=1)
        client.close()
    assert result.exit_code == 1
    got = by_row(tmp_path / "out.csv")
    assert got["11"]["outcome"] == "exists"
    assert "added by someone else meanwhile (ERR_105" in got["11"]["message"]
    assert {got[str(n)]["outcome"] for n in range(2, 11)} == {"created"}
    others = [got[str(n)] for n in range(12, 22)]
    assert {row["outcome"] for row in others} == {"failed"}
    assert {row["code"] for row in others} == {"ERR_103"}
    assert sum(1 for row in others if row["message"].startswith("not sent: list")) >= 8
    assert sum(1 for key in server.stats.add_requests if key[0] == ids["Autres"]) <= 2


def test_api_disagreeing_with_the_local_check_is_failed(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    # The sandbox accepts mobiles only; the importer is told to allow fixed lines.
    with SandboxServer(existing_lists=[("Fixes", "FR")]) as server:
        source = contacts_csv(tmp_path / "in.csv", [("Fixes", "FR", "01 42 68 53 00")])
        result = cli(
            "run", source, "--base-url", server.url, "--number-types", "mobile,fixed-line",
            "-o", "out.csv",
        )  # fmt: skip
        assert result.exit_code == 1, result.stderr
    row = by_row(tmp_path / "out.csv")["2"]
    assert (row["outcome"], row["code"]) == ("failed", "ERR_108")
    assert "the API disagreed with the local check" in row["message"]


def test_a_lists_only_journal_is_upgraded(cli, api_env, tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "state.db")
    MIGRATIONS[0](connection)
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    source = contacts_csv(tmp_path / "in.csv", many_contacts(5, 1))
    result = cli("run", source, "--state", "state.db")
    assert result.exit_code == 0, result.stderr
    connection = sqlite3.connect(tmp_path / "state.db")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    connection.close()
    rebuilt = cli("results", "1", "-o", "run1.csv", "--state", "state.db")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    rows = read_results(tmp_path / "run1.csv")
    assert tuple(rows[0]) == CONTACT_COLUMNS and len(rows) == 5


def test_a_contacts_run_killed_at_a_random_point_resumes_adding_each_once(tmp_path: Path) -> None:
    source = contacts_csv(tmp_path / "big.csv", many_contacts(3000, 10))
    kill_after = random.Random(os.getpid()).uniform(0.5, 2.5)
    # 10 ms a request: 3,000 adds take longer than the latest kill.
    with SandboxServer(faults=FaultPlan(latency=0.01)) as server:
        args = ("run", source, "-o", "out.csv", "--rate", "0")
        first = start_cli(server, *args, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while not server.stats.added:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        time.sleep(kill_after)
        first.kill()
        first.wait()
        killed_at = len(server.stats.added)
        second = start_cli(server, *args, cwd=tmp_path)
        _, stderr = second.communicate(timeout=240)
        assert second.returncode == 0, stderr
        assert killed_at < 3000, "the kill came too late to test anything"
        added_once(server, 3000)
        assert len(server.stats.lists) == 10
        assert set(server.stats.created.values()) == {1}
    rows = read_results(tmp_path / "out.csv")
    assert len(rows) == 3000
    assert {row["outcome"] for row in rows} <= {"created", "exists"}
    interrupted = [row for row in rows if row["outcome"] == "exists"]
    assert len(interrupted) >= killed_at - 100  # some added rows may not be journaled yet
    assert all(row["message"].startswith("added by run 1 (interrupted)") for row in interrupted)


def test_the_summary_sheet_and_report_of_a_run_count_the_lists_created(
    cli, api_env, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    report = tmp_path / "r.html"
    result = cli("run", SAMPLE, "-o", "out.xlsx", "--report", report)
    assert result.exit_code == 1, result.stderr
    sheet = load_workbook(tmp_path / "out.xlsx", read_only=True)["Summary"]
    pairs = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert pairs["Kind"] == "contacts"
    assert pairs["Lists created for them"] == 4
    assert pairs["created"] == 21
    page = report.read_text(encoding="utf-8")
    assert "<h2>Per list</h2>" in page and "Clients Paris" in page


def test_the_report_explains_contact_codes_by_their_endpoint(cli, tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    assert cli("validate", SAMPLE, "-o", "plan.csv", "--report", report).exit_code == 1
    page = report.read_text(encoding="utf-8")
    assert "Phone number empty (the code of /contact/add)." in page
    assert "does not know" not in page


def test_refused_credentials_stop_the_run_at_its_first_request(
    cli, api_env, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AVOSMS_KEY", "wrong-key")
    result = cli("run", SAMPLE, "-o", "out.csv")
    assert result.exit_code == 3
    assert "ERR_100" in result.stderr
    assert api_env.stats.requests_total == 1
    outcomes = Counter(row["outcome"] for row in read_results(tmp_path / "out.csv"))
    assert outcomes == {"pending": 21, "invalid": 8, "duplicate": 1}
    assert "wrong-key" not in result.stderr + result.stdout


def test_sigterm_leaves_pending_contacts_and_the_next_run_finishes_them(tmp_path: Path) -> None:
    source = contacts_csv(tmp_path / "in.csv", many_contacts(200, 2))
    with SandboxServer(faults=FaultPlan(latency=0.05)) as server:
        args = ("run", source, "-o", "out.csv", "--workers", "2")
        process = start_cli(server, *args, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while len(server.stats.added) < 5:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 3, stderr
        assert "rows left pending; run the same command again" in stderr
        rows = read_results(tmp_path / "out.csv")
        assert len(rows) == 200 and "pending" in {row["outcome"] for row in rows}
        assert all(row["list_contact_id"] in server.stats.lists for row in rows)
        again = start_cli(server, *args[:-2], "--rate", "0", cwd=tmp_path)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, stderr
        added_once(server, 200)
    assert {row["outcome"] for row in read_results(tmp_path / "out.csv")} <= {"created", "exists"}


def test_a_list_name_the_account_holds_twice_is_not_sent_to(
    cli, tmp_path: Path, monkeypatch
) -> None:
    from importer.sandbox.account import NameRule

    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    twins = [("Clients", "FR"), ("CLIENTS", "FR")]
    with SandboxServer(existing_lists=twins, name_rule=NameRule.STRICT) as server:
        source = contacts_csv(tmp_path / "in.csv", [("clients", "FR", "0612345678")])
        result = cli("run", source, "--base-url", server.url, "-o", "out.csv")
        assert result.exit_code == 1, result.stderr
        assert server.stats.add_requests == {}
    row = by_row(tmp_path / "out.csv")["2"]
    assert (row["outcome"], row["code"]) == ("failed", "LIST_AMBIGUOUS_NAME")
    assert "list ambiguous: the account has 2 lists with this name" in row["message"]


def test_check_account_marks_rows_of_an_ambiguous_list(cli, tmp_path: Path, monkeypatch) -> None:
    from importer.sandbox.account import NameRule

    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    twins = [("Clients", "FR"), ("CLIENTS", "FR")]
    with SandboxServer(existing_lists=twins, name_rule=NameRule.STRICT) as server:
        source = contacts_csv(tmp_path / "in.csv", [("clients", "FR", "0612345678")])
        result = cli(
            "validate", source, "--check-account", "--base-url", server.url, "-o", "plan.csv"
        )
        assert result.exit_code == 1, result.stderr
        assert server.stats.information_requests == {}
    row = by_row(tmp_path / "plan.csv")["2"]
    assert (row["outcome"], row["code"]) == ("failed", "LIST_AMBIGUOUS_NAME")


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    faults=FAULT_MIX,
    attempts=st.integers(1, 3),
    existing=st.sets(st.integers(0, 23), max_size=5),
)
def test_contact_outcomes_agree_with_the_sandbox_ledger_under_random_faults(
    cli, tmp_path: Path, monkeypatch, faults, attempts, existing
) -> None:
    """`created` iff this run added the contact (once), `exists` iff it was there before; a
    `failed` row is not in its list; `pending` only when the run stopped (exit 3)."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    contacts = many_contacts(24, 3)
    lists = [(f"Liste {n}", "FR") for n in range(3)]
    seed = [
        {"listContactName": contacts[n][0], "contactTelephoneNumber": contacts[n][2]}
        for n in sorted(existing)
    ]
    with SandboxServer(existing_lists=lists, existing_contacts=seed) as server:
        ids = {name: list_id for list_id, (name, _) in server.stats.lists.items()}
        before = {(ids[contacts[n][0]], "+33" + contacts[n][2][1:]) for n in existing}
        server.set_faults(FaultPlan(**faults))
        source = contacts_csv(tmp_path / f"mix-{faults['seed']}.csv", contacts)
        result = cli(
            "run", source, "-o", "mix.csv", "--max-attempts", str(attempts), "--workers", "4",
            "--state", tmp_path / f"state-{faults['seed']}-{attempts}.db", *FAST_RETRIES,
            "--base-url", server.url,
        )  # fmt: skip
        assert result.exit_code in (0, 1, 3), result.stderr
        rows = read_results(tmp_path / "mix.csv")
        added = server.stats.added
        assert set(added.values()) <= {1}
        held = {(lid, contact.e164) for lid in ids.values() for contact in server.contacts(lid)}
    assert len(rows) == 24
    for row, (name, _, phone) in zip(rows, contacts, strict=True):
        key = (ids[name], "+33" + phone[1:])
        outcome = row["outcome"]
        if outcome == "pending":
            assert result.exit_code == 3, row
        elif key in before:
            assert outcome == "exists", row
        elif outcome == "created":
            assert added[key] == 1, row
        else:
            assert outcome == "failed" and key not in held, row


@pytest.mark.parametrize("kind", ["contacts", "lists"])
def test_results_of_a_killed_run_show_the_rows_in_flight_as_in_flight(
    cli, tmp_path: Path, kind: str
) -> None:
    if kind == "contacts":
        source = contacts_csv(tmp_path / "in.csv", many_contacts(60, 1))
    else:
        source = write_csv(tmp_path / "in.csv", [(f"L{n}", "FR") for n in range(60)])
    with SandboxServer(existing_lists=[("Liste 0", "FR")], faults=FaultPlan(latency=2)) as server:
        args = ("run", source, "-o", "out.csv", "--rate", "0", "--workers", "4")
        first = start_cli(server, *args, cwd=tmp_path)
        deadline = time.monotonic() + 60
        while server.stats.in_flight < 4:  # the first answer is in, four more on their way
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.02)
        time.sleep(0.3)
        first.kill()
        first.wait()
        rebuilt = cli("results", "1", "-o", "killed.csv")
        assert rebuilt.exit_code == 0, rebuilt.stderr
        rows = read_results(tmp_path / "killed.csv")
        in_flight = [row for row in rows if row["code"] == "IN_FLIGHT"]
        # Every row handed to the workers (4 per worker) or about to be (as many again) is in
        # flight, fate unknown; so is the first row if its answer came within the journal's
        # last half-second.
        assert 4 <= len(in_flight) <= LAUNCH_WINDOWS * QUEUED_PER_WORKER * 4 + 1
        assert {row["outcome"] for row in in_flight} == {"pending"}
        assert all(row["message"].startswith("outcome unknown: the run ended") for row in rows
                   if row["code"] == "IN_FLIGHT")  # fmt: skip
        assert {row["code"] for row in rows if row["outcome"] == "pending"} == {
            "IN_FLIGHT",
            "NOT_SENT",
        }
        while server.stats.in_flight:  # the requests the killed run left finish at the server
            time.sleep(0.05)
        server.set_faults(FaultPlan())
        again = start_cli(server, *args, cwd=tmp_path)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0, stderr
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} <= {"created", "exists"}
    interrupted = [row for row in rows if "by run 1 (interrupted)" in row["message"]]
    assert len(interrupted) >= 4  # those the killed run's requests made, settled as its own
    if kind == "contacts":
        added_once(server, 60)
    else:
        assert set(server.stats.created.values()) == {1} and len(server.stats.created) == 60


def test_a_row_whose_list_was_not_created_yet_does_not_say_it_could_not_be() -> None:
    """A run stopped before a list's creation leaves its rows pending; their message must not
    claim the creation failed (it was never tried, or its fate is unknown)."""
    import pandas as pd

    from importer.contacts_run import mark_unresolved

    frame = pd.DataFrame(
        {"list_key": ["echo", "echo"], "outcome": ["pending", "pending"], "code": ["", ""]}
        | {"message": ["", ""]}
    )
    lists = pd.DataFrame(
        {
            "name_key": ["echo"],
            "outcome": ["pending"],
            "code": ["NOT_SENT"],
            "message": ["not sent: the run stopped before this row"],
        }
    )
    mark_unresolved(frame, lists)
    assert frame["outcome"].tolist() == ["pending", "pending"]
    assert frame["code"].tolist() == ["LIST_NOT_SENT", "LIST_NOT_SENT"]
    assert all(
        m.startswith("not sent: its list's creation is not finished") for m in frame["message"]
    )
