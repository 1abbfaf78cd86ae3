"""Contacts run: add throughput against a 50-ms API; a finished job run again sends no add."""

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
    sandbox_process,
    sandbox_thread,
    timed_run,
)

KEY = "contacts-run"
TITLE = "Contacts run (adds, re-run)"
ADDS = 5_000
ADD_LISTS = 10
LATENCY = 0.05
WORKERS = 16
IDEAL = WORKERS / LATENCY
RERUN_CONTACTS = 100_000
RERUN_LISTS = 100
OPTIONS = ("--workers", str(WORKERS), "--rate", "0", "--no-progress", "-q")

METHOD = f"""\
**Throughput.** {ADDS:,} distinct French mobiles in {ADD_LISTS} lists (`liste;pays;téléphone`),
none of the lists on the account: `{CLI_SHOWN} run contacts.csv --workers {WORKERS} --rate 0`
against the sandbox in its own process (`python -m importer sandbox --latency {LATENCY}`: every
answer takes at least {LATENCY * 1000:.0f} ms). The run reads the account's lists, creates the
{ADD_LISTS} lists, then sends the {ADDS:,} adds with every guarantee on (retries, throttle,
breaker, journal). Its rate is adds ÷ the elapsed time of its summary line (lists resolved and
file read included; not interpreter start-up nor writing the results file); the ideal is
{WORKERS} workers ÷ {LATENCY} s = {IDEAL:.0f} requests/s.

**A finished job run again.** {RERUN_CONTACTS:,} contacts in {RERUN_LISTS} lists are imported
once (sandbox in a thread of the benchmark, no latency), then the same command runs again on
the same journal and account; the sandbox's own counters give the second run's requests:
the target is exactly 1 read of the account's lists + {RERUN_LISTS} list reads
(`/contact/list/information`) and 0 adds or creates.
"""


def contacts_csv(path: Path, count: int, lists: int) -> Path:
    """`count` distinct valid French mobiles spread over `lists` lists."""
    lines = ["liste;pays;téléphone"]
    lines += [f"Liste {n % lists:03d};FR;06{10_000_000 + n:08d}" for n in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(report: Report, workspace: Workspace) -> None:
    _throughput(report, workspace)
    _rerun(report, workspace)


def _throughput(report: Report, workspace: Workspace) -> None:
    work = workspace.fresh_dir(KEY)
    source = contacts_csv(work / "contacts.csv", ADDS, ADD_LISTS)
    with sandbox_process(workspace.root, latency=LATENCY) as url:
        timed = timed_run(
            [CLI, "run", source, "-o", work / "out.csv", "--state", work / "state.db", *OPTIONS],
            env=importer_env(url),
            ok_codes=(0,),
        )
    summary = parse_summary(timed.stderr)
    added = summary.counts.get("created", 0)
    rate = added / summary.elapsed
    report.figure("contacts added", f"{added:,} of {ADDS:,} (in {summary.elapsed:.1f} s)")
    report.figure("adds/s (summary elapsed)", f"{rate:.0f}")
    report.figure("ideal: workers ÷ latency", f"{IDEAL:.0f}")
    report.figure("CPU seconds (user + system)", f"{timed.cpu_seconds:.2f}")
    report.check(at_least("adds ÷ ideal (requests/s)", rate / IDEAL, 0.9))


def _rerun(report: Report, workspace: Workspace) -> None:
    work = workspace.fresh_dir(KEY)
    source = contacts_csv(work / "contacts.csv", RERUN_CONTACTS, RERUN_LISTS)
    command = [CLI, "run", source, "-o", work / "out.csv", "--state", work / "state.db", *OPTIONS]
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
