"""The plan per list (validate --check-account, and run before it sends) and the per-list
tables of the report and the Summary sheet, through the real CLI against the sandbox."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from importer.list_tally import CONSOLE_PLAN_LISTS, ListBefore, tally_lists
from importer.sandbox import DEMO_ID, DEMO_KEY, SandboxServer
from tests.conftest import SAMPLE_DATA, library_run, seeded_account

SAMPLE = SAMPLE_DATA / "contacts.csv"

#: The account the sample meets: two of its lists exist, with a contact each it also holds.
LISTS = [("Clients Paris", "FR"), ("Clients Bruxelles", "BE")]
SEED = [
    {"listContactName": "Clients Paris", "contactTelephoneNumber": "0612345678"},
    {"listContactName": "Clients Paris", "contactTelephoneNumber": "0699999999"},
    {"listContactName": "Clients Bruxelles", "contactTelephoneNumber": "0470123456"},
]

PLAN = [
    "plan for list 'Clients Paris' (id 1001, 2 contacts): 7 to add, 0 to update, 1 unchanged, "
    "0 excluded, 1 invalid, 1 duplicate",
    "plan for list 'Prospects Lyon' (new): 4 to add, 0 to update, 0 unchanged, 0 excluded, "
    "5 invalid, 0 duplicate",
    "plan for list 'Newsletter' (new): 6 to add, 0 to update, 0 unchanged, 0 excluded, "
    "1 invalid, 0 duplicate",
    "plan for list 'Clients Bruxelles' (id 1002, 1 contact): 2 to add, 0 to update, "
    "1 unchanged, 0 excluded, 1 invalid, 0 duplicate",
]


#: The per-list table's headings after a run of the sample.
RUN_HEADINGS = [
    "List",
    "Id",
    "Contacts before",
    "Contacts after",
    "created",
    "exists",
    "invalid",
    "duplicate",
]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    yield from seeded_account(monkeypatch, LISTS, SEED)


def plan_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("plan")]


def per_list_table(page: str) -> list[list[str]]:
    """The report's per-list table as text cells, heading row first."""
    found = re.search(r"<h2>Per list</h2>.*?<table>(.*?)</table>", page, re.S)
    assert found, "no per-list table"
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def test_validate_check_account_prints_the_plan_per_list_sending_only_reads(
    cli, account, tmp_path: Path
) -> None:
    result = cli("validate", SAMPLE, "--check-account", "-o", "plan.csv", "--report", "r.html")
    assert result.exit_code == 1
    assert plan_lines(result.stderr) == PLAN
    assert account.stats.list_requests == 1
    assert sum(account.stats.information_requests.values()) == 2
    assert not account.stats.create_requests and not account.stats.add_requests
    # The same plan as a table in the report, in plan words.
    table = per_list_table((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert table[0] == [
        "List",
        "Id",
        "Contacts before",
        "Contacts after (planned)",
        "to add",
        "unchanged",
        "invalid",
        "duplicate",
        "Invalid, by code",
    ]
    assert table[1] == ["Clients Paris", "1001", "2", "9", "7", "1", "1", "1", "ERR_108 × 1"]
    assert table[2][:8] == ["Prospects Lyon", "", "0", "4", "4", "0", "5", "0"]


def test_validate_without_the_account_prints_no_plan(cli, account) -> None:
    result = cli("validate", SAMPLE, "-o", "plan.csv")
    assert result.exit_code == 1
    assert plan_lines(result.stderr) == []


def test_run_prints_the_plan_before_it_sends(tmp_path: Path, account) -> None:
    """Each plan line is logged while the sandbox has had no write yet (not even a list)."""
    adds_when_logged: list[int] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("plan"):
                writes = account.stats.add_requests + account.stats.create_requests
                adds_when_logged.append(sum(writes.values()))

    logger = logging.getLogger("importer")
    logger.setLevel(logging.INFO)
    logger.addHandler(Watch())
    result = library_run(tmp_path, account, SAMPLE, lambda _step: None)
    assert adds_when_logged == [0, 0, 0, 0]
    assert sum(account.stats.add_requests.values()) == 19
    assert [(t.name, t.before, t.after) for t in result.summary.lists] == [
        ("Clients Paris", 2, 9),
        ("Prospects Lyon", 0, 4),
        ("Newsletter", 0, 6),
        ("Clients Bruxelles", 1, 3),
    ]


def test_run_prints_the_plan_lines_on_stderr_and_quiet_keeps_them_for_the_log_file(
    cli, account, tmp_path: Path
) -> None:
    result = cli("run", SAMPLE, "-o", "out.csv", "--state", "s.db")
    assert result.exit_code == 1, result.stderr
    # The same plan as validate's, before anything is sent (the missing lists are created
    # after it).
    assert plan_lines(result.stderr) == PLAN
    assert result.stderr.index("plan for list") < result.stderr.index("contacts: 30 rows")

    quiet = cli("run", SAMPLE, "-q", "-o", "out.csv", "--state", "s.db")
    assert plan_lines(quiet.stderr) == []
    logged = cli("run", SAMPLE, "-q", "--log-file", "run.log", "-o", "out.csv", "--state", "s.db")
    assert plan_lines(logged.stderr) == []
    log_text = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert (
        "plan for list 'Clients Paris' (id 1001, 9 contacts): 0 to add, 0 to update, " in log_text
    )


def test_many_lists_a_terminal_gets_the_first_ones_and_a_total_a_json_log_every_one(
    cli, account, tmp_path: Path
) -> None:
    count = CONSOLE_PLAN_LISTS + 5
    source = tmp_path / "many.csv"
    rows = [f"Liste {n:02d};FR;06{10000000 + n:08d}" for n in range(count)]
    source.write_text("liste;pays;téléphone\n" + "\n".join(rows) + "\n", encoding="utf-8")

    result = cli("validate", source, "--check-account", "-o", "plan.csv")
    assert result.exit_code == 0, result.stderr
    lines = plan_lines(result.stderr)
    assert len(lines) == CONSOLE_PLAN_LISTS + 1
    assert lines[0] == (
        "plan for list 'Liste 00' (new): 1 to add, 0 to update, 0 unchanged, 0 excluded, "
        "0 invalid, 0 duplicate"
    )
    assert lines[-1] == (
        f"plan, {count} lists in all (5 not shown above: see the report or a log file): "
        f"{count} to add, 0 to update, 0 unchanged, 0 excluded, 0 invalid, 0 duplicate"
    )

    cli(
        "validate",
        source,
        "--check-account",
        "-o",
        "plan.csv",
        "--log-format",
        "json",
        "--log-file",
        "log.jsonl",
    )
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    planned = [r for r in records if r["message"].startswith("plan")]
    assert len(planned) == count
    assert planned[3]["list_name"] == "Liste 03"
    assert planned[3]["counts"] == {"to add": 1}


def test_the_report_of_a_run_shows_before_after_and_a_bar_per_outcome(
    cli, account, tmp_path: Path
) -> None:
    result = cli("run", SAMPLE, "-o", "out.json", "--report", "r.html", "--state", "s.db")
    assert result.exit_code == 1, result.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    table = per_list_table(page)
    assert table[0] == [*RUN_HEADINGS, "Invalid, by code"]
    assert table[1] == ["Clients Paris", "1001", "2", "9", "7", "1", "1", "1", "ERR_108 × 1"]
    assert table[4][:8] == ["Clients Bruxelles", "1002", "1", "3", "2", "1", "1", "0"]
    # A bar per outcome a list has, its length the outcome's share of the list's rows.
    assert 'style="width:56px;background:#2e7d32" title="created: 7"' in page
    assert 'title="exists: 1"' in page
    # The report keeps what it had: the summary, the chart, the rows needing attention.
    assert "<h2>Summary</h2>" in page and "<svg" in page and "Rows needing attention" in page
    # The results' JSON summary holds the same per-list tally.
    summary = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["summary"]
    assert summary["lists"][0] == {
        "list_name": "Clients Paris",
        "list_contact_id": "1001",
        "before": 2,
        "after": 9,
        "outcomes": {"created": 7, "exists": 1, "invalid": 1, "duplicate": 1},
    }


def test_the_lists_sheet_has_the_per_list_table(cli, account, tmp_path: Path) -> None:
    assert cli("run", SAMPLE, "-o", "out.xlsx", "--state", "s.db").exit_code == 1
    workbook = load_workbook(tmp_path / "out.xlsx")
    assert workbook.sheetnames == ["Results", "Summary", "Lists"]
    sheet = workbook["Lists"]
    rows = [row for row in sheet.iter_rows(values_only=True)]
    assert list(rows[0]) == RUN_HEADINGS  # a real header row, frozen, with a filter
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:{sheet.dimensions[-2:]}"
    assert rows[1][:8] == ("Clients Paris", "1001", 2, 9, 7, 1, 1, 1)
    assert rows[2][:8] == ("Prospects Lyon", "1003", 0, 4, 4, 0, 5, 0)
    summary = [row for row in workbook["Summary"].iter_rows(values_only=True)]
    pairs = {row[0]: row[1] for row in summary if row and row[0]}
    assert pairs["created"] == 19 and pairs["Kind"] == "contacts"
    # The Summary's header row is its first section's headings, and nothing blank-looking.
    assert summary[0] == ("Run", "Value", None)
    assert all(
        isinstance(cell, (int, float)) or cell is None or cell.strip()
        for row in summary
        for cell in row
    )


def test_a_list_name_like_a_formula_is_guarded_in_the_summary_sheet(
    cli, account, tmp_path: Path
) -> None:
    source = tmp_path / "f.csv"
    source.write_text("liste;pays;téléphone\n=SUM(A1);FR;0612345678\n", encoding="utf-8")
    assert cli("validate", source, "-o", "out.xlsx").exit_code == 0
    sheet = load_workbook(tmp_path / "out.xlsx", read_only=True)["Lists"]
    names = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert "'=SUM(A1)" in names and "=SUM(A1)" not in names


def test_the_tally_counts_any_outcome_and_planned_updates_and_removals() -> None:
    """Built from the outcomes and planned actions alone: new outcomes need no change here."""
    frame = pd.DataFrame(
        {
            "list_name": ["A", "a", "A", "A", "A", "B"],
            "list_key": ["a", "a", "a", "a", "a", "b"],
            "outcome": ["planned", "planned", "planned", "exists", "excluded", "deleted"],
            "action": ["add", "update", "delete", "", "", "delete"],
            "code": ["", "", "", "OK", "OPTED_OUT", "OK"],
            "list_contact_id": ["7", "7", "7", "7", "", "8"],
        }
    )
    a, b = tally_lists(frame, {"a": ListBefore("7", 10), "b": ListBefore("8", 3)})
    assert a.plan() == {"to add": 1, "to update": 1, "to remove": 1, "unchanged": 1, "excluded": 1}
    assert (a.before, a.after) == (10, 10)  # one added, one removed
    assert (b.name, b.list_contact_id, b.before, b.after) == ("B", "8", 3, 2)
    assert b.outcomes == {"deleted": 1}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.sampled_from(["", "", "7", "8", "9"])),
        min_size=1,
        max_size=30,
    )
)
def test_a_list_not_read_takes_the_first_id_its_rows_hold(rows: list[tuple[str, str]]) -> None:
    """A list the run did not read gets the first list id among its rows, in the file's
    order, or none; whatever the number of lists, one pass over the rows."""
    keys = [key for key, _ in rows]
    frame = pd.DataFrame(
        {
            "list_name": [key.upper() for key in keys],
            "list_key": keys,
            "outcome": ["created"] * len(rows),
            "list_contact_id": [list_id for _, list_id in rows],
        }
    )
    tallies = tally_lists(frame, {})
    assert [tally.key for tally in tallies] == list(dict.fromkeys(keys))
    for tally in tallies:
        held = [list_id for key, list_id in rows if key == tally.key and list_id]
        assert tally.list_contact_id == (held[0] if held else "")


