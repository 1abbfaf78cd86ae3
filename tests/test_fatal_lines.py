"""The one-line fatal errors reach the log file too, and a closed output ends quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from importer.cli_errors import CLOSED_OUTPUT_EXIT
from importer.sandbox import DEMO_KEY
from tests.conftest import ROOT, write_csv

WRONG_KEY = "not-the-key-5f3a9c"


def logged_errors(log: Path, log_format: str) -> list[str]:
    """The ERROR lines of a log file, as their messages."""
    lines = log.read_text(encoding="utf-8").splitlines()
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        return [record["message"] for record in records if record["level"] == "ERROR"]
    return [line for line in lines if " ERROR " in line]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_input_error_is_in_the_log_file_as_well_as_on_stderr(cli, tmp_path, log_format):
    (tmp_path / "empty.csv").write_bytes(b"")
    result = cli("validate", "empty.csv", "--log-file", "run.log", "--log-format", log_format)
    assert result.exit_code == 2
    assert result.stderr.strip() == "avosms-import: empty.csv: the file is empty (0 bytes)"
    (line,) = logged_errors(tmp_path / "run.log", log_format)
    assert "empty.csv: the file is empty (0 bytes)" in line
    if log_format == "json":
        (record,) = [
            json.loads(text)
            for text in (tmp_path / "run.log").read_text(encoding="utf-8").splitlines()
            if json.loads(text)["level"] == "ERROR"
        ]
        assert record["exit_code"] == 2


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_refused_key_is_in_the_log_file_and_the_key_is_not(
    cli, api_env, monkeypatch, tmp_path, log_format
):
    monkeypatch.setenv("AVOSMS_KEY", WRONG_KEY)
    source = write_csv(tmp_path / "in.csv", [("Fine", "FR")])
    result = cli(
        "run", source, "-o", "out.csv", "--state", "s.db",
        "--log-file", "run.log", "--log-format", log_format,
    )  # fmt: skip
    assert result.exit_code == 3
    assert "avosms-import: " in result.stderr and "ERR_100" in result.stderr
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    (line,) = logged_errors(tmp_path / "run.log", log_format)
    assert "ERR_100" in line
    assert WRONG_KEY not in log and WRONG_KEY not in result.stderr


def test_without_a_log_file_the_fatal_line_is_printed_once(cli, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    result = cli("validate", "empty.csv")
    assert result.exit_code == 2
    assert result.stderr.count("the file is empty") == 1


def run_into_a_closed_pipe(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, its stdout a pipe whose reader is already gone."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "importer", *map(str, args)],
            cwd=cwd,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    "args",
    [["runs", "--state", "s.db"], ["--help"], ["run", "--help"], ["--version"]],
    ids=["runs", "help", "run-help", "version"],
)
def test_a_closed_output_ends_quietly(cli, api_env, tmp_path, args):
    source = write_csv(tmp_path / "in.csv", [("Fine", "FR")])
    assert cli("run", source, "-o", "out.csv", "--state", "s.db").exit_code == 0
    result = run_into_a_closed_pipe(*args, cwd=tmp_path)
    assert result.returncode == CLOSED_OUTPUT_EXIT
    assert result.stderr == ""
    assert DEMO_KEY not in result.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-o", "folder/"], "--output: folder/"),
        (["-o", "folder"], "--output: folder"),
        (["--report", "folder"], "--report: folder"),
        (["--log-file", "folder"], "--log-file: folder"),
        (["--state", "folder"], "--state: folder"),
    ],
)
def test_a_folder_where_a_file_is_wanted_is_one_line(cli, api_env, tmp_path, args, named):
    (tmp_path / "folder").mkdir()
    source = write_csv(tmp_path / "in.csv", [("Fine", "FR")])
    command = "run" if "--state" in args else "validate"
    result = cli(command, source, *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"avosms-import: {named} is a folder, not a file: give a file name"
    ]
    assert api_env.stats.requests_total == 0


def test_a_folder_as_input_is_one_line(cli, tmp_path):
    (tmp_path / "folder").mkdir()
    result = cli("validate", "folder")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "avosms-import: INPUT: folder is a folder, not a file: give a file name"
    ]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["validate", "in.csv", "--bogus"], "No such option '--bogus'"),
        (["run", "in.csv", "--workers", "many"], "'many' is not a valid integer"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_other_usage_errors_keep_clicks_usage_block_and_exit_2(cli, args, said):
    result = cli(*args)
    assert result.exit_code == 2
    assert said in result.stderr and result.stderr.startswith("Usage: ")


def test_run_help_says_it_imports_lists_or_contacts(cli):
    result = cli("run", "--help")
    assert "Import INPUT's lists or contacts" in result.stdout


def test_map_help_lists_every_role(cli):
    from importer.kinds.roles import Role

    text = " ".join(cli("run", "--help").stdout.split())
    listed = text.split("roles: ", 1)[1].split(".", 1)[0]
    assert listed.split(", ") == [role.value for role in Role]
    assert "opt_out" in listed and "outcome" in listed


def _small_files_only() -> None:
    """In the child: files may not grow past 300 bytes, as on a full disk (EFBIG, not a
    signal)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))


@pytest.mark.parametrize(
    ("source", "options", "named"),
    [
        ("contacts.csv", ["-o", "out.csv"], "out.csv: could not write the results"),
        ("contacts.csv", ["-o", "out.json"], "out.json: could not write the results"),
        ("contacts.csv", ["-o", "out.xlsx"], "out.xlsx: could not write the results"),
        ("lists.csv", ["-o", "out.csv"], "out.csv: could not write the results"),
    ],
)
def test_a_disk_that_refuses_the_results_of_validate_is_one_line_exit_3(
    tmp_path, source, options, named
):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "importer",
            "validate",
            str(ROOT / "sample_data" / source),
            *options,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=_small_files_only,
        env={**os.environ, "RUST_BACKTRACE": "0"},
    )
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"avosms-import: {named} (") and "Traceback" not in result.stderr
