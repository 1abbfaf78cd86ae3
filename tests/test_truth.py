"""Every outcome true: `created` is this run's, `exists` is not, an unknown fate is settled.

Each test runs the real CLI against the sandbox and holds the results file against the
sandbox's own ledger: which lists it holds, which it created during the run, and how often.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, NameRule, SandboxServer
from tests.conftest import read_results, write_csv

FAST_RETRIES = ("--rate", "0", "--backoff-initial", "0.01", "--backoff-max", "0.05")


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox the importer points at; tests swap its faults and name rule as they need."""
    with SandboxServer() as server:
        monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
        monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        yield server


def account_ids(server: SandboxServer) -> dict[str, str]:
    """The sandbox's lists: its name key → list id."""
    return {server.name_key(name): list_id for list_id, (name, _) in server.stats.lists.items()}


def assert_matches_the_ledger(
    rows: list[dict[str, str]], server: SandboxServer, existed: set[str]
) -> None:
    """Each row's outcome against the sandbox: created by this run / existed before / absent."""
    ids = account_ids(server)
    created = server.stats.created
    for row in rows:
        key = server.name_key(row["name"])
        outcome = row["outcome"]
        if outcome == "pending":  # the run stopped: never sent, or its fate said to be unknown
            if row["code"] == "NOT_SENT":
                assert not created[key], row
            else:
                assert row["message"].startswith(("outcome unknown", "name already taken")), row
        elif key in existed:
            assert outcome == "exists", row
        elif key in ids:
            assert created[key] == 1, row
            assert outcome == "created", row
        else:
            assert outcome == "failed", row
            assert not row["list_contact_id"], row
        if outcome in ("created", "exists"):
            assert row["list_contact_id"] == ids[key], row


def test_30_percent_lost_answers_on_300_rows_are_all_created_once(cli, account, tmp_path):
    account.set_faults(FaultPlan(lost_answer_rate=0.3, seed=9))
    source = write_csv(tmp_path / "in.csv", [(f"Lost list {n:03d}", "FR") for n in range(300)])
    result = cli("run", source, "-o", "out.csv", "--workers", "8", *FAST_RETRIES)
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [row["outcome"] for row in rows].count("created") == 300
    assert not [row for row in rows if row["outcome"] == "exists"]
    assert len(account.stats.created) == 300 and set(account.stats.created.values()) == {1}
    assert account.stats.faults["lost_answer"] > 50
    recovered = [row for row in rows if "confirmed by re-reading the account" in row["message"]]
    assert recovered
    assert_matches_the_ledger(rows, account, existed=set())


def test_lost_answers_then_5xx_without_reconcile_match_the_account(cli, account, tmp_path):
    # The first attempt may create the list and lose its answer; the second fails on a 5xx:
    # only a re-read of the account can tell, and the results must agree with it.
    account.set_faults(FaultPlan(lost_answer_rate=0.5, http_5xx_rate=0.5, seed=4))
    source = write_csv(tmp_path / "in.csv", [(f"Half lost {n:02d}", "FR") for n in range(60)])
    args = ("--max-attempts", "2", "--no-reconcile", "--workers", "4", *FAST_RETRIES)
    result = cli("run", source, "-o", "out.csv", *args)
    assert result.exit_code == 1, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert_matches_the_ledger(rows, account, existed=set())
    outcomes = {row["outcome"] for row in rows}
    assert outcomes == {"created", "failed"}
    settled = [row for row in rows if "confirmed by re-reading" in row["message"]]
    assert any(row["code"] == "OK" and row["attempts"] == "2" for row in settled)
    assert all("not found on the account" in r["message"] for r in rows if r["outcome"] == "failed")


def test_slow_answers_past_the_timeout_that_the_server_processes_are_created(
    cli, account, tmp_path
):
    account.set_faults(FaultPlan(slow_answer_rate=0.5, hang_seconds=0.8, seed=2))
    source = write_csv(tmp_path / "in.csv", [(f"Slow list {n:02d}", "FR") for n in range(16)])
    args = ("--timeout", "0.4", "--max-attempts", "3", "--workers", "8", *FAST_RETRIES)
    result = cli("run", source, "-o", "out.csv", *args)
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"created"}
    assert account.stats.faults["slow_answer"] > 0
    assert set(account.stats.created.values()) == {1} and len(account.stats.created) == 16
    assert_matches_the_ledger(rows, account, existed=set())


