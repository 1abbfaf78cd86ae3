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
