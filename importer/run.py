"""The commands, stage by stage: read → prepare → plan → send → journal → results.

Each public function here is what one CLI command calls; `execute` runs either kind's job
(`importer.lists_run.ListsJob`, `importer.contacts_run.ContactsJob`). None of them prints or
exits: they return what happened (`JobResult`) or raise an `ImporterError`, and the CLI reports
it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from importer.errors import (
    ExitCode,
    ImporterError,
    Interrupted,
    OutputError,
    RemovalRefused,
    RunStopped,
)
from importer.job import (
    CONSOLE_PROBLEM_ROWS,
    Environment,
    Job,
    RunContext,
    contact_options,
    for_people,
    input_kind,
    load_rows,
    open_api,
    read_contacts_input,
    warn_cells,
)
from importer.lists_run import ListsJob
from importer.outputs import output_path, write_outputs
from importer.records import Outcome, exit_code_for

if TYPE_CHECKING:
    import pandas as pd

    from importer.kinds.contacts_read import ContactsSource
    from importer.list_tally import ListBefore
    from importer.options import JobOptions
    from importer.read import SourceTable
    from importer.results import RunSummary
    from importer.stop import StopSignal

log = logging.getLogger("importer")


@dataclass
class JobResult:
    """What a run or a validation produced, for the CLI to report."""

    frame: pd.DataFrame
    summary: RunSummary
    output: Path
    exit_code: ExitCode
    stopped_by: ImporterError | None = None
    #: Requests were abandoned in flight; the caller may end the process without joining them.
    abandoned: bool = False


# --------------------------------------------------------------------------- commands


def validate(options: JobOptions, env: Environment) -> JobResult:
    """Read, prepare and write the plan; with ``check_account`` mark lists that already exist."""
    from importer.kinds.roles import Kind

    started = datetime.now(UTC)
    choice = input_kind(options)
    with choice.first_line(options):
        if choice.kind is Kind.CONTACTS:
            return _validate_contacts(options, env, started, choice.contacts)
        return _validate_lists(options, env, started, choice.loaded)


def _validate_lists(
    options: JobOptions,
    env: Environment,
    started: datetime,
    loaded: tuple[SourceTable, pd.DataFrame] | None,
) -> JobResult:
    """`validate` of a lists file: offline, or with its lists marked against the account."""
    source, frame = loaded or load_rows(options)
    warn_cells(source)
    output = output_path(options, env.cwd, rows=len(frame))
    if options.check_account:
        from importer.reconcile import account_index, mark_existing

        with open_api(options, env) as (client, _scope):
            mark_existing(frame, account_index(client.fetch_lists()))
    summary = _summarize(frame, source, options, started, run_id=None)
    write_outputs(frame, output, summary, options)
    _log_problem_rows(frame, None, options)
    return JobResult(frame, summary, output, exit_code_for(frame))


def _validate_contacts(
    options: JobOptions, env: Environment, started: datetime, read: ContactsSource | None
) -> JobResult:
    """`validate` of a contacts file: offline, or planned against the account (read-only); with
    `--sync` the removals too, and exit 2 when the guard would refuse them."""
    from importer.kinds.contacts import CONTACT_COLUMNS, prepare
    from importer.kinds.contacts_sync import check_account
    from importer.list_tally import lists_before, log_plan

    read, options = read_contacts_input(options, env if options.check_account else None, read)
    output = output_path(options, env.cwd, rows=len(read.frame))
    present: dict[str, list[str]] = {}
    before: dict[str, ListBefore] = {}
    refused: list[str] = []
    if options.check_account:
        with open_api(options, env) as (client, _scope):
            frame, lists, present, refused = check_account(
                client, read, contact_options(options, read)
            )
        planned = frame["outcome"] == Outcome.PLANNED
        before = lists_before(lists, new=frame.loc[planned, "list_key"].unique().tolist())
    else:
        if options.sync:
            log.warning("--sync: removals are planned only with --check-account (read-only)")
        frame = prepare(read.frame, contact_options(options, read), cells=read.cells)
    read = replace(read, frame=read.frame.iloc[0:0])  # its cells are in `frame`: let them go
    summary = _summarize(
        frame,
        read.source,
        options,
        started,
        run_id=None,
        kind="contacts",
        excluded_present=present,
        lists_before=before,
    )
    if options.check_account:
        log_plan(summary.lists, for_people=for_people(options), sync=options.sync)
    write_outputs(frame, output, summary, options, columns=CONTACT_COLUMNS)
    _log_problem_rows(frame, None, options)
    if refused:
        return JobResult(frame, summary, output, ExitCode.USAGE, RemovalRefused("\n".join(refused)))
    return JobResult(frame, summary, output, exit_code_for(frame))


def run(options: JobOptions, env: Environment) -> JobResult:
    """The whole job, of either kind: plan against the journal and the account, send, record,
    report (see `execute`)."""
    from importer.kinds.roles import Kind

    started = datetime.now(UTC)
    choice = input_kind(options)
    with choice.first_line(options):
        job: Job
        if choice.kind is Kind.CONTACTS:
            from importer.contacts_run import ContactsJob

            job = ContactsJob.read(options, env, choice.contacts)
        else:
            source, frame = choice.loaded or load_rows(options)
            warn_cells(source)
            job = ListsJob(source, frame, options, env)
        return execute(job, options, env, started)


def execute(job: Job, options: JobOptions, env: Environment, started: datetime) -> JobResult:
    """Run one job: journal its start, send, record its end, write the results.

    Once the run is recorded as started, requests may have been sent: every failure after that
    point exits 3 (never 2), and the results file is still written where possible.
    """
    from importer.journal import Journal
    from importer.stop import StopSignal

    output = output_path(options, env.cwd, rows=len(job.frame))
    stop = StopSignal()
    journal = Journal.open(options.state)
    failure: str | None = None
    unwritten: str | None = None
    # The handlers stay installed until the run's end is recorded; they only set flags, so no
    # signal interrupts the journal or the results file half-way.
    with stop.installed(env.handle_signals):
        try:
            with journal.lock(), open_api(options, env, stop.event) as (client, scope):
                run_started = datetime.now(UTC)
                run_id = journal.start_run(
                    input_path=str(options.input),
                    input_sha256=job.source.sha256,
                    options=options.as_parameters()
                    | job.source.parameters()
                    | {"account": scope, "kind": job.kind, "run_folder": str(env.cwd)},
                )
                stopped_by: RunStopped | None = None
                try:
                    context = RunContext(
                        journal, client, scope, run_id, run_started, stop, options, env
                    )
                    stopped_by = job.send(context)
                    stopped_by = _stop_reason(job.frame, stop, stopped_by)
                except RemovalRefused as error:  # before anything was sent
                    journal.finish_run(run_id, counts={}, exit_code=int(error.exit_code))
                    raise
                except ImporterError as error:
                    failure = str(error)
                frame = job.frame
                summary = _summarize(
                    frame,
                    job.source,
                    options,
                    started,
                    run_id=run_id,
                    throttled_seconds=client.throttled_seconds,
                    kind=job.kind,
                    lists_created=job.lists_created,
                    excluded_present=job.excluded_present,
                    lists_before=job.lists_before,
                )
                stop.announce()
                # The results first, so that the journal records the exit code the process
                # really ends with, a failure to write them included.
                env.reached("write results")
                unwritten = _write_after_sending(
                    frame, output, summary, options, run_id, columns=job.columns
                )
                exit_code = (
                    ExitCode.STOPPED
                    if stopped_by or failure is not None or unwritten is not None
                    else exit_code_for(frame)
                )
                try:
                    env.reached("finish run")
                    journal.finish_run(run_id, counts=summary.counts, exit_code=int(exit_code))
                    journal.prune(keep_runs=options.keep_runs)
                except (ImporterError, OSError, sqlite3.Error) as error:
                    failure = failure or f"the journal could not record the run's end: {error}"
                    exit_code = ExitCode.STOPPED
        finally:
            journal.close()
        stop.announce()
    if unwritten is not None:
        raise OutputError(unwritten + (f" ({failure})" if failure else ""))
    if failure is not None:
        raise OutputError(
            f"{failure}; {job.kind} may have been created: fix this, then run the same command "
            f"again (re-runs are safe); the results so far are in {output}"
        )
    _log_problem_rows(frame, run_id, options)
    return JobResult(frame, summary, output, exit_code, stopped_by, abandoned=stop.abandoned)


def _write_after_sending(
    frame: pd.DataFrame,
    output: Path,
    summary: RunSummary,
    options: JobOptions,
    run_id: int,
    *,
    columns: Sequence[str] | None,
) -> str | None:
    """Write the results (and report) of a run that sent; None, or why they could not be.

    Every row is in the journal by then, so the message says how to get them all the same.
    """
    try:
        write_outputs(frame, output, summary, options, columns=columns)
    except ImporterError as error:
        said = (
            error
            if isinstance(error, OutputError)
            else f"{output}: could not write the results ({error})"
        )
        return (
            f"{said}; every row is in the journal: "
            f"write them with `avosms-import results {run_id} -o FILE --state {options.state}`, "
            "or fix this and run the same command again (re-runs are safe)"
        )
    return None


def _stop_reason(
    frame: pd.DataFrame, stop: StopSignal, stopped_by: RunStopped | None
) -> RunStopped | None:
    """Why the run stopped early: a signal that left rows pending gets one message for the
    operator, not a worker's note about the row it dropped."""
    pending = int((frame["outcome"] == Outcome.PENDING).sum())
    interrupted = stopped_by is None or isinstance(stopped_by, Interrupted)
    if stop.event.is_set() and pending and interrupted:
        return Interrupted(
            f"interrupted by a signal: {pending} rows left pending; "
            "run the same command again to finish them"
        )
    return stopped_by


