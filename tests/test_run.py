"""End to end: the real CLI against the sandbox on a loopback port, reading the results file."""

from __future__ import annotations

import json

import openpyxl
import pytest

from importer.records import RESULT_COLUMNS
from importer.sandbox import DEMO_KEY, FaultPlan, SandboxServer
from tests.conftest import SAMPLE_DATA, read_results, write_csv

#: Expected outcome per spreadsheet row of sample_data/lists.csv and lists.xlsx.
SAMPLE_OUTCOMES = {
    2: ("created", "OK", "Newsletter France", "FR"),
    3: ("created", "OK", "Clients Allemagne", "DE"),
    4: ("created", "OK", "VIP Belgique", "BE"),
    5: ("created", "OK", "Promo Été 2025", "FR"),
    6: ("created", "OK", "Partenaires UK", "GB"),
    7: ("duplicate", "DUPLICATE", "newsletter france", "FR"),
    8: ("invalid", "ERR_103", "Salon Lyon", ""),
    9: ("invalid", "ERR_101", "", "FR"),
    10: ("created", "OK", "Namibia Team", "NA"),
    11: ("created", "OK", "2024", "ES"),
    12: ("created", "OK", "Clients Suisse", "CH"),
    13: ("duplicate", "DUPLICATE", "Newsletter FRANCE", "DE"),
    14: ("invalid", "ERR_102", "Sans pays", ""),
}


def assert_sample_results(rows: list[dict[str, str]], sandbox: SandboxServer) -> None:
    assert [int(row["row"]) for row in rows] == list(SAMPLE_OUTCOMES)
    for row in rows:
        outcome, code, name, country_code = SAMPLE_OUTCOMES[int(row["row"])]
        assert (row["outcome"], row["code"], row["name"], row["country_code"]) == (
            outcome,
            code,
            name,
            country_code,
        ), row
        if outcome == "created":
            assert row["list_contact_id"] in sandbox.stats.lists
            assert sandbox.stats.lists[row["list_contact_id"]][0] == name
    duplicate = {int(row["row"]): row for row in rows}[13]
    assert "row 2" in duplicate["message"] and "countr" in duplicate["message"]
    assert all(count == 1 for count in sandbox.stats.created.values())
    assert len(sandbox.stats.created) == 8


@pytest.mark.parametrize("sample", ["lists.csv", "lists.xlsx"])
def test_sample_files_give_the_expected_outcome_per_row(cli, api_env, tmp_path, sample):
    result = cli("run", SAMPLE_DATA / sample, "-o", tmp_path / "out.csv")
    assert result.exit_code == 1, result.stderr
    assert_sample_results(read_results(tmp_path / "out.csv"), api_env)
    assert "13 rows" in result.stderr and "8 created" in result.stderr
    assert list(read_results(tmp_path / "out.csv")[0]) == list(RESULT_COLUMNS)


def test_default_output_is_named_after_the_input_in_the_working_directory(cli, api_env, tmp_path):
    result = cli("run", SAMPLE_DATA / "lists.csv")
    assert result.exit_code == 1
    assert (tmp_path / "lists.results.csv").exists()


def test_every_valid_row_is_created_once_despite_30_percent_err_9xx(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(error_9xx_rate=0.3, seed=7))
    rows = [(f"List {number}", "FR") for number in range(60)]
    source = write_csv(tmp_path / "in.csv", rows)
    result = cli("run", source, "-o", "out.csv", "--max-attempts", "10", "--rate", "0")
    assert result.exit_code == 0, result.stderr
    results = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in results} == {"created"}
    assert sum(api_env.stats.created.values()) == 60
    assert set(api_env.stats.created.values()) == {1}
    assert max(int(row["attempts"]) for row in results) > 1


