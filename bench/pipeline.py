"""Local pipeline: `validate` on a million-row CSV beside pyarrow merely reading and writing it."""

from __future__ import annotations

from bench.common import (
    CLI,
    CLI_SHOWN,
    PYTHON,
    Report,
    Timed,
    Workspace,
    at_most,
    interleaved,
    parse_summary,
    seconds_text,
    timed_run,
)

KEY = "pipeline"
TITLE = "Local pipeline (1,000,000-row CSV)"
ROWS = 1_000_000
ROUNDS = 3
MAX_RSS_MB = 500
#: Peak memory within this many times the floor's (reading and writing the same rows).
MAX_RSS_RATIO = 3

#: The floor: read the CSV with pyarrow, write a results-sized CSV (10 columns, one row per row).
FLOOR = """\
import sys
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

table = pacsv.read_csv(sys.argv[1])
count = table.num_rows
names, countries = table.column(0), table.column(1)
text = lambda value: pa.repeat(pa.scalar(value), count)
results = pa.table({
    "row": pa.array(np.arange(2, count + 2)),
    "list_name": names, "country": countries, "name": names, "country_code": countries,
    "outcome": text("planned"), "code": text(""), "message": text(""),
    "list_contact_id": text(""), "attempts": pa.array(np.zeros(count, dtype=np.int64)),
})
pacsv.write_csv(results, sys.argv[2])
"""

METHOD = f"""\
A generated {ROWS:,}-row CSV (`Nom de la liste,Pays`; names like `Clients Lyon 2021 #12`,
~5% duplicates in another case or with stray spaces, ~2% unknown countries, ~1% empty cells and a
few blank rows, ~1% names holding a comma (quoted), countries as ISO2/ISO3 codes, English and
French names and aliases). Both sides are fresh processes, timed from spawn to exit (imports
included), taking turns {ROUNDS} times; the figure is the minimum, the median shows the noise.

- **Importer**: `{CLI_SHOWN} validate big.csv -o out.csv` (read, normalize, validate, dedupe,
  write the 10-column results CSV; it also logs a line per invalid row, to a file here).
- **Floor**: a Python process that reads the same CSV with `pyarrow.csv.read_csv` and writes a
  results-sized CSV (the 10 result columns, {ROWS:,} rows) with `pyarrow.csv.write_csv`.

Peak memory is each process's own maximum resident set size (`wait4` accounting), the largest
of the {ROUNDS} runs: at most {MAX_RSS_MB} MB, and at most {MAX_RSS_RATIO}× the floor's (which holds
only the input and the results, and the interpreter with numpy and pyarrow). One more run of
the importer writes the results as .xlsx instead, to show what a million-row workbook costs.
"""


def measure(report: Report, workspace: Workspace) -> None:
    source = workspace.messy_csv(ROWS)
    work = workspace.fresh_dir(KEY)
    timings = interleaved(
        ROUNDS,
        {
            "importer": lambda: timed_run(
                [CLI, "validate", source, "-o", work / "out.csv", "--no-progress"],
                ok_codes=(0, 1),
            ),
            "floor": lambda: timed_run([PYTHON, "-c", FLOOR, source, work / "floor.csv"]),
        },
    )
    importer, floor = timings["importer"], timings["floor"]
    summary = parse_summary(importer[-1].stderr)
    outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in summary.counts.items())
    report.figure("importer: outcomes", outcomes)
    report.figure("importer: wall time", seconds_text([run.seconds for run in importer]))
    report.figure("importer: summary elapsed (last run)", f"{summary.elapsed:.1f} s")
    log_lines = len(importer[-1].stderr.splitlines())
    report.figure("importer: log lines on stderr (one per invalid row)", f"{log_lines:,}")
    report.figure("floor: wall time", seconds_text([run.seconds for run in floor]))
    report.figure("importer: peak RSS", f"{_peak(importer):.0f} MB")
    report.figure("floor: peak RSS", f"{_peak(floor):.0f} MB")
    ratio = min(run.seconds for run in importer) / min(run.seconds for run in floor)
    report.check(at_most("importer ÷ floor (wall time)", ratio, 6))
    report.check(at_most("importer peak RSS", _peak(importer), MAX_RSS_MB, " MB"))
    report.check(
        at_most("importer ÷ floor (peak RSS)", _peak(importer) / _peak(floor), MAX_RSS_RATIO)
    )
    xlsx = timed_run(
        [CLI, "validate", source, "-o", work / "out.xlsx", "--no-progress", "-q"],
        ok_codes=(0, 1),
    )
    report.figure(
        "importer → .xlsx instead (one run, no target)",
        f"{xlsx.seconds:.1f} s, peak RSS {xlsx.peak_rss_mb:.0f} MB",
    )


def _peak(runs: list[Timed]) -> float:
    return max(run.peak_rss_mb for run in runs)
