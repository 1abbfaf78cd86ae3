"""Every option of every command, through the real CLI: each test asserts what the option does."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
import requests

from importer.records import RESULT_COLUMNS
from importer.sandbox import DEMO_ID, DEMO_KEY, FaultPlan, SandboxServer
from tests.conftest import SAMPLE_DATA, read_results, write_csv

SAMPLE_CSV = SAMPLE_DATA / "lists.csv"
SAMPLE_XLSX = SAMPLE_DATA / "lists.xlsx"
#: What a valid row of the sample becomes, per command.
PLANNED = {"run": "created", "validate": "planned"}
#: Rows of the sample that are invalid (ERR_103, ERR_101, ERR_102).
INVALID_ROWS = {8, 9, 14}
CREATE_PATH = "/v1/contact/list/create"
LIST_PATH = "/v1/contact/list"


def load_results(path: Path) -> list[dict[str, str]]:
    """A results file of any format as rows of text, as the operator would read them."""
    if path.suffix == ".csv":
        return read_results(path)
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
        return [{key: str(value) for key, value in row.items()} for row in rows]
    sheet = openpyxl.load_workbook(path, read_only=True)["Results"]
    header, *body = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [
        {
            str(key): "" if value is None else str(value)
            for key, value in zip(header, row, strict=True)
        }
        for row in body
    ]


def outcomes(path: Path) -> dict[int, str]:
    return {int(row["row"]): row["outcome"] for row in load_results(path)}


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(params=["run", "validate"])
def command(request: pytest.FixtureRequest, cli, api_env) -> str:
    """run and validate share the input, output and log options: each is tested on both."""
    return request.param


@pytest.fixture
def two_sheets(tmp_path: Path) -> Path:
    """A workbook whose second sheet holds other lists than its first."""
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "First"
    first.append(["name", "country"])
    first.append(["From the first sheet", "FR"])
    second = workbook.create_sheet("Second")
    second.append(["name", "country"])
    second.append(["From the second sheet", "DE"])
    second.append(["Another second", "BE"])
    path = tmp_path / "two_sheets.xlsx"
    workbook.save(path)
    return path


# --------------------------------------------------------------------------- input and output


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json"])
def test_output_format_follows_the_extension(cli, command, tmp_path, suffix):
    result = cli(command, SAMPLE_CSV, "-o", f"plan{suffix}")
    assert result.exit_code == 1, result.stderr
    path = tmp_path / f"plan{suffix}"
    rows = load_results(path)
    assert list(rows[0]) == list(RESULT_COLUMNS)
    assert [int(row["row"]) for row in rows] == list(range(2, 15))
    assert sum(row["outcome"] == PLANNED[command] for row in rows) == 8
    assert f"results in plan{suffix}" in result.stderr


def test_long_output_option_is_the_same_as_short(cli, command, tmp_path):
    assert cli(command, SAMPLE_CSV, "--output", "long.json").exit_code == 1
    assert len(json.loads((tmp_path / "long.json").read_text(encoding="utf-8"))["rows"]) == 13


def test_default_output_is_the_input_stem_in_the_working_directory(cli, command, tmp_path):
    result = cli(command, SAMPLE_CSV)
    assert result.exit_code == 1
    assert [path.name for path in tmp_path.glob("*.results.*")] == ["lists.results.csv"]


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [
        (None, ["From the first sheet"]),
        ("First", ["From the first sheet"]),
        ("Second", ["From the second sheet", "Another second"]),
    ],
)
def test_sheet_picks_the_sheet_read(cli, command, tmp_path, two_sheets, sheet, expected):
    options = ["--sheet", sheet] if sheet else []
    result = cli(command, two_sheets, "-o", "out.csv", *options)
    assert result.exit_code == 0, result.stderr
    assert [row["name"] for row in read_results(tmp_path / "out.csv")] == expected


def test_sheet_on_the_sample_workbook(cli, command, tmp_path):
    assert cli(command, SAMPLE_XLSX, "--sheet", "Lists", "-o", "out.csv").exit_code == 1
    assert len(read_results(tmp_path / "out.csv")) == 13


def test_a_missing_sheet_names_the_sheets_there_are(cli, command, two_sheets):
    result = cli(command, two_sheets, "--sheet", "Third")
    assert result.exit_code == 2
    (line,) = stderr_lines(result.stderr)
    assert str(two_sheets) in line and "Third" in line
    assert "First" in line and "Second" in line


def test_name_and_country_columns_map_unrecognised_headers(cli, command, tmp_path):
    source = write_csv(
        tmp_path / "export.csv",
        [("Promo", "fr"), ("Soldes", "DE")],
        header=("Group Title", "Where"),
    )
    refused = cli(command, source, "-o", "out.csv")
    assert refused.exit_code == 2
    assert "Group Title" in refused.stderr
    result = cli(
        command,
        source,
        "-o",
        "out.csv",
        "--name-column",
        "Group Title",
        "--country-column",
        "Where",
    )
    assert result.exit_code == 0, result.stderr
    rows = read_results(tmp_path / "out.csv")
    assert [(row["name"], row["country_code"]) for row in rows] == [
        ("Promo", "FR"),
        ("Soldes", "DE"),
    ]
    assert {row["outcome"] for row in rows} == {PLANNED[command]}


def test_name_column_wins_over_a_recognised_header(cli, command, tmp_path):
    source = tmp_path / "two.csv"
    source.write_text("name,label,country\nold name,Chosen,FR\n", encoding="utf-8")
    assert cli(command, source, "-o", "out.csv", "--name-column", "label").exit_code == 0
    assert read_results(tmp_path / "out.csv")[0]["name"] == "Chosen"


@pytest.mark.parametrize(
    ("options", "country_code"),
    [([], ""), (["--default-country", "DE"], "DE"), (["--default-country", "de"], "DE")],
)
def test_default_country_fills_empty_country_cells(cli, command, tmp_path, options, country_code):
    source = write_csv(tmp_path / "in.csv", [("Without country", ""), ("With", "FR")])
    cli(command, source, "-o", "out.csv", *options)
    first, second = read_results(tmp_path / "out.csv")
    assert first["country_code"] == country_code
    if country_code:
        assert first["outcome"] == PLANNED[command]
    else:
        assert (first["outcome"], first["code"]) == ("invalid", "ERR_102")
    assert (second["country_code"], second["outcome"]) == ("FR", PLANNED[command])


def test_default_country_allows_a_file_without_a_country_column(cli, command, tmp_path):
    source = tmp_path / "names.csv"
    source.write_text("name\nOnly a name\n", encoding="utf-8")
    assert cli(command, source, "-o", "out.csv").exit_code == 2
    assert cli(command, source, "-o", "out.csv", "--default-country", "BE").exit_code == 0
    assert read_results(tmp_path / "out.csv")[0]["country_code"] == "BE"


@pytest.mark.parametrize(("limit", "exit_code"), [(12, 2), (13, 1)])
def test_max_rows_refuses_bigger_inputs_before_any_request(
    cli, command, api_env, tmp_path, limit, exit_code
):
    result = cli(command, SAMPLE_CSV, "-o", "out.csv", "--max-rows", str(limit))
    assert result.exit_code == exit_code
    if exit_code == 2:
        (line,) = stderr_lines(result.stderr)
        assert str(SAMPLE_CSV) in line and "13 rows" in line and "12" in line
        assert api_env.stats.requests_total == 0
        assert not (tmp_path / "out.csv").exists()
    else:
        assert len(read_results(tmp_path / "out.csv")) == 13


def test_report_writes_an_html_page(cli, command, tmp_path):
    assert cli(command, SAMPLE_CSV, "-o", "out.csv").exit_code == 1
    assert not list(tmp_path.glob("*.html"))
    assert cli(command, SAMPLE_CSV, "-o", "out.csv", "--report", "page.html").exit_code == 1
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Salon Lyon" in page and "ERR_103" in page


def test_job_file_gives_the_options_and_the_command_line_wins(cli, command, tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    write_csv(jobs / "in.csv", [("Job row", "")])
    job = jobs / "job.yaml"
    job.write_text(
        "input: in.csv\noutput: from-job.csv\ndefault_country: FR\nreport: report.html\n",
        encoding="utf-8",
    )
    result = cli(command, "--job", job)
    assert result.exit_code == 0, result.stderr
    # Paths in the job file are relative to its folder.
    (row,) = read_results(jobs / "from-job.csv")
    assert (row["country_code"], row["outcome"]) == ("FR", PLANNED[command])
    assert (jobs / "report.html").exists()

    result = cli(command, "--job", job, "-o", "from-cli.csv", "--default-country", "DE")
    assert result.exit_code == 0, result.stderr
    assert read_results(tmp_path / "from-cli.csv")[0]["country_code"] == "DE"


# --------------------------------------------------------------------------- the API


def send(cli, source: Path, *options: str) -> list[dict[str, str]]:
    """Run on ``source`` into out.csv; the results."""
    result = cli("run", source, "-o", "out.csv", *options)
    assert result.exit_code in (0, 1), result.stderr
    return read_results(Path("out.csv"))


@pytest.mark.parametrize("how", ["option", "environment", "option over environment"])
def test_base_url_from_the_option_or_the_environment(cli, sandbox, monkeypatch, tmp_path, how):
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    options: list[str] = []
    if how == "environment":
        monkeypatch.setenv("AVOSMS_BASE_URL", sandbox.url)
    else:
        options = ["--base-url", sandbox.url]
    if how == "option over environment":
        monkeypatch.setenv("AVOSMS_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    rows = send(cli, write_csv(tmp_path / "in.csv", [("Paris", "FR")]), *options)
    assert rows[0]["outcome"] == "created"
    assert sandbox.stats.lists[rows[0]["list_contact_id"]] == ("Paris", "FR")


@pytest.mark.parametrize("how", ["option", "environment"])
def test_base_url_sandbox_starts_the_built_in_sandbox(cli, monkeypatch, tmp_path, how):
    for name in ("AVOSMS_ID", "AVOSMS_KEY"):
        monkeypatch.delenv(name, raising=False)
    if how == "environment":
        monkeypatch.setenv("AVOSMS_BASE_URL", "sandbox")
    options = ["--base-url", "sandbox"] if how == "option" else []
    result = cli("run", SAMPLE_CSV, "-o", "out.csv", *options)
    assert result.exit_code == 1, result.stderr
    rows = read_results(tmp_path / "out.csv")
    created = [row for row in rows if row["outcome"] == "created"]
    assert len(created) == 8 and all(row["list_contact_id"] for row in created)


def test_plain_http_to_another_machine_is_refused(cli, command, tmp_path):
    result = cli(command, SAMPLE_CSV, "--base-url", "http://api.example.com")
    assert result.exit_code == 2
    assert "--base-url" in result.stderr and "https" in result.stderr


@pytest.mark.parametrize(
    ("timeout", "outcome", "code", "message"),
    [
        ("0.2", "created", "OK", "confirmed by re-reading the account"),
        ("5", "created", "OK", "created"),
    ],
)
def test_timeout_is_the_wait_for_one_answer(
    cli, api_env, tmp_path, timeout, outcome, code, message
):
    # Creates are answered after 0.6 s: a 0.2 s timeout gives up first, and the account,
    # re-read later, shows the list the server still created.
    api_env.set_faults(FaultPlan(slow_answer_rate=1.0, hang_seconds=0.6))
    source = write_csv(tmp_path / "in.csv", [("Slow", "FR")])
    (row,) = send(cli, source, "--timeout", timeout, "--max-attempts", "1", "--no-reconcile")
    assert (row["outcome"], row["code"]) == (outcome, code)
    assert message in row["message"]
    assert api_env.stats.created == {"slow": 1}


@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_bounds_the_tries_per_row(cli, api_env, tmp_path, attempts):
    api_env.set_faults(FaultPlan(error_9xx_rate=1.0))
    source = write_csv(tmp_path / "in.csv", [("Never", "FR")])
    (row,) = send(cli, source, "--max-attempts", str(attempts), "--no-reconcile")
    assert row["outcome"] == "failed" and row["code"].startswith("ERR_9")
    assert row["attempts"] == str(attempts)
    assert api_env.stats.create_requests["never"] == attempts


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_bounds_the_requests_in_flight(cli, api_env, tmp_path, workers):
    api_env.set_faults(FaultPlan(latency=0.1))
    source = write_csv(tmp_path / "in.csv", [(f"W{number}", "FR") for number in range(12)])
    rows = send(cli, source, "--workers", str(workers), "--rate", "0", "--no-reconcile")
    assert {row["outcome"] for row in rows} == {"created"}
    assert api_env.stats.max_in_flight <= workers
    if workers > 1:
        assert api_env.stats.max_in_flight > 1


def test_rate_bounds_the_requests_per_second(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(f"R{number}", "FR") for number in range(10)])
    rows = send(cli, source, "--rate", "4", "--workers", "4")
    assert {row["outcome"] for row in rows} == {"created"}
    assert api_env.stats.max_requests_per_second <= 4 + 1  # the rate plus a burst of one


def test_max_outage_stops_the_run_with_rows_pending(cli, api_env, tmp_path):
    api_env.set_faults(FaultPlan(fail_everything=True))
    source = write_csv(tmp_path / "in.csv", [("A", "FR"), ("B", "FR")])
    result = cli(
        "run",
        source,
        "-o",
        "out.csv",
        "--max-outage",
        "0.3",
        "--max-attempts",
        "20",
        "--no-reconcile",
    )
    assert result.exit_code == 3
    assert "max_outage" in result.stderr or "max-outage" in result.stderr
    assert {row["outcome"] for row in read_results(tmp_path / "out.csv")} == {"pending"}
    # 20 attempts with backoff would take far longer than the outage allows.
    assert sum(api_env.stats.create_requests.values()) < 20


def test_state_is_the_journal_used_for_safe_reruns(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("Journaled", "FR")])
    send(cli, source, "--state", "mine/journal.db", "--no-reconcile")
    assert (tmp_path / "mine" / "journal.db").is_file()
    assert not (tmp_path / ".avosms-import").exists()
    creates = sum(api_env.stats.create_requests.values())
    # The same journal knows the list: nothing is sent, even without reading the account.
    (row,) = send(cli, source, "--state", "mine/journal.db", "--no-reconcile")
    assert row["outcome"] == "exists" and "run 1" in row["message"]
    assert sum(api_env.stats.create_requests.values()) == creates
    # Another journal does not: the list is asked for again.
    send(cli, source, "--state", "other.db", "--no-reconcile")
    assert sum(api_env.stats.create_requests.values()) == creates + 1


@pytest.mark.parametrize(
    ("options", "list_requests"), [([], 1), (["--reconcile"], 1), (["--no-reconcile"], 0)]
)
def test_reconcile_reads_the_account_first(cli, api_env, tmp_path, options, list_requests):
    send(cli, write_csv(tmp_path / "in.csv", [("Reconciled", "FR")]), *options)
    assert api_env.stats.list_requests == list_requests


# --------------------------------------------------------------------------- reading the account


#: The commands that only read the account, with their arguments.
ACCOUNT_READERS = {
    "lists": ["lists", "-o", "lists.csv"],
    "validate --check-account": ["validate", str(SAMPLE_CSV), "-o", "plan.csv", "--check-account"],
}


@pytest.fixture(params=list(ACCOUNT_READERS))
def reader(request: pytest.FixtureRequest, cli, api_env) -> list[str]:
    """lists and validate --check-account share the API options: each is tested on both."""
    return ACCOUNT_READERS[request.param]


def test_check_account_reads_the_lists_and_nothing_else(cli, api_env, tmp_path):
    assert cli("validate", SAMPLE_CSV, "-o", "plan.csv").exit_code == 1
    assert api_env.stats.requests_total == 0
    assert cli("validate", SAMPLE_CSV, "-o", "plan.csv", "--check-account").exit_code == 1
    assert api_env.stats.list_requests == api_env.stats.requests_total == 1


def test_account_readers_use_base_url(cli, reader, sandbox, monkeypatch):
    monkeypatch.setenv("AVOSMS_BASE_URL", "http://127.0.0.1:9")
    with SandboxServer() as other:
        result = cli(*reader, "--base-url", other.url)
        assert result.exit_code in (0, 1), result.stderr
        assert other.stats.list_requests == 1
    assert sandbox.stats.requests_total == 0


@pytest.mark.parametrize("attempts", [1, 2])
def test_account_readers_use_max_attempts(cli, reader, api_env, attempts):
    api_env.set_faults(FaultPlan(http_5xx_rate=1.0))
    result = cli(*reader, "--max-attempts", str(attempts))
    assert result.exit_code == 3
    (line,) = stderr_lines(result.stderr)
    assert "could not fetch the account's lists" in line and "HTTP 50" in line
    assert api_env.stats.list_requests == attempts


@pytest.mark.parametrize(("timeout", "exit_codes"), [("0.2", {3}), ("5", {0, 1})])
def test_account_readers_use_timeout(cli, reader, api_env, timeout, exit_codes):
    api_env.set_faults(FaultPlan(latency=0.6))
    result = cli(*reader, "--timeout", timeout, "--max-attempts", "1")
    assert result.exit_code in exit_codes, result.stderr
    if exit_codes == {3}:
        assert f"no answer within {timeout} s" in result.stderr


def test_lists_default_output_and_json(cli, api_env, tmp_path):
    cli("run", write_csv(tmp_path / "in.csv", [("Exported", "FR")]), "-o", "out.csv")
    result = cli("lists")
    assert result.exit_code == 0, result.stderr
    assert "1 lists written to account-lists.csv" in result.stderr
    assert [row["name"] for row in read_results(tmp_path / "account-lists.csv")] == ["Exported"]
    assert cli("lists", "--output", "lists.json").exit_code == 0
    assert "Exported" in (tmp_path / "lists.json").read_text(encoding="utf-8")


def test_lists_job_file_gives_base_url(cli, sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    job = tmp_path / "job.yaml"
    job.write_text(f"base_url: {sandbox.url}\n", encoding="utf-8")
    assert cli("lists", "--job", job).exit_code == 0
    assert sandbox.stats.list_requests == 1


# --------------------------------------------------------------------------- logs and progress


def test_log_format_text_and_json(cli, command):
    text = cli(command, SAMPLE_CSV, "-o", "out.csv", "--log-format", "text")
    assert text.exit_code == 1
    assert all(not line.startswith("{") for line in stderr_lines(text.stderr))
    assert len(re.findall(r"(?i)warning", text.stderr)) == len(INVALID_ROWS)

    logged = cli(command, SAMPLE_CSV, "-o", "out.csv", "--log-format", "json")
    assert logged.exit_code == 1
    lines = [json.loads(line) for line in stderr_lines(logged.stderr)]
    assert {line["row"] for line in lines if line["level"] == "WARNING"} == INVALID_ROWS
    assert lines[-1]["level"] == "INFO" and "13 rows" in lines[-1]["message"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_file_takes_the_log_off_stderr(cli, command, tmp_path, log_format):
    result = cli(
        command,
        SAMPLE_CSV,
        "-o",
        "out.csv",
        "--log-file",
        "logs/run.log",
        "--log-format",
        log_format,
    )
    assert result.exit_code == 1
    log = (tmp_path / "logs" / "run.log").read_text(encoding="utf-8")
    for row in INVALID_ROWS:
        assert f"row {row}" in log
    assert "13 rows" in log
    # Only the summary stays on stderr, for whoever reads the cron mail.
    (line,) = stderr_lines(result.stderr)
    assert "13 rows" in line and "3 invalid" in line and "WARNING" not in line.upper()
    if log_format == "json":
        assert all(json.loads(line) for line in log.splitlines())


@pytest.mark.parametrize("flag", ["--quiet", "-q"])
def test_quiet_keeps_only_the_summary(cli, command, flag):
    result = cli(command, SAMPLE_CSV, "-o", "out.csv", flag)
    assert result.exit_code == 1
    (line,) = stderr_lines(result.stderr)
    assert "13 rows" in line and "3 invalid" in line


def run_on_a_terminal(*args: str | Path, cwd: Path) -> str:
    """The real CLI in a subprocess whose stderr is a pseudo-terminal; what it drew there."""
    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 columns wide: give it a real terminal's size.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "importer", *map(str, args)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    drawn = bytearray()
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closes with the process
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
        process.wait(timeout=60)
    return drawn.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("options", "shown"), [([], True), (["--progress"], True), (["--no-progress"], False)]
)
def test_progress_bar_on_a_terminal(cli, api_env, tmp_path, options, shown):
    source = write_csv(tmp_path / "in.csv", [(f"P{number}", "FR") for number in range(5)])
    drawn = run_on_a_terminal("run", source, "-o", "out.csv", "--rate", "0", *options, cwd=tmp_path)
    assert "5 rows" in drawn and "5 created" in drawn
    assert ("5/5" in drawn and "%|" in drawn) is shown, drawn


@pytest.mark.parametrize(
    "command_args", [["run"], ["validate"], ["lists"], ["runs"], ["results", "1", "-o", "r.csv"]]
)
def test_debug_shows_the_traceback(cli, api_env, command_args):
    plain = cli(*command_args, "--job", "missing.yaml")
    assert plain.exit_code == 2
    (line,) = stderr_lines(plain.stderr)
    assert line == "avosms-import: missing.yaml: no such job file"
    debug = cli(*command_args, "--job", "missing.yaml", "--debug")
    assert debug.exit_code == 2
    assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr
    assert stderr_lines(debug.stderr)[-1] == line


# --------------------------------------------------------------------------- runs and results


def test_runs_and_results_read_the_journal_given_by_state(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("One", "FR"), ("", "FR")])
    assert cli("run", source, "-o", "out.csv", "--state", "j.db").exit_code == 1
    assert "no runs recorded" in cli("runs").stderr  # the default journal is empty

    listed = cli("runs", "--state", "j.db")
    assert listed.exit_code == 0
    (line,) = stderr_lines(listed.stdout)
    assert line.split()[0] == "1" and "exit 1" in line and str(source) in line
    assert "1 created" in line and "1 invalid" in line

    rebuilt = cli("results", "1", "--state", "j.db", "-o", "again.json")
    assert rebuilt.exit_code == 0, rebuilt.stderr  # written; the run itself had exit 1
    rows = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))["rows"]
    assert [row["outcome"] for row in rows] == ["created", "invalid"]
    assert rows[0]["list_contact_id"] == read_results(tmp_path / "out.csv")[0]["list_contact_id"]


def test_runs_and_results_take_state_from_a_job_file(cli, api_env, tmp_path):
    source = write_csv(tmp_path / "in.csv", [("Jobbed", "FR")])
    job = tmp_path / "job.yaml"
    job.write_text("input: in.csv\nstate: journal/state.db\n", encoding="utf-8")
    assert cli("run", "--job", job, "-o", "out.csv").exit_code == 0
    assert "exit 0" in cli("runs", "--job", job).stdout
    assert cli("results", "1", "--job", job, "-o", "r.csv").exit_code == 0
    assert read_results(tmp_path / "r.csv")[0]["name"] == "Jobbed"
    assert source.exists()


def test_results_of_an_unknown_run_names_the_journal(cli, api_env, tmp_path):
    cli("run", write_csv(tmp_path / "in.csv", [("X", "FR")]), "--state", "j.db")
    result = cli("results", "7", "--state", "j.db", "-o", "r.csv")
    assert result.exit_code == 2
    (line,) = stderr_lines(result.stderr)
    assert "j.db" in line and "run 7" in line
    assert not (tmp_path / "r.csv").exists()


def test_results_needs_an_output(cli):
    result = cli("results", "1")
    assert result.exit_code == 2 and "--output" in result.stderr


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("rows", "key", "exit_code", "message"),
    [
        ([("Fine", "FR")], DEMO_KEY, 0, "1 row in"),
        ([("Fine", "FR"), ("Nowhere", "Atlantis")], DEMO_KEY, 1, "1 invalid"),
        (None, DEMO_KEY, 2, "input file not found: absent.csv"),
        ([("Fine", "FR")], "not-the-key", 3, "ERR_100"),
    ],
    ids=["0-all-created", "1-rows-invalid", "2-usage", "3-stopped"],
)
def test_each_exit_code_has_its_message(
    cli, api_env, monkeypatch, tmp_path, rows, key, exit_code, message
):
    monkeypatch.setenv("AVOSMS_KEY", key)
    source = write_csv(tmp_path / "in.csv", rows) if rows is not None else Path("absent.csv")
    result = cli("run", source, "-o", "out.csv")
    assert result.exit_code == exit_code
    assert message in result.stderr
    if exit_code == 0:
        assert "1 created" in result.stderr
    if exit_code in (2, 3):
        assert any(line.startswith("avosms-import: ") for line in stderr_lines(result.stderr))
    if exit_code == 2:
        assert api_env.stats.requests_total == 0 and not (tmp_path / "out.csv").exists()


def test_click_usage_errors_exit_2_with_the_option_named(cli):
    result = cli("run", SAMPLE_CSV, "--workers", "many")
    assert result.exit_code == 2
    assert "--workers" in result.stderr and "many" in result.stderr


# --------------------------------------------------------------------------- sandbox


@contextmanager
def sandbox_process(*args: str | Path) -> Iterator[str]:
    """`avosms-import sandbox` in its own process; its URL from the ready line on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "importer", "sandbox", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready = process.stderr.readline()
        match = re.search(r"http://[^\s]+", ready)
        assert match, ready + process.stderr.read()
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def create(url: str, name: str = "Paris", *, timeout: float = 10) -> requests.Response:
    form = {"id": DEMO_ID, "key": DEMO_KEY, "listContactName": name, "listContactCountryCode": "FR"}
    return requests.post(url + CREATE_PATH, data=form, timeout=timeout)


