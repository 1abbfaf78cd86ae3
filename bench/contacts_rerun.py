"""Contacts run again: a finished job sends no add, and reads only the lists it needs."""

from __future__ import annotations

from pathlib import Path

from bench.common import (
    CLI,
    CLI_SHOWN,
    Report,
    Workspace,
    at_least,
    at_most,
    importer_env,
    parse_summary,
    sandbox_thread,
    timed_run,
)
from bench.contacts_send import OPTIONS, contacts_csv

KEY = "contacts-rerun"
TITLE = "Contacts run again"
RERUN_CONTACTS = 100_000
RERUN_LISTS = 100

METHOD = f"""\
{RERUN_CONTACTS:,} contacts in {RERUN_LISTS} lists are imported once (sandbox in a thread of the
benchmark, no latency), then the same command runs again on the same journal and account; the
sandbox's own counters give the second run's requests: the target is exactly 1 read of the
account's lists + {RERUN_LISTS} list reads (`/contact/list/information`) and 0 adds or creates.
The command: `{CLI_SHOWN} run contacts.csv --workers 16 --rate 0`.
"""


def measure(report: Report, workspace: Workspace) -> None:
    work = workspace.fresh_dir(KEY)
    source = contacts_csv(work / "contacts.csv", RERUN_CONTACTS, RERUN_LISTS)
    command: list[str | Path] = [
        CLI,
        "run",
        source,
        "-o",
        work / "out.csv",
        "--state",
        work / "state.db",
        *OPTIONS,
    ]
    with sandbox_thread() as (server, _):
        first = timed_run(command, env=importer_env(server.url), ok_codes=(0,))
        stats = server.stats
        before = (stats.list_requests, stats.information_requests.total())
        adds_before = stats.add_requests.total() + stats.create_requests.total()
        again = timed_run(command, env=importer_env(server.url), ok_codes=(0,))
        list_reads = stats.list_requests - before[0]
        information = stats.information_requests.total() - before[1]
        writes = stats.add_requests.total() + stats.create_requests.total() - adds_before
    summary = parse_summary(again.stderr)
    report.figure("first run", f"{RERUN_CONTACTS:,} contacts in {first.seconds:.1f} s")
    report.figure(
        "run again: requests",
        f"{list_reads} account read(s) + {information} list reads, {writes} adds or creates",
    )
    report.figure(
        "run again: outcomes, wall time",
        f"{summary.counts.get('exists', 0):,} exists, {again.seconds:.1f} s",
    )
    report.check(at_most("run again: reads beyond 1 + 100", list_reads + information - 101, 0))
    report.check(at_least("run again: reads, at least 1 + 100", list_reads + information, 101))
    report.check(at_most("run again: adds or creates", writes, 0))
