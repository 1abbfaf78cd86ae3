"""`python -m bench [KEY ...]`: run the benchmarks, print the figures, write bench/RESULTS.md.

A benchmark is a module listed in BENCHMARKS with `KEY`, `TITLE`, `METHOD` (markdown: what is
measured beside what) and `measure(report, workspace)`, which records raw figures
(`report.figure`), targets (`report.check(at_most(...))`: each a ratio or a bound measured in
this one run, never against a figure remembered from another run) and, if it has one, a
markdown section of its own (`report.section`, e.g. a profile). Adding a benchmark is adding
its module to BENCHMARKS.

PLANNED lists the targets whose measurement is not written yet; RESULTS.md shows each as
"not measured yet" until a report of the same KEY checks a figure of the same label (then the
entry can go).

Only a run of every benchmark rewrites RESULTS.md, so the file always holds one complete,
consistent set of figures. Missed targets are figures, not failures: the exit code is 1 only
when a benchmark could not be measured at all.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from bench import (
    contacts,
    contacts_rerun,
    contacts_send,
    excel,
    pipeline,
    rate,
    startup,
    throughput,
)
from bench.common import PYTHON_SHOWN, Planned, Report, machine, workspace

BENCHMARKS: tuple[ModuleType, ...] = (
    throughput,
    rate,
    pipeline,
    excel,
    startup,
    contacts,
    contacts_send,
    contacts_rerun,
)

#: Targets whose benchmark is not written yet: none (the contacts ones are measured by
#: `contacts`, `contacts-adds` and `contacts-rerun`).
PLANNED: tuple[Planned, ...] = ()
RESULTS = Path(__file__).with_name("RESULTS.md")
NOT_MEASURED = "not measured yet"


def main(argv: list[str]) -> int:
    known = {module.KEY: module for module in BENCHMARKS}
    unknown = [name for name in argv if name not in known]
    if unknown or any(arg in ("-h", "--help") for arg in argv):
        print(f"usage: python -m bench [{' '.join(known)}] (default: all)", file=sys.stderr)
        return 2 if unknown else 0
    selected = [known[name] for name in argv] or list(BENCHMARKS)

    facts = machine()
    started = datetime.now(UTC)
    for label, value in facts:
        print(f"{label}: {value}")
    reports: list[Report] = []
    with workspace() as work:
        for number, module in enumerate(selected, start=1):
            report = Report(
                module.KEY, module.TITLE, f"{PYTHON_SHOWN} -m bench {module.KEY}", module.METHOD
            )
            print(f"\n[{number}/{len(selected)}] {module.TITLE}", flush=True)
            began = time.perf_counter()
            try:
                module.measure(report, work)
            except Exception as error:
                report.error = f"{type(error).__name__}: {error}"
                traceback.print_exc()
            print(f"  ({time.perf_counter() - began:.0f} s)", flush=True)
            reports.append(report)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    facts.append(("Peak RSS of the benchmark process (a child's peak counts it)", f"{own:.0f} MB"))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    facts.append(("Load average at the end (1, 5, 15 min)", load))
    facts.append(("Duration of the run", f"{(datetime.now(UTC) - started).seconds / 60:.0f} min"))

    print("\n" + "\n".join(summary_table(reports)))
    if len(selected) == len(BENCHMARKS):
        RESULTS.write_text(results_markdown(reports, facts, started), encoding="utf-8")
        print("\nwritten to bench/RESULTS.md")
    else:
        print("\n(bench/RESULTS.md is only rewritten by a run of every benchmark)")
    return 1 if any(report.error for report in reports) else 0


def pending(reports: list[Report]) -> list[Planned]:
    """The planned targets no report of this run has checked."""
    checked = {(report.key, check.label) for report in reports for check in report.checks}
    return [plan for plan in PLANNED if (plan.key, plan.label) not in checked]


def summary_table(reports: list[Report]) -> list[str]:
    """Every target in one markdown table: benchmark, figure, value, target, verdict."""
    lines = ["| Benchmark | Figure | Value | Target | Holds |", "|---|---|---|---|---|"]
    for report in reports:
        if report.error:
            lines.append(f"| {report.title} | not measured: {report.error} | | | no |")
        for check in report.checks:
            verdict = "yes" if check.holds else "**no**"
            lines.append(
                f"| {report.title} | {check.label} | {check.shown} | {check.target} | {verdict} |"
            )
    for plan in pending(reports):
        lines.append(f"| {plan.title} | {plan.label} | {NOT_MEASURED} | {plan.target} | — |")
    return lines


def results_markdown(reports: list[Report], facts: list[tuple[str, str]], started: datetime) -> str:
    checks = [check for report in reports for check in report.checks]
    held = sum(check.holds for check in checks)
    errors = sum(bool(report.error) for report in reports)
    waiting = len(pending(reports))
    verdict = f"{held} of {len(checks)} measured targets hold" + (
        f"; {errors} benchmark(s) could not be measured" if errors else ""
    )
    if waiting:
        verdict += f"; {waiting} target(s) {NOT_MEASURED}"
    missed = [f"- missed: {r.title}, {c.label}" for r in reports for c in r.checks if not c.holds]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`{PYTHON_SHOWN} -m bench`) on "
        f"{started.strftime('%Y-%m-%d %H:%M UTC')};",
        "every full run overwrites this file. Each target is a ratio (or a bound) measured in",
        "this one run, the importer beside its reference, taking turns, so the ratios hold on a",
        "busy machine where absolute times would not; the median beside each minimum shows how",
        "noisy the run was. The targets are figures to watch, not pass/fail tests.",
        "",
        f"**{verdict}.**",
        *(["", *missed] if missed else []),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in facts),
        "",
        "## Summary",
        "",
        *summary_table(reports),
    ]
    for number, report in enumerate(reports, start=1):
        lines += ["", f"## {number}. {report.title}", "", report.method.rstrip(), ""]
        if report.error:
            lines += [f"Not measured: `{report.error}`", ""]
        if report.figures:
            lines += ["| Figure | Value |", "|---|---|"]
            lines += [f"| {label} | {value} |" for label, value in report.figures]
            lines.append("")
        for check in report.checks:
            verdict = "holds" if check.holds else "**missed**"
            lines.append(f"- {check.label}: **{check.shown}**, target {check.target}: {verdict}")
        for title, section in report.sections:
            lines += ["", f"### {title}", "", *section]
        lines += ["", f"Reproduce: `{report.command}` (or `make bench` for all)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
