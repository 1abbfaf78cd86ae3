"""The job, stage by stage: read → prepare → plan → send → journal → results.

Each public function here is what one CLI command calls. None of them prints or exits: they
return what happened (`JobResult`) or raise an `ImporterError`, and the CLI reports it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

from importer.errors import (
    ConfigError,
    ExitCode,
    ImporterError,
    Interrupted,
    OutputError,
    RunStopped,
)
from importer.records import SUCCESS_OUTCOMES, LocalCode, Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient
    from importer.journal import Journal
    from importer.kinds.contacts import ContactOptions
    from importer.kinds.contacts_read import ContactsSource
    from importer.kinds.roles import Kind
    from importer.options import JobOptions
    from importer.read import SourceTable
    from importer.reconcile import AccountDirectory
    from importer.results import RunSummary
    from importer.stop import StopSignal

log = logging.getLogger("importer")

#: Problem rows shown on a person's terminal; log files and JSON logs get every one.
CONSOLE_PROBLEM_ROWS = 20


@dataclass
class Environment:
    """What the core takes from the outside world, so tests can swap it."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stderr_isatty: bool | None = None
    handle_signals: bool = True
    #: Test-only hook: called in the main thread with the name of each step of a run's
    #: wrap-up ("collected" after each answer, "final settle", "final flush", "write results",
    #: "finish run"), e.g. to deliver a signal at a chosen point. None in production.
    checkpoint: Callable[[str], None] | None = None

    def reached(self, step: str) -> None:
        """Call the test-only `checkpoint` hook, if any."""
        if self.checkpoint is not None:
            self.checkpoint(step)

    def is_terminal(self) -> bool:
        """Whether stderr is a terminal a progress bar may draw on."""
        if self.stderr_isatty is not None:
            return self.stderr_isatty
        return bool(getattr(self.stderr, "isatty", lambda: False)())


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


# --------------------------------------------------------------------------- stages


def load_rows(options: JobOptions) -> tuple[SourceTable, pd.DataFrame]:
    """Read the input and prepare every row: normalized, validated, deduplicated."""
    from importer.normalize import prepare
    from importer.read import read_table

    _lean_arrow_memory()
    assert options.input is not None
    source = read_table(
        options.input,
        sheet=options.sheet,
        name_column=options.name_column,
        country_column=options.country_column,
        max_rows=options.max_rows,
        country_required=options.default_country is None,
    )
    frame = prepare(source.frame, default_country=options.default_country, cells=source.cells)
    warned = [fact for fact in source.cells if fact.usable]
    for fact in warned[:CONSOLE_PROBLEM_ROWS]:
        log.warning("row %d: %s", fact.row, fact.message(), extra={"row": fact.row})
    if len(warned) > CONSOLE_PROBLEM_ROWS:
        log.warning(
            "… and %d more such cells: see the results file", len(warned) - CONSOLE_PROBLEM_ROWS
        )
    # Keep the source's description, not its cells: prepare copied what it needs.
    return replace(source, frame=source.frame.iloc[0:0]), frame


def input_kind(options: JobOptions) -> tuple[Kind, tuple[SourceTable, pd.DataFrame] | None]:
    """The input's kind (`--kind`, `--list`, else its header) and, when it was read to tell,
    its rows read and prepared as lists."""
    from importer.errors import InputError
    from importer.kinds.contacts_read import kind_of
    from importer.kinds.roles import Kind

    explicit = Kind(options.kind) if options.kind else None
    if explicit is not None or options.list is not None:
        return kind_of(None, explicit=explicit, list_given=options.list is not None), None
    try:
        loaded = load_rows(options)
    except InputError as lists_error:
        try:
            read_contacts_input(options)
        except InputError:
            raise lists_error from None
        return Kind.CONTACTS, None
    kind = kind_of(loaded[0], explicit=None, list_given=False)
    return kind, loaded if kind is Kind.LISTS else None