# --------------------------------------------------------------------------- results


def _summarize(
    frame: pd.DataFrame,
    source: SourceTable,
    options: JobOptions,
    started: datetime,
    *,
    run_id: int | None,
    throttled_seconds: float = 0.0,
    kind: str = "lists",
    lists_created: int | None = None,
    excluded_present: dict[str, list[str]] | None = None,
    lists_before: Mapping[str, ListBefore] | None = None,
) -> RunSummary:
    """The run's summary; for contacts, with the per-list tally (`list_tally`)."""
    from importer.results import RunSummary, tally

    counts, code_counts = tally(frame)
    if kind == "contacts":  # only then: the tally loads the contacts rules (0.05 s of imports)
        from importer.list_tally import tally_lists
    return RunSummary(
        run_id=run_id,
        input_path=str(options.input),
        input_sha256=source.sha256,
        encoding=source.encoding,
        delimiter=source.delimiter,
        sheet=source.sheet,
        started_at=started,
        ended_at=datetime.now(UTC),
        counts=counts,
        code_counts=code_counts,
        throttled_seconds=throttled_seconds,
        parameters=options.as_parameters() | source.parameters(),
        kind=kind,
        lists_created=lists_created,
        excluded_present=excluded_present or {},
        lists=tally_lists(frame, lists_before or {}) if kind == "contacts" else (),
    )


