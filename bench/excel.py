"""Excel: `validate` on a 100,000-row .xlsx beside python-calamine merely reading it."""

from __future__ import annotations

from bench.common import (
    CLI,
    CLI_SHOWN,
    PYTHON,
    Report,
    Workspace,
    at_most,
    importer_env,
    in_process,
    interleaved,
    seconds_text,
    timed_run,
)

KEY = "excel"
TITLE = "Excel (100,000-row .xlsx)"
ROWS = 100_000
ROUNDS = 5
#: Calls in one interpreter: the first pays the lazy imports, the best of the rest is "warm".
CALLS = 6

READ_ONLY = (
    "from python_calamine import CalamineWorkbook\n"
    "CalamineWorkbook.from_path({path!r}).get_sheet_by_index(0).to_python()"
)
HEAVY_IMPORTS = "import pandas, pyarrow, pyarrow.compute"

METHOD = f"""\
A generated {ROWS:,}-row workbook (the local pipeline's generator, same mix of duplicates, bad
countries and empty cells, written with openpyxl's write-only mode). Two views, both reported:

- **Process** (the target): fresh processes timed from spawn to exit, imports included, taking
  turns {ROUNDS} times, minimum kept: `{CLI_SHOWN} validate big.xlsx -o out.csv` beside
  `python -c "from python_calamine import CalamineWorkbook;
  CalamineWorkbook.from_path(p).get_sheet_by_index(0).to_python()"`. A third process, `python
  -c "import pandas, pyarrow, pyarrow.compute"`, shows the fixed import cost any pandas-based
  validation pays before reading a cell.
- **In-process**: each side's call timed {CALLS} times inside one interpreter after importing
  its entry point (`importer.cli.main` with click's `standalone_mode=False`, or
  `CalamineWorkbook`); the first call still pays what it imports lazily (pandas, pyarrow,
  pycountry for the importer), the best of the later ones is the warm figure.
"""


def measure(report: Report, workspace: Workspace) -> None:
    source = workspace.messy_xlsx(ROWS)
    work = workspace.fresh_dir(KEY)
    out = work / "out.csv"
    read_only = READ_ONLY.format(path=str(source))
    timings = interleaved(
        ROUNDS,
        {
            "importer": lambda: timed_run(
                [CLI, "validate", source, "-o", out, "--no-progress"], ok_codes=(0, 1)
            ),
            "calamine": lambda: timed_run([PYTHON, "-c", read_only]),
            "imports": lambda: timed_run([PYTHON, "-c", HEAVY_IMPORTS]),
        },
    )
    importer = [run.seconds for run in timings["importer"]]
    calamine = [run.seconds for run in timings["calamine"]]
    report.figure("process: importer validate", seconds_text(importer))
    report.figure("process: calamine read", seconds_text(calamine))
    imports = [run.seconds for run in timings["imports"]]
    report.figure("process: import pandas + pyarrow only", seconds_text(imports))
    report.figure("importer: peak RSS", f"{max(r.peak_rss_mb for r in timings['importer']):.0f} MB")

    args = ["validate", str(source), "-o", str(out), "--no-progress"]
    warm_importer = in_process(
        "from importer.cli import main",
        f"main({args!r}, standalone_mode=False)",
        CALLS,
        env=importer_env(),
    )
    warm_calamine = in_process(
        "from python_calamine import CalamineWorkbook",
        read_only.splitlines()[1],
        CALLS,
    )
    report.figure(
        "in-process: importer validate",
        f"first {warm_importer[0]:.3f} s, warm {min(warm_importer[1:]):.3f} s",
    )
    report.figure(
        "in-process: calamine read",
        f"first {warm_calamine[0]:.3f} s, warm {min(warm_calamine[1:]):.3f} s",
    )
    report.figure(
        "process: pandas + pyarrow imports ÷ calamine read", f"{min(imports) / min(calamine):.2f}"
    )
    report.check(at_most("importer ÷ calamine (process)", min(importer) / min(calamine), 2))
    report.check(
        at_most(
            "importer ÷ calamine (in-process, warm)",
            min(warm_importer[1:]) / min(warm_calamine[1:]),
            2,
        )
    )
