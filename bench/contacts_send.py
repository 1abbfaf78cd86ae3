"""Contacts run: add throughput against a 50-ms API."""

from __future__ import annotations

from pathlib import Path

from bench.common import (
    CLI,
    CLI_SHOWN,
    Report,
    Workspace,
    at_least,
    importer_env,
    parse_summary,
    sandbox_process,
    timed_run,
)

KEY = "contacts-adds"
TITLE = "Contacts run: adds"
ADDS = 5_000
ADD_LISTS = 10
LATENCY = 0.05
WORKERS = 16
IDEAL = WORKERS / LATENCY
#: Runs, each against a fresh sandbox; the rate kept is the best (the least disturbed by other
#: work on the machine), as for the lists' throughput.
ROUNDS = 3
OPTIONS = ("--workers", str(WORKERS), "--rate", "0", "--no-progress", "-q")

METHOD = f"""\
{ADDS:,} distinct French mobiles in {ADD_LISTS} lists (`liste;pays;téléphone`),
none of the lists on the account: `{CLI_SHOWN} run contacts.csv --workers {WORKERS} --rate 0`
against the sandbox in its own process (`python -m importer sandbox --latency {LATENCY}`: every
answer takes at least {LATENCY * 1000:.0f} ms). The run reads the account's lists, creates the
{ADD_LISTS} lists, then sends the {ADDS:,} adds with every guarantee on (retries, throttle,
breaker, journal). Its rate is adds ÷ the elapsed time of its summary line (lists resolved and
file read included; not interpreter start-up nor writing the results file); the ideal is
{WORKERS} workers ÷ {LATENCY} s = {IDEAL:.0f} requests/s. {ROUNDS} runs, each against a fresh
sandbox; the figure is the best rate.
"""


def contacts_csv(path: Path, count: int, lists: int) -> Path:
    """`count` distinct valid French mobiles spread over `lists` lists."""
    lines = ["liste;pays;téléphone"]
    lines += [f"Liste {n % lists:03d};FR;06{10_000_000 + n:08d}" for n in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(report: Report, workspace: Workspace) -> None:
    rounds = [_adds(workspace) for _ in range(ROUNDS)]
    rates = sorted((added / elapsed for added, elapsed, _ in rounds), reverse=True)
    added, elapsed, _ = max(rounds, key=lambda run: run[0] / run[1])
    report.figure("contacts added", f"{added:,} of {ADDS:,} (in {elapsed:.1f} s)")
    others = ", ".join(f"{rate:.0f}" for rate in rates[1:])
    report.figure("adds/s (summary elapsed)", f"{rates[0]:.0f} (best of {ROUNDS}; others {others})")
    report.figure("ideal: workers ÷ latency", f"{IDEAL:.0f}")
    report.figure("CPU seconds (user + system)", ", ".join(f"{run[2]:.2f}" for run in rounds))
    report.check(at_least("adds ÷ ideal (requests/s)", rates[0] / IDEAL, 0.9))


def _adds(workspace: Workspace) -> tuple[int, float, float]:
    """One run against a fresh sandbox: contacts added, summary elapsed, CPU seconds."""
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
    print(
        f"  (round: {added / summary.elapsed:.0f} adds/s, {timed.cpu_seconds:.2f} s CPU)",
        flush=True,
    )
    return added, summary.elapsed, timed.cpu_seconds