def test_refused_credentials_stop_after_one_request(cli, api_env, tmp_path, monkeypatch):
    monkeypatch.setenv("AVOSMS_KEY", "wrong-key")
    source = write_csv(tmp_path / "in.csv", [("A", "FR"), ("B", "FR"), ("C", "FR")])
    result = cli("run", source, "-o", "out.csv", "--no-reconcile", "--workers", "1")
    assert result.exit_code == 3
    assert "ERR_100" in result.stderr and "credentials" in result.stderr
    assert api_env.stats.requests_total == 1
    assert {row["outcome"] for row in read_results(tmp_path / "out.csv")} == {"pending"}
    assert "wrong-key" not in result.stderr + result.stdout


def test_a_finished_job_rerun_sends_no_create_and_exits_0(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("A", "FR"), ("B", "DE")])
    assert cli("run", source, "-o", "first.csv").exit_code == 0
    creates = sum(api_env.stats.create_requests.values())
    second = cli("run", source, "-o", "second.csv")
    assert second.exit_code == 0, second.stderr
    assert sum(api_env.stats.create_requests.values()) == creates
    first_ids = {row["row"]: row["list_contact_id"] for row in read_results(tmp_path / "first.csv")}
    rows = read_results(tmp_path / "second.csv")
    assert {row["outcome"] for row in rows} == {"exists"}
    assert {row["row"]: row["list_contact_id"] for row in rows} == first_ids


def test_lists_on_the_account_come_back_exists_and_are_never_sent(cli, monkeypatch, tmp_path):
    with SandboxServer(existing_lists=[("Promo Noël", "FR"), ("VIP", "BE")]) as server:
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        monkeypatch.setenv("AVOSMS_ID", "demo@example.com")
        monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
        source = write_csv(
            tmp_path / "in.csv", [("promo noël", "FR"), ("VIP", "DE"), ("New", "FR")]
        )
        result = cli("run", source, "-o", "out.csv")
        assert result.exit_code == 0, result.stderr
        rows = read_results(tmp_path / "out.csv")
        assert [row["outcome"] for row in rows] == ["exists", "exists", "created"]
        existing_ids = {
            name.casefold(): list_id for list_id, (name, _) in server.stats.lists.items()
        }
        assert rows[0]["list_contact_id"] == existing_ids["promo noël"]
        assert "BE" in rows[1]["message"] and "DE" in rows[1]["message"]
        assert set(server.stats.create_requests) == {"new"}


def test_lost_answers_never_create_twice(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(lost_answer_rate=0.2, seed=3))
    rows = [(f"Lost {number}", "FR") for number in range(80)]
    source = write_csv(tmp_path / "in.csv", rows)
    result = cli("run", source, "-o", "out.csv", "--rate", "0", "--workers", "8")
    assert result.exit_code == 0, result.stderr
    results = read_results(tmp_path / "out.csv")
    # Nothing existed before the run: every list is this run's, lost answers or not.
    assert {row["outcome"] for row in results} == {"created"}
    ids = {name.casefold(): list_id for list_id, (name, _) in api_env.stats.lists.items()}
    assert all(row["list_contact_id"] == ids[row["name"].casefold()] for row in results)
    assert set(api_env.stats.created.values()) == {1}
    assert any("confirmed by re-reading the account" in row["message"] for row in results)


def test_validate_plans_without_any_request(cli, api_env, tmp_path):
    result = cli("validate", SAMPLE_DATA / "lists.csv", "-o", "plan.csv")
    assert result.exit_code == 1
    rows = read_results(tmp_path / "plan.csv")
    assert sum(row["outcome"] == "planned" for row in rows) == 8
    assert api_env.stats.requests_total == 0


@pytest.mark.parametrize("suffix", [".xlsx", ".json"])
def test_output_format_follows_the_extension(cli, api_env, tmp_path, suffix):
    result = cli("run", SAMPLE_DATA / "lists.csv", "-o", f"out{suffix}")
    assert result.exit_code == 1
    path = tmp_path / f"out{suffix}"
    if suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        assert len(document["rows"]) == 13 and document["summary"]["counts"]["created"] == 8
    else:
        sheet = openpyxl.load_workbook(path)["Results"]
        assert [cell.value for cell in sheet[1]] == list(RESULT_COLUMNS)
        assert sheet.max_row == 14


