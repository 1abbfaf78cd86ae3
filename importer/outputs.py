"""A command's outputs: where the results go, the results file and, when asked, the HTML report.

The one place where a disk that refuses a write (full, read-only, gone) becomes one line naming
the file (`OutputError`, exit 3) instead of a traceback, for every command that writes results.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from importer.atomic_file import same_file
from importer.errors import ConfigError, OutputError

if TYPE_CHECKING:
    import pandas as pd

    from importer.options import JobOptions
    from importer.results import RunSummary


def write_outputs(
    frame: pd.DataFrame,
    output: Path,
    summary: RunSummary,
    options: JobOptions | None,
    *,
    columns: Sequence[str] | None = None,
) -> None:
    """The results file, and the report when asked; OutputError (one line naming the file) when
    the disk refuses one (full, read-only, gone)."""
    from importer.results import write_results

    try:
        if columns is None:
            write_results(frame, output, summary)
        else:
            write_results(frame, output, summary, columns)
    except OSError as error:
        raise OutputError(f"{output}: could not write the results ({why(error)})") from error
    if options is not None and options.report is not None:
        from importer.report import write_report  # only then: it loads the contacts rules

        try:
            write_report(frame, options.report, summary)
        except OSError as error:
            raise OutputError(
                f"{options.report}: could not write the report ({why(error)})"
            ) from error


def why(error: OSError) -> str:
    """What the system said of a failed write (`No space left on device`)."""
    return error.strerror or str(error)


def output_path(options: JobOptions, cwd: Path, *, rows: int) -> Path:
    """Where the results go: ``--output``, else ``<input stem>.results.csv`` in `cwd`.

    Checked writable for ``rows`` rows (with the report's path) before anything is sent.
    """
    from importer.results import check_writable

    assert options.input is not None
    output = options.output or cwd / f"{options.input.stem}.results.csv"
    check_writable(output, rows=rows)
    if options.report is not None:
        for other, what in ((output, "the results file"), (options.input, "the input")):
            if same_file(options.report, other, cwd):
                raise ConfigError(
                    f"{options.report}: the report would overwrite {what}; "
                    "give --report another file name"
                )
        check_writable(options.report, results=False)
    return output
