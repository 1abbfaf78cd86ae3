"""The commands that read past runs back from the journal: `runs` lists them, `results`
rewrites one's results file. Neither sends anything nor takes the journal's lock.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from importer.errors import ExitCode
from importer.outputs import write_outputs
from importer.run import JobResult


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


def rebuild_results(state: Path, run_id: int, output: Path) -> JobResult:
    """Rewrite a past run's results file from the journal, even if that run was killed."""
    from importer.errors import JournalError
    from importer.journal import Journal
    from importer.results import RunSummary, tally

    if not state.exists():
        raise JournalError(f"{state}: no journal here; give --state, or run a job first")
    journal = Journal.open(state)
    try:
        info = journal.run_info(run_id)
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