def _log_problem_rows(frame: pd.DataFrame, run_id: int | None, options: JobOptions) -> None:
    """One WARNING line per invalid or failed row, with the row's fields for JSON logs.

    A log for schedulers (a log file, or JSON) gets every row. A person reading stderr gets the
    first `CONSOLE_PROBLEM_ROWS` and a pointer to the results file, which has them all.
    """
    if options.quiet and options.log_file is None:
        return
    problems = frame[frame["outcome"].isin([Outcome.INVALID, Outcome.FAILED])]
    people = for_people(options)
    shown = problems.head(CONSOLE_PROBLEM_ROWS) if people else problems
    columns = [shown[column].tolist() for column in ("row", "outcome", "code", "message")]
    if "phone" in shown:  # contacts: the number as read, in its list
        labels = [
            f"phone {phone!r} in list {name!r}"
            for phone, name in zip(
                shown["phone"].tolist(), shown["list_name"].tolist(), strict=True
            )
        ]
    else:
        names = shown["name"].where(shown["name"] != "", shown["list_name"]).tolist()
        labels = [f"list {name!r}" for name in names]
    originals = shown["list_name"].tolist()
    for row, outcome, code, message, label, original in zip(
        *columns, labels, originals, strict=True
    ):
        log.warning(
            "%s %s, %s: %s (%s)",
            f"row {row}" if row > 0 else "removal",  # a removal (--sync) has no input row
            outcome,
            code,
            message,
            label,
            extra={
                "run_id": run_id,
                "row": int(row) if row > 0 else None,
                "outcome": outcome,
                "code": code,
                "list_name": original,
            },
        )
    if len(problems) > len(shown):
        log.warning(
            "… and %d more rows invalid or failed: see the results file", len(problems) - len(shown)
        )