def account_names(url: str) -> list[str]:
    answer = requests.post(
        url + LIST_PATH, data={"id": DEMO_ID, "key": DEMO_KEY}, timeout=10
    ).json()
    return [item["list_contact_name"] for item in answer.get("list_contact", [])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sandbox_serves_the_demo_account_on_port_0(tmp_path):
    with sandbox_process("--port", "0") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
        assert create(url).json()["code"] == "OK"
        assert account_names(url) == ["Paris"]


def test_sandbox_host_and_port():
    port = free_port()
    with sandbox_process("--host", "127.0.0.2", "--port", str(port)) as url:
        assert url == f"http://127.0.0.2:{port}"
        assert create(url).json()["code"] == "OK"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.org"])
def test_sandbox_refuses_to_listen_beyond_this_machine(cli, host: str) -> None:
    result = cli("sandbox", "--host", host, "--port", "0")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"avosms-import: --host {host}: the sandbox listens on this machine only (127.0.0.1, "
        "::1, localhost): it accepts a published demo key and keeps no secret"
    ]


def expect_9xx(url: str) -> None:
    assert create(url).json()["code"].startswith("ERR_9")
    assert account_names(url) == []


def expect_5xx(url: str) -> None:
    assert create(url).status_code in (500, 502, 503)


def expect_hang(url: str) -> None:
    with pytest.raises(requests.Timeout):
        create(url, timeout=0.5)