def test_a_name_taken_before_the_run_is_exists_not_created(cli, account, tmp_path):
    # Not reconciled, so the create answers ERR_104 at once: nothing of ours was processed.
    account.set_faults(FaultPlan())
    with SandboxServer(existing_lists=[("Taken", "FR")]) as server:
        source = write_csv(tmp_path / "in.csv", [("Taken", "FR"), ("Free", "FR")])
        result = cli("run", source, "-o", "out.csv", "--no-reconcile", "--base-url", server.url)
        assert result.exit_code == 0, result.stderr
        rows = read_results(tmp_path / "out.csv")
        assert [row["outcome"] for row in rows] == ["exists", "created"]
        assert "name already taken on the account" in rows[0]["message"]
        assert_matches_the_ledger(rows, server, existed={"taken"})


def test_an_outage_after_a_request_went_out_leaves_its_fate_unknown(cli, account, tmp_path):
    account.set_faults(FaultPlan(fail_everything=True))
    source = write_csv(tmp_path / "in.csv", [(f"Down {n}", "FR") for n in range(5)])
    args = ("--no-reconcile", "--max-outage", "0.3", "--max-attempts", "20", "--workers", "1")
    result = cli("run", source, "-o", "out.csv", *args, *FAST_RETRIES)
    assert result.exit_code == 3, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"pending"}
    first = rows[0]
    assert first["message"].startswith("outcome unknown"), first
    assert first["code"] == "HTTP_503" and int(first["attempts"]) >= 1
    assert "next run settles it" in first["message"]
    assert all(row["code"] == "NOT_SENT" for row in rows[1:])


@pytest.mark.parametrize("rule", list(NameRule))
def test_two_account_lists_with_the_same_name_make_a_row_ambiguous(
    cli, tmp_path, rule, monkeypatch
):
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    # Only an API stricter than us can hold both; with our own rule the second is refused.
    existing = [("Paris", "FR"), ("PARIS", "FR")] if rule is NameRule.STRICT else [("Paris", "FR")]
    with SandboxServer(existing_lists=existing, name_rule=rule) as server:
        source = write_csv(tmp_path / "in.csv", [("paris", "FR"), ("Lyon", "FR")])
        result = cli("run", source, "-o", "out.csv", "--base-url", server.url)
        rows = read_results(tmp_path / "out.csv")
        if rule is NameRule.STRICT:
            assert result.exit_code == 1, result.stderr
            assert (rows[0]["outcome"], rows[0]["code"]) == ("failed", "AMBIGUOUS_NAME")
            ids = [i for i, (name, _) in server.stats.lists.items() if name.casefold() == "paris"]
            assert len(ids) == 2
            assert all(f"list id {list_id}" in rows[0]["message"] for list_id in ids)
            assert "'Paris'" in rows[0]["message"] and "'PARIS'" in rows[0]["message"]
        else:
            assert result.exit_code == 0, result.stderr
            assert rows[0]["outcome"] == "exists"
        assert server.stats.create_requests == {server.name_key("Lyon"): 1}


@pytest.mark.parametrize("reconcile", ["--reconcile", "--no-reconcile"])
def test_a_stricter_api_than_us_still_gets_true_outcomes(cli, tmp_path, reconcile, monkeypatch):
    # The API tells "Clients" from "CLIENTS"; we do not. Reconciled, the row is the account's
    # list; not reconciled, the API creates a second list and the row says `created`.
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    with SandboxServer(existing_lists=[("Clients", "FR")], name_rule=NameRule.STRICT) as server:
        source = write_csv(tmp_path / "in.csv", [("CLIENTS", "FR")])
        result = cli("run", source, "-o", "out.csv", reconcile, "--base-url", server.url)
        assert result.exit_code == 0, result.stderr
        (row,) = read_results(tmp_path / "out.csv")
        if reconcile == "--reconcile":
            assert row["outcome"] == "exists" and not server.stats.create_requests
        else:
            assert row["outcome"] == "created"
            assert server.stats.created == {"CLIENTS": 1}
            assert row["list_contact_id"] == account_ids(server)["CLIENTS"]


