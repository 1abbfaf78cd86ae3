"""The hostile-input corpus through the real CLI: one line, exit 2, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

BAD = ROOT / "tests" / "data" / "bad"
EXPECTED = yaml.safe_load((BAD / "EXPECTED.yaml").read_text(encoding="utf-8"))

#: read_table keywords in EXPECTED.yaml, as CLI options.
CLI_OPTIONS = {"sheet": "--sheet", "max_rows": "--max-rows"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_gives_one_line_exit_2_and_sends_nothing(cli, api_env, name):
    case = EXPECTED[name]
    options = [
        part
        for key, value in (case.get("options") or {}).items()
        for part in (CLI_OPTIONS[key], str(value))
    ]
    result = cli("run", BAD / name, *options)
    assert result.exit_code == case["exit_code"] == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"avosms-import: {BAD / name}")
    assert case["message"] in lines[0]
    assert "Traceback" not in result.stderr
    assert api_env.stats.requests_total == 0
    assert not list(Path.cwd().glob("*.results.*"))


def test_a_50_mb_single_line_is_refused_quickly(cli, api_env, tmp_path):
    source = tmp_path / "one_line.csv"
    source.write_bytes(b"name,country\n" + b"x" * 50_000_000)
    result = cli("run", source)
    assert result.exit_code == 2
    assert "line 2" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert api_env.stats.requests_total == 0


def test_an_input_that_does_not_exist_is_named(cli, api_env):
    result = cli("run", "nowhere.csv")
    assert result.exit_code == 2
    assert "nowhere.csv" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert api_env.stats.requests_total == 0


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("folder", "is a directory"),
        ("blocker/out.csv", "cannot create its folder"),
        ("out.txt", "unknown file format"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_sending(
    cli, api_env, tmp_path, output, message
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder")
    job = tmp_path / "job.yaml"
    job.write_text(f"input: {ROOT / 'sample_data' / 'lists.csv'}\noutput: {output}\n")
    result = cli("run", "--job", job)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert api_env.stats.requests_total == 0