def expect_drop(url: str) -> None:
    with pytest.raises(requests.ConnectionError):
        create(url)
    assert account_names(url) == []


def expect_lost_answer(url: str) -> None:
    try:
        answer = create(url).json()["code"]
    except requests.ConnectionError:
        answer = "dropped"
    assert answer != "OK"
    assert account_names(url) == ["Paris"]  # created all the same


def expect_garbage(url: str) -> None:
    answer = create(url)
    try:
        code = answer.json().get("code")
    except ValueError:
        code = None
    assert code not in ("OK", *(f"ERR_{n}" for n in range(100, 105)))
    assert account_names(url) == []


def expect_slow_answer(seconds: float) -> Callable[[str], None]:
    def check(url: str) -> None:
        with pytest.raises(requests.Timeout):
            create(url, timeout=seconds / 3)
        assert account_names(url) == []  # not yet processed
        deadline = time.monotonic() + 10
        while not account_names(url):  # processed after the client gave up
            assert time.monotonic() < deadline
            time.sleep(seconds / 6)
        assert account_names(url) == ["Paris"]

    return check


def expect_name_rule(rule: str) -> Callable[[str], None]:
    def check(url: str) -> None:
        assert create(url, "Paris").json()["code"] == "OK"
        second = create(url, "PARIS").json()["code"]
        assert second == ("OK" if rule == "strict" else "ERR_104")

    return check