def read_contacts_input(options: JobOptions) -> ContactsSource:
    """Read the input as a contacts file (`--map`, `--list`, `--sheet`, `--max-rows`)."""
    from importer.kinds.contacts_read import read_contacts
    from importer.kinds.roles import parse_mapping

    assert options.input is not None
    return read_contacts(
        options.input,
        sheet=options.sheet,
        mapping=parse_mapping(dict(options.columns or {})),
        list_given=options.list is not None,
        max_rows=options.max_rows,
    )


def contact_options(options: JobOptions) -> ContactOptions:
    """The contacts kind's options, from the job's."""
    from importer.kinds.contacts import ContactOptions
    from importer.rules.fields import BirthdayFormat
    from importer.rules.phones import NumberFormat, parse_number_types

    return ContactOptions(
        list_name=options.list,
        default_country=options.default_country,
        number_types=parse_number_types(options.number_types),
        number_format=NumberFormat(options.number_format),
        month_first=options.month_first,
        birthday_format=BirthdayFormat(options.birthday_format),
    )


def _lean_arrow_memory() -> None:
    """Make Arrow give freed memory back to the system at once, which bounds the peak.

    Arrow's default pool (jemalloc) keeps freed memory for a while for reuse, and the system
    allocator (glibc) keeps much of it for good; told to return it at once (decay 0), jemalloc
    keeps the peak of `validate` on 1,000,000 rows ~90 MB below the system allocator's, at no
    measurable cost in speed (`make bench`, local pipeline). Builds without jemalloc
    (Windows) use the system allocator.
    """
    import pyarrow as pa

    try:
        pa.jemalloc_set_decay_ms(0)
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:
        pa.set_memory_pool(pa.system_memory_pool())


def output_path(options: JobOptions, env: Environment, *, rows: int) -> Path:
    """Where the results go: ``--output``, else ``<input stem>.results.csv`` here.

    Checked writable for ``rows`` rows (with the report's path) before anything is sent.
    """
    from importer.results import check_writable

    assert options.input is not None
    output = options.output or env.cwd / f"{options.input.stem}.results.csv"
    check_writable(output, rows=rows)
    if options.report is not None:
        for other, what in ((output, "the results file"), (options.input, "the input")):
            if _same_file(options.report, other, env.cwd):
                raise ConfigError(
                    f"{options.report}: the report would overwrite {what}; "
                    "give --report another file name"
                )
        check_writable(options.report, results=False)
    return output


def _same_file(first: Path, second: Path, cwd: Path) -> bool:
    """Whether two paths name one file (also through links, or before either exists)."""
    first, second = (path if path.is_absolute() else cwd / path for path in (first, second))
    try:
        if first.exists() and second.exists():
            return first.samefile(second)
    except OSError:
        pass
    return os.path.normcase(first.resolve()) == os.path.normcase(second.resolve())


@contextmanager
def open_api(
    options: JobOptions, env: Environment, stop: threading.Event | None = None
) -> Iterator[tuple[AvoSmsClient, str]]:
    """A client for the configured API and the account scope it speaks for.

    ``base_url: sandbox`` starts the built-in sandbox on a free loopback port for the length of
    the job; its account is new every time, hence a scope of its own.
    """
    from importer.client import AvoSmsClient, RetryPolicy
    from importer.credentials import load_credentials
    from importer.throttle import OutageBreaker, Throttle

    credentials = load_credentials(options, env.environ)
    with _api_url(options) as (base_url, scope):
        client = AvoSmsClient(
            base_url,
            credentials,
            timeout=options.timeout,
            retry=RetryPolicy(
                max_attempts=options.max_attempts,
                backoff_initial=options.backoff_initial,
                backoff_max=options.backoff_max,
            ),
            limiter=Throttle(options.rate),
            breaker=OutageBreaker(options.max_outage),
            pool_size=options.workers,
            stop=stop,
            environ=env.environ,
        )
        try:
            yield client, f"{scope}|{credentials.id}"
        finally:
            client.close()


@contextmanager
def _api_url(options: JobOptions) -> Iterator[tuple[str, str]]:
    if options.base_url != "sandbox":
        yield options.base_url, options.base_url
        return
    from importer.sandbox import FaultPlan, SandboxServer

    faults = FaultPlan(**cast("dict[str, Any]", dict(options.sandbox_faults or {})))
    with SandboxServer(faults=faults) as server:
        yield server.url, f"sandbox:{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- commands


