"""Smaller truths: the report's path, the base URL in force, sandbox credentials, short keys."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from importer.credentials import load_credentials, secrets_of
from importer.errors import ConfigError
from importer.options import JobOptions
from importer.sandbox import FaultPlan
from tests.conftest import SAMPLE_DATA, read_results, write_csv

SAMPLE_CSV = SAMPLE_DATA / "lists.csv"


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("target", ["results", "input", "results, another spelling"])
def test_a_report_over_the_results_or_the_input_is_refused_before_sending(
    cli, api_env, tmp_path, command, target
):
    source = write_csv(tmp_path / "in.csv", [("Kept", "FR")])
    before = source.read_bytes()
    report = {
        "results": "out.csv",
        "input": "in.csv",
        "results, another spelling": "./sub/../out.csv",
    }[target]
    (tmp_path / "sub").mkdir()
    result = cli(command, source, "-o", "out.csv", "--report", report)
    assert result.exit_code == 2, result.stderr
    assert "the report would overwrite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert api_env.stats.requests_total == 0
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-o", "stop.csv"], "the results file would overwrite the STOP list"),
        (["--report", "stop.csv"], "the report would overwrite the STOP list"),
        (["--report", "st.db"], "the report would overwrite the journal"),
        (["--report", "job.yaml"], "the report would overwrite the job file"),
        (["--log-file", "in.csv"], "the log would overwrite the input file"),
        (["-o", "out.csv", "--log-file", "out.csv"], "the log would overwrite the results"),
        (["-o", "new/out.csv", "--report", "in.csv"], "the report would overwrite"),
    ],
    ids=[
        "results-stop",
        "report-stop",
        "report-journal",
        "report-job",
        "log-input",
        "log-results",
        "no-folder",
    ],
)
def test_no_output_is_written_over_a_file_the_command_reads_or_keeps(
    cli, api_env, tmp_path, args, said
):
    # An opt-out list, a journal or a job file written over is lost for good: refused in one
    # line before anything is read, sent, logged or created (no folder for the results).
    write_csv(tmp_path / "in.csv", [("Gardée", "FR")])
    (tmp_path / "stop.csv").write_text("phone\n+33612345678\n", encoding="utf-8")
    (tmp_path / "job.yaml").write_text("input: in.csv\nstate: st.db\n", encoding="utf-8")
    assert cli("run", "--job", "job.yaml", "-o", "first.csv").exit_code == 0
    before = {
        name: (tmp_path / name).read_bytes() for name in ("in.csv", "stop.csv", "st.db", "job.yaml")
    }
    result = cli("run", "--job", "job.yaml", "--exclude", "stop.csv", *args)
    assert result.exit_code == 2, result.stderr
    assert said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("command", ["runs", "results"])
def test_runs_and_results_never_read_the_base_url_variable(
    cli, api_env, tmp_path, monkeypatch, command
):
    source = write_csv(tmp_path / "in.csv", [("Once", "FR")])
    assert cli("run", source, "-o", "out.csv").exit_code == 0
    monkeypatch.setenv("AVOSMS_BASE_URL", "ftp://nowhere.example")
    args = ["runs"] if command == "runs" else ["results", "1", "-o", "again.csv"]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr


def test_the_base_url_variable_is_checked_only_when_in_force(cli, sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("AVOSMS_ID", "demo@example.com")
    monkeypatch.setenv("AVOSMS_KEY", "demo-key-0000")
    monkeypatch.setenv("AVOSMS_BASE_URL", "http://api.example.com")  # refused if it were used
    source = write_csv(tmp_path / "in.csv", [("Option wins", "FR")])
    assert cli("run", source, "-o", "out.csv", "--base-url", sandbox.url).exit_code == 0
    job = tmp_path / "job.yaml"
    job.write_text(f"input: in.csv\nbase_url: {sandbox.url}\n", encoding="utf-8")
    assert cli("run", "--job", job, "-o", "out2.csv").exit_code == 0
    refused = cli("run", source, "-o", "out3.csv")
    assert refused.exit_code == 2 and "AVOSMS_BASE_URL" in refused.stderr


def test_the_sandbox_always_uses_the_demo_account(cli, monkeypatch, tmp_path):
    real = tmp_path / "avosms.yaml"
    real.write_text("id: me@example.com\nkey: a-real-key-never-sent\n", encoding="utf-8")
    real.chmod(0o600)
    monkeypatch.setenv("AVOSMS_ID", "me@example.com")
    monkeypatch.setenv("AVOSMS_KEY", "another-real-key")
    job = tmp_path / "job.yaml"
    job.write_text(
        "input: in.csv\nbase_url: sandbox\ncredentials_file: avosms.yaml\n", encoding="utf-8"
    )
    write_csv(tmp_path / "in.csv", [("Demo only", "FR")])
    result = cli("run", "--job", job, "-o", "out.csv")
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "out.csv")[0]["outcome"] == "created"
    credentials = load_credentials(
        JobOptions(base_url="sandbox", credentials_file=real), {"AVOSMS_KEY": "x" * 20}
    )
    assert (credentials.id, credentials.key) == ("demo@example.com", "demo-key-0000")


@pytest.mark.parametrize("key", ["a", "e", "1234567"])
def test_an_implausibly_short_key_is_refused_and_messages_stay_readable(
    cli, monkeypatch, tmp_path, key
):
    monkeypatch.setenv("AVOSMS_ID", "me@example.com")
    monkeypatch.setenv("AVOSMS_KEY", key)
    source = write_csv(tmp_path / "in.csv", [("Country empty", ""), ("Fine", "FR")])
    result = cli("run", source, "-o", "out.csv", "--base-url", "https://api.example.com")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "too short to be an AvoSMS key" in line and "[REDACTED]" not in line
    assert f"is {len(key)} character" in line
    with pytest.raises(ConfigError):
        load_credentials(JobOptions(), {"AVOSMS_ID": "me@example.com", "AVOSMS_KEY": key})
    assert secrets_of(JobOptions(), {"AVOSMS_KEY": key}) == []


def test_a_plausible_key_is_masked_wherever_it_appears():
    key = "k3y-of-twelve"
    assert secrets_of(JobOptions(), {"AVOSMS_KEY": key}) == [key]


def test_one_failed_request_then_a_wait_for_the_rate_is_not_an_outage(cli, api_env, tmp_path):
    # One request every 0.5 s; seed 3 fails the 1st and the 5th request, each retried at once
    # with success. Waiting for the rate longer than --max-outage is no outage by itself.
    api_env.set_faults(FaultPlan(http_5xx_rate=0.3, seed=3))
    source = write_csv(tmp_path / "in.csv", [(f"Slow rate {n}", "FR") for n in range(6)])
    args = ("--rate", "2", "--workers", "1", "--max-outage", "0.3", "--no-reconcile")
    result = cli("run", source, "-o", "out.csv", *args, "--backoff-initial", "0")
    assert result.exit_code == 0, result.stderr
    assert api_env.stats.faults["http_5xx"] == 2
    rows = read_results(tmp_path / "out.csv")
    assert {row["outcome"] for row in rows} == {"created"}
    assert sorted(row["attempts"] for row in rows) == ["1", "1", "1", "1", "2", "2"]

    # Two failures more than --max-outage apart with no success between: an outage.
    api_env.set_faults(FaultPlan(fail_everything=True))
    source = write_csv(tmp_path / "down.csv", [("Down A", "FR"), ("Down B", "FR")])
    result = cli("run", source, "-o", "down.results.csv", *args, "--backoff-initial", "0")
    assert result.exit_code == 3, result.stderr
    assert "every request to the API failed for" in result.stderr
    assert "2 failed requests" in result.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("4", "4")])
def test_the_command_line_keeps_numpy_to_one_blas_thread_unless_told(given, expected) -> None:
    # The importer does no linear algebra; a BLAS thread per core only costs CPU at start-up.
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = "import os, importer.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == expected, shown.stderr


@pytest.mark.parametrize(
    ("header", "loaded"), [("liste,pays,téléphone", False), ("liste,pays,téléphone,email", True)]
)
def test_email_validator_loads_only_for_a_file_with_e_mails(tmp_path, header, loaded) -> None:
    source = tmp_path / "in.csv"
    cells = "Clients,FR,06 12 34 56 78" + (",a@example.com" if loaded else "")
    source.write_text(f"{header}\n{cells}\n", encoding="utf-8")
    code = (
        "import sys\nfrom importer.cli import main\n"
        f"args = ['validate', {str(source)!r}, '-o', {str(tmp_path / 'out.csv')!r}, '-q']\n"
        "try:\n    main(args)\n"
        "except SystemExit:\n    pass\nprint('email_validator' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.stdout.strip().splitlines()[-1] == str(loaded), shown.stderr