# --------------------------------------------------------------------------- property


FAULT_MIX = st.fixed_dictionaries(
    {
        "lost_answer_rate": st.sampled_from([0.0, 0.1, 0.3]),
        "http_5xx_rate": st.sampled_from([0.0, 0.1, 0.3]),
        "error_9xx_rate": st.sampled_from([0.0, 0.1]),
        "drop_rate": st.sampled_from([0.0, 0.1]),
        "garbage_rate": st.sampled_from([0.0, 0.1]),
        "seed": st.integers(0, 1000),
    }
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    faults=FAULT_MIX,
    attempts=st.integers(1, 3),
    reconcile=st.booleans(),
    rule=st.sampled_from(list(NameRule)),
    existing=st.sets(st.integers(0, 11), max_size=4),
)
def test_outcomes_agree_with_the_sandbox_ledger_under_random_faults(
    cli, tmp_path: Path, monkeypatch, faults, attempts, reconcile, rule, existing
):
    names = [f"Mix {n:02d}" for n in range(12)]
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    before = [(names[n], "FR") for n in sorted(existing)]
    state = ["--state", str(tmp_path / f"state-{faults['seed']}-{attempts}-{reconcile}.db")]
    # Reconciled, the account says what existed; not reconciled, the journal stands in for it
    # (that is --no-reconcile's contract), so the lists that exist were made by an earlier run.
    with SandboxServer(existing_lists=before if reconcile else (), name_rule=rule) as server:
        if before and not reconcile:
            earlier = write_csv(tmp_path / "earlier.csv", before)
            made = cli(
                "run", earlier, "-o", "earlier.results.csv", "--base-url", server.url, *state
            )
            assert made.exit_code == 0, made.stderr
        server.set_faults(FaultPlan(**faults))
        source = write_csv(tmp_path / "mix.csv", [(name, "FR") for name in names])
        args = ["--max-attempts", str(attempts), "--workers", "4", *FAST_RETRIES, *state]
        args += ["--reconcile" if reconcile else "--no-reconcile", "--base-url", server.url]
        result = cli("run", source, "-o", "mix.results.csv", *args)
        # 3: a list read failed for good (reads get 5xx too), and the run stopped.
        assert result.exit_code in (0, 1, 3), result.stderr
        rows = read_results(tmp_path / "mix.results.csv")
        assert len(rows) == len(names)
        existed = {server.name_key(name) for name, _ in before}
        assert_matches_the_ledger(rows, server, existed)
        assert set(server.stats.created.values()) <= {1}


@pytest.mark.parametrize("reconcile", ["--reconcile", "--no-reconcile"])
def test_a_list_whose_fate_a_stopped_run_left_unknown_is_settled_by_the_next(
    cli, account, tmp_path, reconcile
):
    # Every answer is lost (the list is created all the same) until the outage breaker stops
    # the run: the row is pending, its fate unknown. The next run finds the list.
    account.set_faults(FaultPlan(lost_answer_rate=1.0, seed=5))
    source = write_csv(tmp_path / "in.csv", [("Unknown fate", "FR")])
    args = ("--max-outage", "0.2", "--max-attempts", "20", *FAST_RETRIES)
    first = cli("run", source, "-o", "out.csv", "--no-reconcile", *args)
    assert first.exit_code == 3, first.stderr
    (row,) = read_results(tmp_path / "out.csv")
    assert row["outcome"] == "pending" and row["message"].startswith("outcome unknown"), row
    assert account.stats.created == {"unknown fate": 1}

    account.set_faults(FaultPlan())
    again = cli("run", source, "-o", "out.csv", reconcile, *FAST_RETRIES)
    assert again.exit_code == 0, again.stderr
    (row,) = read_results(tmp_path / "out.csv")
    assert row["outcome"] == "exists", row
    assert "created by run 1 (interrupted)" in row["message"], row
    assert row["list_contact_id"] == account_ids(account)["unknown fate"]
    assert account.stats.created == {"unknown fate": 1}


# --------------------------------------------------------------------------- what predates the run


SEEDED = [(f"Seeded {n}", "FR") for n in range(4)]