def validate(options: JobOptions, env: Environment) -> JobResult:
    """Read, prepare and write the plan; with ``check_account`` mark lists that already exist."""
    from importer.kinds.roles import Kind

    started = datetime.now(UTC)
    kind, loaded = input_kind(options)
    if kind is Kind.CONTACTS:
        return _validate_contacts(options, env, started)
    source, frame = loaded or load_rows(options)
    output = output_path(options, env, rows=len(frame))
    if options.check_account:
        from importer.reconcile import account_index, mark_existing

        with open_api(options, env) as (client, _scope):
            mark_existing(frame, account_index(client.fetch_lists()))
    summary = _summarize(frame, source, options, started, run_id=None)
    _write_outputs(frame, output, summary, options)
    _log_problem_rows(frame, None, options)
    return JobResult(frame, summary, output, exit_code_for(frame))


def _validate_contacts(options: JobOptions, env: Environment, started: datetime) -> JobResult:
    """`validate` of a contacts file: offline, or planned against the account (read-only)."""
    from importer.kinds.contacts import CONTACT_COLUMNS, prepare
    from importer.kinds.contacts_plan import read_account

    read = read_contacts_input(options)
    output = output_path(options, env, rows=len(read.frame))
    if options.check_account:
        with open_api(options, env) as (client, _scope):
            frame = read_account(client, read.frame, contact_options(options), read.cells)
    else:
        frame = prepare(read.frame, contact_options(options), cells=read.cells)
    summary = _summarize(frame, read.source, options, started, run_id=None, kind="contacts")
    _write_outputs(frame, output, summary, options, columns=CONTACT_COLUMNS)
    _log_problem_rows(frame, None, options)
    return JobResult(frame, summary, output, exit_code_for(frame))


class Job(Protocol):
    """One kind's run, as `execute` strings it: its rows and how they are planned and sent."""

    frame: pd.DataFrame
    kind: str
    columns: Sequence[str] | None
    lists_created: int | None

    @property
    def source(self) -> SourceTable:
        """How the input was read."""
        ...

    def send(
        self,
        journal: Journal,
        client: AvoSmsClient,
        scope: str,
        run_id: int,
        run_started: datetime,
        stop: StopSignal,
    ) -> RunStopped | None:
        """Plan against the journal and the account, journal every row, send; return why the
        run stopped early, if it did. `frame` holds every row's outcome afterwards."""
        ...


@dataclass
class ListsJob:
    """The lists kind's run: one list per row."""

    table: SourceTable
    frame: pd.DataFrame
    options: JobOptions
    env: Environment
    kind: str = "lists"
    columns: Sequence[str] | None = None
    lists_created: int | None = None

    @property
    def source(self) -> SourceTable:
        """How the input was read."""
        return self.table

    def send(
        self,
        journal: Journal,
        client: AvoSmsClient,
        scope: str,
        run_id: int,
        run_started: datetime,
        stop: StopSignal,
    ) -> RunStopped | None:
        """Plan, journal every row, send."""
        return _plan_and_send(
            self.frame, journal, client, scope, run_id, run_started, self.options, self.env, stop
        )


def run(options: JobOptions, env: Environment) -> JobResult:
    """The whole job, of either kind: plan against the journal and the account, send, record,
    report (see `execute`)."""
    from importer.kinds.roles import Kind

    started = datetime.now(UTC)
    kind, loaded = input_kind(options)
    job: Job
    if kind is Kind.CONTACTS:
        from importer.contacts_run import ContactsJob

        job = ContactsJob.read(options, env)
    else:
        source, frame = loaded or load_rows(options)
        job = ListsJob(source, frame, options, env)
    return execute(job, options, env, started)


