"""`results N -o FILE` rewrites a past run's results: never over a file the run read or kept."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from importer.journal import Journal
from importer.sandbox import FaultPlan, SandboxServer
from tests.conftest import read_results, write_csv
from tests.test_journal import record, start
from tests.test_resume import start_cli, wait_for_creates


def single_error(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    return line


@pytest.mark.parametrize(
    ("run_args", "target", "named"),
    [
        ([], "data/in.csv", "the input file data/in.csv"),
        ([], "./data/../data/in.csv", "the input file data/in.csv"),
        ([], "link.csv", "the input file data/in.csv"),
        (["--log-file", "nightly.log"], "nightly.log", "the run's log nightly.log"),
        (["--report", "page.html"], "page.html", "the run's report page.html"),
    ],
    ids=["input", "input, another spelling", "input, through a link", "log", "report"],
)
def test_results_refuses_to_overwrite_a_file_the_run_read_or_kept(
    cli, api_env, tmp_path, run_args, target, named
):
    (tmp_path / "data").mkdir()
    source = write_csv(tmp_path / "data" / "in.csv", [("Kept", "FR")])
    (tmp_path / "link.csv").symlink_to(source)
    assert cli("run", "data/in.csv", "-o", "out.csv", *run_args).exit_code == 0
    kept = (tmp_path / target).read_bytes()

    result = cli("results", "1", "-o", target)

    assert result.exit_code == 2
    assert single_error(result.stderr) == (
        f"avosms-import: {Path(target)}: the results file would overwrite {named}; "
        "choose another --output"
    )
    assert (tmp_path / target).read_bytes() == kept


def test_results_refuses_to_overwrite_the_journal_or_the_job_file(cli, api_env, tmp_path):
    write_csv(tmp_path / "in.csv", [("Jobbed", "FR")])
    job = tmp_path / "job.yaml"
    job.write_text("input: in.csv\nstate: state.db\n", encoding="utf-8")
    assert cli("run", "--job", job, "-o", "out.csv").exit_code == 0

    for target, named in (("state.db", "the journal"), ("job.yaml", "the job file")):
        result = cli("results", "1", "--job", job, "-o", target)
        assert result.exit_code == 2
        assert f"the results file would overwrite {named}" in single_error(result.stderr)
    assert cli("runs", "--job", job).exit_code == 0


def test_results_may_rewrite_the_runs_own_results_file(cli, api_env, tmp_path):
    write_csv(tmp_path / "in.csv", [("Again", "FR")])
    assert cli("run", "in.csv", "-o", "out.csv").exit_code == 0
    (tmp_path / "out.csv").unlink()

    result = cli("results", "1", "-o", "out.csv")

    assert result.exit_code == 0, result.stderr
    assert [row["name"] for row in read_results(tmp_path / "out.csv")] == ["Again"]


def test_a_run_with_an_absolute_input_path_is_protected_from_any_directory(
    cli, api_env, tmp_path, monkeypatch
):
    source = write_csv(tmp_path / "in.csv", [("Absolute", "FR")])
    assert cli("run", source, "-o", "out.csv", "--state", tmp_path / "state.db").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = cli("results", "1", "--state", tmp_path / "state.db", "-o", Path("..") / "in.csv")

    assert result.exit_code == 2
    assert "would overwrite the input file" in result.stderr
    assert read_results(source) == [{"name": "Absolute", "country": "FR"}]


def test_a_run_with_a_relative_input_path_is_protected_from_another_directory(
    cli, api_env, tmp_path, monkeypatch
):
    """The journal keeps the folder a run started in: its relative paths name the same files
    when `results` runs elsewhere."""
    (tmp_path / "data").mkdir()
    source = write_csv(tmp_path / "data" / "in.csv", [("Relative", "FR")])
    assert cli("run", "data/in.csv", "-o", "out.csv").exit_code == 0
    state = tmp_path / ".avosms-import" / "state.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = cli("results", "1", "--state", state, "-o", Path("..") / "data" / "in.csv")

    assert result.exit_code == 2, result.stderr
    assert f"would overwrite the input file {source}" in single_error(result.stderr)
    assert read_results(source) == [{"name": "Relative", "country": "FR"}]


def test_results_of_a_run_still_going_refuses_and_says_so(cli, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"Live {number}", "FR") for number in range(400)])
    with SandboxServer(faults=FaultPlan(latency=0.05)) as server:
        process = start_cli(server, "run", source, "--workers", "2", "--rate", "0", cwd=tmp_path)
        try:
            wait_for_creates(server, 5)
            assert "running" in cli("runs").stdout

            result = cli("results", "1", "-o", "live.csv")

            assert result.exit_code == 2
            assert single_error(result.stderr) == (
                f"avosms-import: .avosms-import/state.db: run 1 is still going (process "
                f"{process.pid} on {socket.gethostname()}): it writes its own results file "
                "when it ends; `avosms-import runs` shows its counts so far"
            )
            assert not (tmp_path / "live.csv").exists()
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
    assert process.returncode == 3

    ended = cli("results", "1", "-o", "live.csv")

    assert ended.exit_code == 0, ended.stderr
    assert len(read_results(tmp_path / "live.csv")) == 400


def test_results_of_a_killed_run_whose_rows_were_pruned_refuses_like_a_finished_one(
    cli, api_env, tmp_path
):
    source = write_csv(tmp_path / "in.csv", [("Pruned A", "FR"), ("Pruned B", "DE")])
    with Journal.open(tmp_path / "state.db") as journal:  # what a run killed by SIGKILL leaves
        killed = start(journal, kind="lists")
        journal.record_rows(killed, [record(2, "Pruned A", "created"), record(3, "Pruned B")])
    assert cli("run", source, "--state", "state.db").exit_code == 0
    assert cli("run", source, "--state", "state.db", "--keep-runs", "1").exit_code == 0

    listed = cli("runs", "--state", "state.db").stdout.splitlines()
    assert "did not finish" in listed[-1] and "1 created, 1 pending" in listed[-1]
    refusals = [
        cli("results", str(run_id), "--state", "state.db", "-o", "old.csv") for run_id in (1, 2)
    ]

    assert [result.exit_code for result in refusals] == [2, 2]
    assert single_error(refusals[0].stderr) == (
        "avosms-import: state.db: the rows of run 1 were pruned (only the newest runs keep "
        "theirs, see keep_runs); its counts are in `avosms-import runs`"
    )
    assert single_error(refusals[1].stderr) == single_error(refusals[0].stderr).replace(
        "run 1", "run 2"
    )
    assert not (tmp_path / "old.csv").exists()


def test_results_of_a_run_killed_before_it_recorded_rows_still_writes_its_empty_file(
    cli, api_env, tmp_path
):
    write_csv(tmp_path / "in.csv", [("Later", "FR")])
    with Journal.open(tmp_path / "state.db") as journal:
        start(journal, kind="lists")
    assert cli("run", "in.csv", "--state", "state.db", "--keep-runs", "1").exit_code == 0

    result = cli("results", "1", "--state", "state.db", "-o", "early.csv")

    assert result.exit_code == 0, result.stderr
    assert "0 rows (did not finish)" in result.stderr
    assert read_results(tmp_path / "early.csv") == []