def test_a_list_that_cannot_be_sent_to_is_planned_as_not_read(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ambiguous name (two lists on the account) and a list whose rows are all invalid."""
    from importer.sandbox import NameRule

    source = tmp_path / "in.csv"
    source.write_text(
        "liste;pays;téléphone\nparis;FR;0612345678\nVide;FR;0800123456\n", encoding="utf-8"
    )
    with SandboxServer(
        existing_lists=[("Paris", "FR"), ("PARIS", "FR")], name_rule=NameRule.STRICT
    ) as server:
        for name, value in (("AVOSMS_ID", DEMO_ID), ("AVOSMS_KEY", DEMO_KEY)):
            monkeypatch.setenv(name, value)
        result = cli("validate", source, "--check-account", "--base-url", server.url)
    assert plan_lines(result.stderr) == [
        "plan for list 'paris' (not read): 0 to add, 0 to update, 0 unchanged, 0 excluded, "
        "0 invalid, 0 duplicate, 1 failed",
        "plan for list 'Vide' (not read): 0 to add, 0 to update, 0 unchanged, 0 excluded, "
        "1 invalid, 0 duplicate",
    ]


def test_excluded_rows_count_in_the_plan_and_the_tables(cli, account, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "liste;pays;téléphone;stop\n"
        "Clients Paris;FR;0612345678;oui\n"  # opted out, and already in the list
        "Clients Paris;FR;0622222222;\n",
        encoding="utf-8",
    )
    result = cli("validate", source, "--check-account", "-o", "plan.xlsx", "--report", "r.html")
    assert result.exit_code == 0, result.stderr
    assert plan_lines(result.stderr) == [
        "plan for list 'Clients Paris' (id 1001, 2 contacts): 1 to add, 0 to update, "
        "0 unchanged, 1 excluded, 0 invalid, 0 duplicate"
    ]
    table = per_list_table((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert table[0][4:6] == ["to add", "excluded"]
    assert table[1][:6] == ["Clients Paris", "1001", "2", "3", "1", "1"]


def test_updates_and_removals_fill_the_plan_and_the_tables(cli, creds, tmp_path: Path) -> None:
    """--update and --sync: `to update` and `to remove` in the plan; `updated`, `deleted` and
    the list's count after the run in the report."""
    seed = [
        {"listContactName": "Clients", "contactTelephoneNumber": f"+3361000000{n}"}
        for n in range(10)
    ]
    source = tmp_path / "in.csv"
    kept = [f"Clients;FR;+3361000000{n};" for n in range(1, 10)]
    kept[0] += "Durand"  # a field to update
    source.write_text(
        "liste;pays;téléphone;nom\n" + "\n".join([*kept, "Clients;FR;0699999999;"]) + "\n",
        encoding="utf-8",
    )
    with SandboxServer(existing_lists=[("Clients", "FR")], existing_contacts=seed) as server:
        env = ("--base-url", server.url, "--update", "--sync")
        report = ("--report", "p.html")
        plan = cli("validate", source, "--check-account", *env, "-o", "p.csv", *report)
        refused = cli("run", source, *env, "--max-delete", "0", "-o", "r.csv", "--state", "s.db")
        done = cli("run", source, *env, "-o", "r.csv", "--report", "r.html", "--state", "s.db")
    line = (
        "plan for list 'Clients' (id 1001, 10 contacts): 1 to add, 1 to update, 8 unchanged, "
        "1 to remove, 0 excluded, 0 invalid, 0 duplicate"
    )
    assert plan.exit_code == 0, plan.stderr
    assert plan_lines(plan.stderr) == [line]
    table = per_list_table((tmp_path / "p.html").read_text(encoding="utf-8"))
    assert table[0][3:8] == [
        "Contacts after (planned)",
        "to add",
        "to update",
        "unchanged",
        "to remove",
    ]
    assert table[1][2:8] == ["10", "10", "1", "1", "8", "1"]
    # The guard refuses: the plan was printed first, and nothing was sent.
    assert refused.exit_code == 2
    assert plan_lines(refused.stderr) == [line]
    assert done.exit_code == 0, done.stderr
    assert plan_lines(done.stderr) == [line]
    table = per_list_table((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert table[0][3:8] == ["Contacts after", "created", "updated", "exists", "deleted"]
    assert table[1][2:8] == ["10", "10", "1", "1", "8", "1"]