def execute(job: Job, options: JobOptions, env: Environment, started: datetime) -> JobResult:
    """Run one job: journal its start, send, record its end, write the results.

    Once the run is recorded as started, requests may have been sent: every failure after that
    point exits 3 (never 2), and the results file is still written where possible.
    """
    from importer.journal import Journal
    from importer.stop import StopSignal

    output = output_path(options, env, rows=len(job.frame))
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
                    | {"account": scope, "kind": job.kind},
                )
                stopped_by: RunStopped | None = None
                try:
                    stopped_by = job.send(journal, client, scope, run_id, run_started, stop)
                    stopped_by = _stop_reason(job.frame, stop, stopped_by)
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
        _write_outputs(frame, output, summary, options, columns=columns)
    except (OSError, ImporterError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        return (
            f"{output}: could not write the results ({reason}); every row is in the journal: "
            f"write them with `avosms-import results {run_id} -o FILE --state {options.state}`, "
            "or fix this and run the same command again (re-runs are safe)"
        )
    return None


def _plan_and_send(
    frame: pd.DataFrame,
    journal: Journal,
    client: AvoSmsClient,
    scope: str,
    run_id: int,
    run_started: datetime,
    options: JobOptions,
    env: Environment,
    stop: StopSignal,
) -> RunStopped | None:
    """Plan, journal every row, send; return why the run stopped early, if it did."""
    stopped_by: RunStopped | None = None
    recorded = False
    try:
        directory = plan_lists(frame, journal, client, scope, options, run_id, run_started)
        journal.record_frame(run_id, frame)
        recorded = True
        send_lists(frame, client, directory, journal, run_id, options, env, stop)
    except RunStopped as error:
        stopped_by = error
        if not recorded:  # stopped while planning: every row is still to be sent
            journal.record_frame(run_id, frame)
    return stopped_by


def _stop_reason(
    frame: pd.DataFrame, stop: StopSignal, stopped_by: RunStopped | None
) -> RunStopped | None:
    """Why the run stopped early: a signal that left rows pending gets one message for the
    operator, not a worker's note about the row it dropped."""
    pending = int((frame["outcome"] == Outcome.PENDING).sum())
    if (
        stop.event.is_set()
        and pending
        and (stopped_by is None or isinstance(stopped_by, Interrupted))
    ):
        return Interrupted(
            f"interrupted by a signal: {pending} rows left pending; "
            "run the same command again to finish them"
        )
    return stopped_by


def export_account_lists(options: JobOptions, env: Environment, output: Path) -> int:
    """Write the account's lists to ``output`` (.csv, .xlsx or .json); return how many."""
    import pandas as pd

    from importer.results import write_table

    with open_api(options, env) as (client, _scope):
        lists = client.fetch_lists()
    table = pd.DataFrame(
        [asdict(item) for item in lists], columns=ACCOUNT_LIST_COLUMNS, dtype="str"
    )
    write_table(table, output, sheet_name="Lists")
    return len(table)


ACCOUNT_LIST_COLUMNS = (
    "list_contact_id",
    "name",
    "country_code",
    "country_name",
    "nb_contact",
    "creation_date",
)


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
        ended_at=info.ended_at or info.started_at,
        counts=counts,
        code_counts=code_counts,
        throttled_seconds=0.0,
        parameters={key: str(value) for key, value in info.options.items()},
        kind=str(info.options.get("kind", "")),
    )
    columns = None
    if summary.kind == "contacts":
        from importer.kinds.contacts import CONTACT_COLUMNS

        columns = CONTACT_COLUMNS
    _write_outputs(frame, output, summary, None, columns=columns)
    # The command did what was asked: exit 0. The run's own outcome is in the summary line.
    return JobResult(frame, summary, output, ExitCode.OK)


# --------------------------------------------------------------------------- plan and send


