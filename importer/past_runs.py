"""The commands that read past runs back from the journal: `runs` lists them, `results`
rewrites one's results file. Neither sends anything nor takes the journal's lock.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importer.errors import ExitCode
from importer.options import PATH_KEYS
from importer.outputs import check_overwrites, write_outputs
from importer.run import JobResult

if TYPE_CHECKING:
    from importer.journal_records import RunInfo
    from importer.options import JobOptions


def past_runs(state: Path) -> list[Any]:
    """Every run the journal knows, newest first (killed runs included)."""
    from importer.journal import Journal
    from importer.journal_lock import running_run

    if not state.exists():
        return []
    journal = Journal.open(state)
    try:
        going = running_run(state)
        return [replace(run, running=run.run_id == going) for run in journal.runs()]
    finally:
        journal.close()


def rebuild_results(options: JobOptions, run_id: int) -> JobResult:
    """Rewrite run `run_id`'s results file (``options.output``) from the journal at
    ``options.state``, even if that run was killed.

    Refused in one line (ConfigError, exit 2) when that file is one the run read or kept
    — its input, STOP list, log, report, journal, credentials — by the rule `run` applies
    (`check_overwrites`); the run's own results file may be rewritten. Refused (JournalError,
    exit 2) while the run is still going (`running_run`: its rows are not its outcomes yet).
    """
    from importer.errors import JournalError
    from importer.journal import Journal
    from importer.journal_lock import running_run
    from importer.results import RunSummary, tally

    state, output = options.state, options.output
    assert output is not None, "the results command requires --output"
    if not state.exists():
        raise JournalError(f"{state}: no journal here; give --state, or run a job first")
    journal = Journal.open(state)
    try:
        info = journal.run_info(run_id)
        if running_run(state) == run_id:
            raise JournalError(
                f"{state}: run {run_id} is still going (process {info.pid} on {info.host}): it "
                "writes its own results file when it ends; `avosms-import runs` shows its "
                "counts so far"
            )
        _check_run_files(options, info)
        frame = journal.run_rows(run_id)
    finally:
        journal.close()
    counts, code_counts = tally(frame)
    summary = RunSummary(
        run_id=run_id,
        input_path=info.input_path,
        input_sha256=info.input_sha256,
        encoding=None,
        delimiter=None,
        sheet=None,
        started_at=info.started_at,
        ended_at=info.ended_at,
        counts=counts,
        code_counts=code_counts,
        throttled_seconds=0.0,
        parameters={key: str(value) for key, value in info.options.items()},
        kind=str(info.options.get("kind", "")),
    )
    columns = None
    if summary.kind == "contacts":
        from importer.kinds.contacts import CONTACT_COLUMNS
        from importer.list_tally import tally_lists

        columns = CONTACT_COLUMNS
        summary.lists = tally_lists(frame, {})
    write_outputs(frame, output, summary, None, columns=columns)
    # The command did what was asked: exit 0. The run's own outcome is in the summary line.
    return JobResult(frame, summary, output, ExitCode.OK)


def _check_run_files(options: JobOptions, info: RunInfo) -> None:
    """`check_overwrites` against the files run `info` read and wrote, as its journal recorded
    them (a relative path taken from the folder the run was started in, `run_folder`; from
    the working directory for a run recorded before it was kept): the results command writes
    only ``options.output``, so the run's log and report count as kept."""
    here = Path.cwd()
    folder = Path(str(info.options.get("run_folder") or here))

    def located(recorded: str) -> Path:  # named as recorded when read from the same folder
        return Path(recorded) if folder == here else folder / recorded

    recorded: dict[str, Any] = {
        name: located(str(info.options[name]))
        for name in PATH_KEYS - {"output"}
        if info.options.get(name)
    }
    recorded["input"] = located(info.input_path)
    its_log, its_report = recorded.pop("log_file", None), recorded.pop("report", None)
    check_overwrites(
        replace(options, **recorded, log_file=None, report=None),
        Path.cwd(),
        kept_too=(("the run's log", its_log), ("the run's report", its_report)),
    )
