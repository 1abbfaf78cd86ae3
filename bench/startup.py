"""Start-up: the installed `avosms-import --help` beside `python -c "import click"`."""

from __future__ import annotations

import re

from bench.common import (
    CLI,
    CLI_SHOWN,
    PYTHON,
    PYTHON_SHOWN,
    Report,
    Workspace,
    at_most,
    interleaved,
    seconds_text,
    timed_run,
)

KEY = "startup"
TITLE = "Start-up"
ROUNDS = 15
#: Heavy packages `--help` must not import (the package imports them lazily).
HEAVY = (
    "pandas",
    "pyarrow",
    "numpy",
    "requests",
    "openpyxl",
    "python_calamine",
    "rustpy_xlsxwriter",
    "pycountry",
)

METHOD = f"""\
`{CLI_SHOWN} --help` (the installed console script) beside `{PYTHON_SHOWN} -c "import click"`,
each a fresh process timed from spawn to exit, taking turns {ROUNDS} times; the figure is the
best of each (the least disturbed by other work on the machine). `python -X importtime` on the
same `--help` names the slowest top-level imports and checks that no heavy package
({", ".join(HEAVY)}) is imported just to print the help.

**2026-12-01, 09:00 UTC.** The figure had crept from 1.59 to 2.34–2.42 with the same 176
modules imported: `importer.read` computed its header keys at import, and dropping invisible
characters from them built the list of Unicode format characters (a scan of 135,000 code
points, ~25 ms); and `--map`'s spelling was read from the job-file module, which loads PyYAML
(~16 ms). The keys now drop those characters one by one (a header is short), and the flag's
spelling lives with the job keys: 1.60–1.72 since (`--help` 0.103 s against 0.065 s).
"""

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\S.*)$")


def measure(report: Report, workspace: Workspace) -> None:
    timings = interleaved(
        ROUNDS,
        {
            "help": lambda: timed_run([CLI, "--help"]),
            "click": lambda: timed_run([PYTHON, "-c", "import click"]),
        },
    )
    help_times = [run.seconds for run in timings["help"]]
    click_times = [run.seconds for run in timings["click"]]
    report.figure("avosms-import --help", seconds_text(help_times))
    report.figure('python -c "import click"', seconds_text(click_times))

    traced = timed_run([PYTHON, "-X", "importtime", CLI, "--help"])
    top_level: list[tuple[int, str]] = []
    imported: set[str] = set()
    for line in traced.stderr.splitlines():
        found = _IMPORT_LINE.match(line)
        if found:
            imported.add(found.group(3).strip().split(".")[0])
            if not found.group(3).startswith(" "):
                top_level.append((int(found.group(2)), found.group(3)))
    slowest = sorted(top_level, reverse=True)[:4]
    report.figure(
        "slowest top-level imports (cumulative)",
        ", ".join(f"{name} {micros / 1000:.0f} ms" for micros, name in slowest),
    )
    heavy = sorted(set(HEAVY) & imported)
    report.figure("heavy packages imported by --help", ", ".join(heavy) or "none")
    report.check(at_most("--help ÷ import click", min(help_times) / min(click_times), 2))