def plan_lists(
    frame: pd.DataFrame,
    journal: Journal,
    client: AvoSmsClient,
    scope: str,
    options: JobOptions,
    run_id: int,
    run_started: datetime,
) -> AccountDirectory:
    """Mark rows whose list already exists as ``exists``; the rest become pending.

    The account is the truth (a list deleted there since an earlier run is created again);
    with ``--no-reconcile`` the journal's record of earlier runs on this account stands in.
    A list that an interrupted run created (or may have) says so: "created by run N
    (interrupted)", unless its creation date is clearly earlier than that run's start.
    """
    from importer.reconcile import AccountDirectory, KnownList, mark_existing

    frame.loc[frame["outcome"] == Outcome.PLANNED, ["outcome", "code", "message"]] = [
        Outcome.PENDING.value,
        LocalCode.NOT_SENT.value,
        "not sent: the run stopped before this row",
    ]
    directory = AccountDirectory(client.fetch_lists, run_started=run_started)
    if options.reconcile:
        known = directory.load(client.fetch_lists())
    else:
        known = {
            key: KnownList(
                item.list_contact_id, item.country_code, f"recorded by run {item.run_id}"
            )
            for key, item in journal.known_lists(account=scope).items()
        }
        directory.known_before = {item.list_contact_id for item in known.values()}
    directory.interrupted = journal.interrupted_creations(account=scope, before_run=run_id)
    for key in directory.interrupted.keys() & known.keys():
        known[key] = directory.credited(key, known[key])
    mark_existing(frame, known)
    return directory


def send_lists(
    frame: pd.DataFrame,
    client: AvoSmsClient,
    directory: AccountDirectory,
    journal: Journal,
    run_id: int,
    options: JobOptions,
    env: Environment,
    stop: StopSignal,
) -> None:
    """Create every pending row's list; the progress bar only on a terminal."""
    from importer.progress import progress_bar
    from importer.send import ListSending, Sender

    todo = frame.index[frame["outcome"] == Outcome.PENDING].tolist()
    show = options.progress and not options.quiet and env.is_terminal()
    with progress_bar(len(todo), enabled=show, stream=env.stderr) as bar:
        try:
            Sender(
                frame,
                ListSending(frame, client, directory, journal),
                run_id,
                stop,
                workers=options.workers,
                bar=bar,
                checkpoint=env.reached,
            ).send(todo)
        finally:
            bar.close_with(throttled=client.throttled_seconds)


# --------------------------------------------------------------------------- results


def exit_code_for(frame: pd.DataFrame) -> ExitCode:
    """0 when every row succeeded, 3 if some are pending, else 1."""
    outcomes = set(frame["outcome"].unique().tolist())
    if Outcome.PENDING in outcomes:
        return ExitCode.STOPPED
    if outcomes <= {str(outcome) for outcome in SUCCESS_OUTCOMES}:
        return ExitCode.OK
    return ExitCode.ROWS_FAILED


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
) -> RunSummary:
    from importer.results import RunSummary, tally

    counts, code_counts = tally(frame)
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
    )


def _write_outputs(
    frame: pd.DataFrame,
    output: Path,
    summary: RunSummary,
    options: JobOptions | None,
    *,
    columns: Sequence[str] | None = None,
) -> None:
    from importer.report import write_report
    from importer.results import write_results

    if columns is None:
        write_results(frame, output, summary)
    else:
        write_results(frame, output, summary, columns)
    if options is not None and options.report is not None:
        write_report(frame, options.report, summary)


def _log_problem_rows(frame: pd.DataFrame, run_id: int | None, options: JobOptions) -> None:
    """One WARNING line per invalid or failed row, with the row's fields for JSON logs.

    A log for schedulers (a log file, or JSON) gets every row. A person reading stderr gets the
    first `CONSOLE_PROBLEM_ROWS` and a pointer to the results file, which has them all.
    """
    if options.quiet and options.log_file is None:
        return
    problems = frame[frame["outcome"].isin([Outcome.INVALID, Outcome.FAILED])]
    for_people = options.log_file is None and options.log_format == "text"
    shown = problems.head(CONSOLE_PROBLEM_ROWS) if for_people else problems
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
            "row %s %s, %s: %s (%s)",
            row,
            outcome,
            code,
            message,
            label,
            extra={
                "run_id": run_id,
                "row": int(row),
                "outcome": outcome,
                "code": code,
                "list_name": original,
            },
        )
    if len(problems) > len(shown):
        log.warning(
            "… and %d more rows invalid or failed: see the results file", len(problems) - len(shown)
        )


def past_runs(state: Path) -> list[Any]:
    """Every run the journal knows, newest first (killed runs included)."""
    from importer.journal import Journal

    if not state.exists():
        return []
    journal = Journal.open(state)
    try:
        return list(journal.runs())
    finally:
        journal.close()