def test_the_key_appears_in_no_output(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(error_9xx_rate=0.2, seed=1))
    result = cli(
        "run",
        SAMPLE_DATA / "lists.csv",
        "-o",
        "out.csv",
        "--report",
        "report.html",
        "--log-file",
        "run.log",
        "--state",
        "state.db",
    )
    assert result.exit_code == 1
    produced = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(produced) >= 4
    for path in produced:
        assert DEMO_KEY.encode() not in path.read_bytes(), path
    assert DEMO_KEY not in result.stdout + result.stderr


def test_backoff_options_reach_the_retry_policy(cli, api_env, tmp_path, monkeypatch):
    from importer import client as client_module
    from importer.replies import RetryPolicy

    policies: list[RetryPolicy] = []
    original = client_module.AvoSmsClient.__init__

    def spy(self, *args, retry=None, **kwargs):
        policies.append(retry)
        original(self, *args, retry=retry, **kwargs)

    monkeypatch.setattr(client_module.AvoSmsClient, "__init__", spy)
    api_env.set_faults(FaultPlan(error_9xx_rate=1.0))
    source = write_csv(tmp_path / "in.csv", [("Backoff", "FR")])
    args = ("--backoff-initial", "0.01", "--backoff-max", "0.02", "--max-attempts", "3")
    result = cli("run", source, "-o", "out.csv", *args)
    assert result.exit_code == 1
    assert (policies[0].backoff_initial, policies[0].backoff_max) == (0.01, 0.02)
    assert read_results(tmp_path / "out.csv")[0]["attempts"] == "3"


def test_without_reconcile_the_journal_stands_in_for_the_account(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("A", "FR"), ("B", "DE")])
    assert cli("run", source, "-o", "first.csv").exit_code == 0
    creates = sum(api_env.stats.create_requests.values())
    second = cli("run", source, "-o", "second.csv", "--no-reconcile")
    assert second.exit_code == 0, second.stderr
    assert sum(api_env.stats.create_requests.values()) == creates
    assert api_env.stats.list_requests == 1  # the first run's reconcile only
    rows = read_results(tmp_path / "second.csv")
    assert {row["outcome"] for row in rows} == {"exists"}
    assert all("recorded by run 1" in row["message"] for row in rows)


def test_the_first_create_goes_alone_only_until_the_api_has_accepted_the_key(
    cli, api_env, tmp_path
):
    # Without the account read, the first create goes alone (a refused key costs one request);
    # after it (the default reconcile), the key is known good and the creates go out together.
    api_env.set_faults(FaultPlan(latency=0.5))
    first = write_csv(tmp_path / "first.csv", [("A", "FR"), ("B", "FR")])
    assert cli("run", first, "-o", "a.csv", "--no-reconcile", "--workers", "2").exit_code == 0
    assert api_env.stats.max_in_flight == 1
    second = write_csv(tmp_path / "second.csv", [("C", "FR"), ("D", "FR")])
    assert cli("run", second, "-o", "b.csv", "--workers", "2").exit_code == 0
    assert api_env.stats.max_in_flight == 2


def test_an_empty_account_proves_the_key_too(cli, api_env, tmp_path):
    # The account read of an empty account answers ERR_101 ("no list"), not OK: the API knew
    # the account all the same, so the creates go out together from the first.
    api_env.set_faults(FaultPlan(latency=0.5))
    source = write_csv(tmp_path / "in.csv", [("A", "FR"), ("B", "FR")])
    assert cli("run", source, "-o", "a.csv", "--workers", "2").exit_code == 0
    assert api_env.stats.max_in_flight == 2
