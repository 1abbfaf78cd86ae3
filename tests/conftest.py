"""Shared fixtures: the real sandbox on a loopback port, and the real CLI."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from importer.cli import main
from importer.jobfile import resolve_options
from importer.run import Environment, JobResult, run
from importer.sandbox import DEMO_ID, DEMO_KEY, SandboxServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _reset_importer_logger() -> Iterator[None]:
    """The CLI configures the "importer" logger for its process; give each test a clean one."""
    yield
    logger = logging.getLogger("importer")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh sandbox account on a free loopback port."""
    with SandboxServer() as server:
        yield server


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> SandboxServer:
    """Point the importer at the sandbox with its demo credentials."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    monkeypatch.setenv("AVOSMS_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's demo credentials in the environment (the API address left to the test)."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)


def seeded_account(
    monkeypatch: pytest.MonkeyPatch,
    lists: list[tuple[str, str]],
    contacts: list[dict[str, str]],
) -> Iterator[SandboxServer]:
    """For a fixture: a sandbox account holding `lists` and `contacts`, the importer pointed at
    it with the demo credentials."""
    monkeypatch.setenv("AVOSMS_ID", DEMO_ID)
    monkeypatch.setenv("AVOSMS_KEY", DEMO_KEY)
    with SandboxServer(existing_lists=lists, existing_contacts=contacts) as server:
        monkeypatch.setenv("AVOSMS_BASE_URL", server.url)
        yield server


@dataclass
class Invocation:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Invocation]:
    """Run the real CLI in a scratch working directory; stdout and stderr kept apart."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AVOSMS_BASE_URL", raising=False)

    def invoke(*args: str | Path, input: str | None = None) -> Invocation:
        result = CliRunner().invoke(
            main, [str(arg) for arg in args], input=input, catch_exceptions=False
        )
        return Invocation(result.exit_code, result.stdout, result.stderr)

    return invoke


def read_results(path: Path) -> list[dict[str, str]]:
    """The results CSV as written (UTF-8, BOM tolerated)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("name", "country")
) -> Path:
    """A small input CSV."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def library_run(
    tmp_path: Path,
    server: SandboxServer,
    source: Path,
    checkpoint: Callable[[str], None],
    **options: object,
) -> JobResult:
    """The library's `run` on `source` against `server`, with the test-only checkpoint hook
    (results in out.csv, journal in state.db, no rate limit; `options` add to or override)."""
    resolved = resolve_options(
        {},
        {
            "input": source,
            "output": tmp_path / "out.csv",
            "state": tmp_path / "state.db",
            "base_url": server.url,
            "rate": 0,
            **options,
        },
        environ={},
        job_dir=None,
    )
    environment = Environment(
        environ={"AVOSMS_ID": DEMO_ID, "AVOSMS_KEY": DEMO_KEY}, cwd=tmp_path, checkpoint=checkpoint
    )
    return run(resolved, environment)
