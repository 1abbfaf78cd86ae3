"""The manual keeps up with the CLI: every command has help with an example, and the README
names every command and every option."""

from __future__ import annotations

import os

import click
import pytest
from click.testing import CliRunner

from importer.cli import main
from tests.conftest import ROOT

README = ROOT / "README.md"
COMMANDS = sorted(main.commands)


def long_flags(command: click.Command) -> list[str]:
    """The command's options as an operator types them: `--max-outage`, `--no-reconcile`."""
    return sorted(
        {
            flag
            for param in command.params
            if isinstance(param, click.Option)
            for flag in (*param.opts, *param.secondary_opts)
            if flag.startswith("--") and flag != "--help"
        }
    )


OPTIONS = [(name, flag) for name in COMMANDS for flag in long_flags(main.commands[name])]


@pytest.fixture(scope="module")
def readme() -> str:
    assert README.is_file(), "README.md is missing"
    return README.read_text(encoding="utf-8")


def test_there_are_commands_to_document():
    assert {"run", "validate", "sandbox", "lists", "runs", "results"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_one_line_summary_and_an_example(name):
    command = main.commands[name]
    result = CliRunner().invoke(main, [name, "--help"], prog_name="avosms-import")
    assert result.exit_code == 0, result.output
    paragraphs = (command.help or "").strip().split("\n\n")
    summary = paragraphs[0]
    assert summary and "\n" not in summary, f"{name}: the summary should be one line"
    assert summary.endswith("."), f"{name}: the summary should be a sentence"
    assert summary in " ".join(result.output.split())  # wrapped to the terminal's width
    assert "Example" in result.output, f"{name} --help has no example"
    assert f"avosms-import {name}" in result.output.split("Example", 1)[1]
    # The summary fits the command list of `avosms-import --help` without being cut.
    assert command.get_short_help_str(limit=100) == summary


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(readme, name):
    assert f"avosms-import {name}" in readme


@pytest.mark.parametrize(("name", "flag"), OPTIONS, ids=[f"{n} {f}" for n, f in OPTIONS])
def test_every_option_is_in_the_readme(readme, name, flag):
    assert flag in readme, f"`avosms-import {name} {flag}` is not in README.md"


def test_the_sync_cron_line_writes_its_dated_files_where_the_job_writes_its_own() -> None:
    """Command-line paths are relative to the folder cron enters, the job's to its folder."""
    import re
    import shlex
    from pathlib import PurePosixPath

    import yaml

    job = yaml.safe_load((ROOT / "jobs" / "sync.yaml").read_text(encoding="utf-8"))
    lines = [
        line
        for text in (README.read_text(encoding="utf-8"), (ROOT / "jobs" / "sync.yaml").read_text())
        for line in text.splitlines()
        if "--job jobs/sync.yaml" in line and line.lstrip("# ").startswith("10 3")
    ]
    assert len(lines) == 2 and lines[0] == lines[1].lstrip("# ")
    words = shlex.split(re.sub(r"\$\(date [^)]*\)", "DATE", lines[0].replace("\\%", "%")))
    install = PurePosixPath(words[words.index("cd") + 1])
    jobs = install / "jobs"
    for flag, key in (("-o", "output"), ("--report", "report")):
        given = PurePosixPath(os.path.normpath(install / words[words.index(flag) + 1]))
        assert "DATE" in given.name
        assert given.parent == PurePosixPath(os.path.normpath(jobs / job[key])).parent
