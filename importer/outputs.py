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


def results_path(options: JobOptions, cwd: Path) -> Path | None:
    """Where the results go: ``--output``, else ``<input stem>.results.csv`` in `cwd` (None
    for a command without either)."""
    if options.output is not None:
        return options.output
    return cwd / f"{options.input.stem}.results.csv" if options.input is not None else None


def output_path(options: JobOptions, cwd: Path, *, rows: int) -> Path:
    """`results_path`, checked writable for ``rows`` rows (with the report's path) before
    anything is sent."""
    from importer.results import check_writable

    output = results_path(options, cwd)
    assert output is not None
    check_writable(output, rows=rows)
    if options.report is not None:
        check_writable(options.report, results=False)
    return output


def check_overwrites(
    options: JobOptions,
    cwd: Path,
    job_file: Path | None = None,
    *,
    kept_too: Sequence[tuple[str, Path | None]] = (),
) -> None:
    """Refuse, in one line (ConfigError), a file the command writes — results, report, log —
    that is a file it reads or keeps (the input, the STOP list, the journal, the job file, the
    credentials file, and ``kept_too``: (what, path) pairs) or another file it writes: an
    opt-out list or a journal written over is lost for good. Paths not created yet and links
    count (`same_file`)."""
    written = (
        ("the results file", "--output", results_path(options, cwd)),
        ("the report", "--report", options.report),
        ("the log", "--log-file", options.log_file),
    )
    kept = (
        ("the input file", options.input),
        ("the STOP list", options.exclude),
        ("the journal", options.state),
        ("the job file", job_file),
        ("the credentials file", options.credentials_file),
        *kept_too,
    )
    for number, (what, flag, path) in enumerate(written):
        others = (*kept, *((other, at) for other, _, at in written[:number]))
        for other, at in others:
            if path is not None and at is not None and same_file(path, at, cwd):
                raise ConfigError(
                    f"{path}: {what} would overwrite {other} {at}; choose another {flag}"
                )