def expect_latency(url: str) -> None:
    started = time.monotonic()
    assert create(url).json()["code"] == "OK"
    assert time.monotonic() - started >= 0.3


def expect_rate_limit(retry_after: str) -> Callable[[str], None]:
    def check(url: str) -> None:
        answers = [create(url, f"Quick {n}") for n in range(3)]
        limited = [answer for answer in answers if answer.status_code == 429]
        assert limited and all(a.headers["Retry-After"] == retry_after for a in limited)

    return check


@pytest.mark.parametrize(
    ("options", "expect"),
    [
        (["--error-rate", "1"], expect_9xx),
        (["--http-error-rate", "1"], expect_5xx),
        (["--timeout-rate", "1"], expect_hang),
        (["--drop-rate", "1"], expect_drop),
        (["--lost-answer-rate", "1"], expect_lost_answer),
        (["--garbage-rate", "1"], expect_garbage),
        (["--latency", "0.3"], expect_latency),
        (["--slow-answer-rate", "1", "--hang-seconds", "0.6"], expect_slow_answer(0.6)),
        (["--name-rule", "strict"], expect_name_rule("strict")),
        (["--name-rule", "importer"], expect_name_rule("importer")),
        (["--rate-limit", "1"], expect_rate_limit("1")),
        (["--rate-limit", "1", "--retry-after", "7"], expect_rate_limit("7")),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_sandbox_fault_options(options, expect):
    with sandbox_process("--port", "0", *options) as url:
        expect(url)


def fault_sequence(*options: str) -> list[str]:
    with sandbox_process("--port", "0", "--error-rate", "0.5", *options) as url:
        return [create(url, f"Seeded {n}").json()["code"][:5] for n in range(16)]


def test_sandbox_seed_makes_the_faults_repeatable():
    first = fault_sequence("--seed", "11")
    assert first == fault_sequence("--seed", "11")
    assert first != fault_sequence("--seed", "12")
    assert {"OK", "ERR_9"} == set(first)


def test_sandbox_lists_preloads_the_account(tmp_path):
    lists = tmp_path / "lists.csv"
    lists.write_text("name,country\nAlready there,FR\nAussi,DE\n", encoding="utf-8")
    with sandbox_process("--port", "0", "--lists", lists) as url:
        assert account_names(url) == ["Already there", "Aussi"]
        assert create(url, "already THERE").json()["code"] == "ERR_104"


def test_sandbox_contacts_preloads_the_lists(tmp_path):
    lists = tmp_path / "lists.csv"
    lists.write_text("name,country\nClients,FR\n", encoding="utf-8")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("list,phone,civility\nClients,06 12 34 56 78,Mme\n", encoding="utf-8")
    with sandbox_process("--port", "0", "--lists", lists, "--contacts", contacts) as url:
        (listed,) = requests.post(url + LIST_PATH, data={"id": DEMO_ID, "key": DEMO_KEY}).json()[
            "list_contact"
        ]
        assert listed["nb_contact_list"] == "1"
        form = {"id": DEMO_ID, "key": DEMO_KEY, "listContactId": listed["list_contact_id"]}
        info = requests.post(url + "/v1/contact/list/information", data=form, timeout=10).json()
        assert info["list_contact"][0]["contact_civility"] == "Mme"


def test_sandbox_debug_shows_the_traceback(tmp_path):
    lists = tmp_path / "lists.csv"
    lists.write_text("name,country\nTwice,FR\ntwice,FR\n", encoding="utf-8")
    command = [sys.executable, "-m", "importer", "sandbox", "--port", "0", "--lists", str(lists)]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert plain.returncode == 2
    (line,) = stderr_lines(plain.stderr)
    assert str(lists) in line and "already on line 2" in line
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=30)
    assert debug.returncode == 2 and "Traceback" in debug.stderr