def test_without_reconcile_a_list_older_than_the_run_is_exists_after_a_lost_answer(
    cli, tmp_path, monkeypatch
):
    # Every answer is lost: each row is settled by re-reading the account. The sandbox dates
    # the lists it starts with a day back; the others are made by this run.
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    fresh = [(f"Fresh {n}", "FR") for n in range(4)]
    with SandboxServer(existing_lists=SEEDED, faults=FaultPlan(lost_answer_rate=1.0)) as server:
        source = write_csv(tmp_path / "in.csv", SEEDED + fresh)
        args = ("--no-reconcile", "--max-attempts", "2", "--base-url", server.url)
        result = cli("run", source, "-o", "out.csv", *args, *FAST_RETRIES)
        assert result.exit_code == 0, result.stderr
        rows = read_results(tmp_path / "out.csv")
        assert [row["outcome"] for row in rows] == ["exists"] * 4 + ["created"] * 4
        assert all("before this run started" in row["message"] for row in rows[:4])
        assert_matches_the_ledger(rows, server, {server.name_key(name) for name, _ in SEEDED})


@pytest.mark.parametrize("reconcile", ["--reconcile", "--no-reconcile"])
def test_a_stopped_run_is_not_credited_with_a_list_older_than_itself(
    cli, tmp_path, monkeypatch, reconcile
):
    # Run 1 sends the first row, a list the account had all along, and hears no answer until
    # the outage breaker stops it: pending, its fate unknown. Run 1 did not make that list.
    # (A younger list is credited to run 1: test_a_list_whose_fate_a_stopped_run_left_unknown…)
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    rows_in = [SEEDED[0], ("Never sent by run 1", "FR")]
    with SandboxServer(existing_lists=rows_in[:1], faults=FaultPlan(lost_answer_rate=1.0)) as s:
        source = write_csv(tmp_path / "in.csv", rows_in)
        common = ("-o", "out.csv", "--base-url", s.url, *FAST_RETRIES)
        stop_soon = ("--no-reconcile", "--max-outage", "0.2", "--max-attempts", "20")
        first = cli("run", source, *common, *stop_soon)
        assert first.exit_code == 3, first.stderr
        sent, unsent = read_results(tmp_path / "out.csv")
        assert sent["outcome"] == "pending" and int(sent["attempts"]) > 0, sent
        assert unsent["code"] == "NOT_SENT", unsent

        s.set_faults(FaultPlan())
        again = cli("run", source, *common, reconcile)
        assert again.exit_code == 0, again.stderr
        seeded, other = read_results(tmp_path / "out.csv")
    assert seeded["outcome"] == "exists" and "interrupted" not in seeded["message"], seeded
    assert other["outcome"] == "created", other


def test_a_list_this_run_made_beside_an_older_look_alike_is_created(cli, tmp_path, monkeypatch):
    # The API tells "list 060" from "List 060", we do not. Not reconciled, "List 060" is sent,
    # made, its answer lost: of the two lists the re-read finds, the new one of the very name
    # sent is this row's. "List 070" and "list 070" were both there: which one is the row's
    # cannot be told, and the row was sent, so it does not say "not sent".
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    before = [("list 060", "FR"), ("list 070", "FR"), ("List 070", "FR")]
    faults = FaultPlan(lost_answer_rate=1.0)
    with SandboxServer(existing_lists=before, name_rule=NameRule.STRICT, faults=faults) as server:
        source = write_csv(tmp_path / "in.csv", [("List 060", "FR"), ("List 070", "FR")])
        args = ("--no-reconcile", "--max-attempts", "2", "--base-url", server.url)
        result = cli("run", source, "-o", "out.csv", *args, *FAST_RETRIES)
        assert result.exit_code == 1, result.stderr
        made, both = read_results(tmp_path / "out.csv")
        ids = account_ids(server)
    assert made["outcome"] == "created" and made["list_contact_id"] == ids["List 060"], made
    assert f"'list 060' (list id {ids['list 060']})" in made["message"], made
    assert (both["outcome"], both["code"]) == ("failed", "AMBIGUOUS_NAME"), both
    assert both["attempts"] == "2" and "not sent" not in both["message"], both
    assert "sent (2 requests)" in both["message"], both
    assert server.stats.created == {"List 060": 1}
