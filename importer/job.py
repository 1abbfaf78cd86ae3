"""What every kind's job shares: its environment, its input read, its API, its protocol.

`importer.run` strings these into commands; `importer.lists_run` and `importer.contacts_run`
are the two kinds' jobs (`Job`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

from importer.errors import ConfigError, RunStopped
from importer.records import Outcome

if TYPE_CHECKING:
    import pandas as pd

    from importer.client import AvoSmsClient
    from importer.journal import Journal
    from importer.kinds.contacts import ContactOptions
    from importer.kinds.contacts_read import ContactsSource
    from importer.kinds.roles import Kind
    from importer.list_tally import ListBefore
    from importer.options import JobOptions
    from importer.read import SourceTable
    from importer.send import SendKind
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


def for_people(options: JobOptions) -> bool:
    """Whether the log is read by a person on a terminal (plain text on stderr): it then gets
    the first lines and a pointer, where a log file or a JSON log gets every line."""
    return options.log_file is None and options.log_format == "text"


def load_rows(
    options: JobOptions, source: SourceTable | None = None
) -> tuple[SourceTable, pd.DataFrame]:
    """Read the input as a lists file (unless given its `source`, read as lists) and prepare
    every row: normalized, validated, deduplicated. Cells worth a warning are kept in the
    source's `cells` (`warn_cells`)."""
    from importer.normalize import prepare

    source = source if source is not None else _read_lists_table(options)
    frame = prepare(source.frame, default_country=options.default_country, cells=source.cells)
    # Keep the source's description, not its cells: prepare copied what it needs.
    return replace(source, frame=source.frame.iloc[0:0]), frame


def _read_lists_table(options: JobOptions) -> SourceTable:
    """The input read as a lists file, its rows not prepared yet; InputError as `read_table`."""
    from importer.kinds.roles import map_hint
    from importer.read import read_table

    _lean_arrow_memory()
    assert options.input is not None
    return read_table(
        options.input,
        sheet=options.sheet,
        name_column=options.name_column,
        country_column=options.country_column,
        max_rows=options.max_rows,
        country_required=options.default_country is None,
        name_hint=(
            "; or, if it holds contacts, give --kind contacts"
            if options.kind == "lists"
            else "; or, if it holds contacts, name its phone column with "
            f"{map_hint(map_option(options), 'phone')} (or give --kind contacts)"
        ),
    )


def warn_cells(source: SourceTable) -> None:
    """One warning per workbook cell sent with a caveat (the first `CONSOLE_PROBLEM_ROWS`)."""
    warned = [fact for fact in source.cells if fact.usable]
    for fact in warned[:CONSOLE_PROBLEM_ROWS]:
        log.warning("row %d: %s", fact.row, fact.message(), extra={"row": fact.row})
    if len(warned) > CONSOLE_PROBLEM_ROWS:
        log.warning(
            "… and %d more such cells: see the results file", len(warned) - CONSOLE_PROBLEM_ROWS
        )


@dataclass(frozen=True)
class KindChoice:
    """What the input imports, why, and its rows when they were read to tell (as lists, or
    as contacts: a million rows are read once, not once to tell and once to import)."""

    kind: Kind
    reason: str
    loaded: tuple[SourceTable, pd.DataFrame] | None = None
    contacts: ContactsSource | None = None

    def first_line(self, options: JobOptions) -> AbstractContextManager[None]:
        """The log's first line, whenever the command logs anything before its summary: the
        kind, the input and why (`importer.logs.first_line`)."""
        from importer.logs import first_line

        return first_line(f"{self.kind}: {options.input} ({self.reason})", {"kind": self.kind})


def input_kind(options: JobOptions) -> KindChoice:
    """The input's kind — `--kind`; else contacts with `--list` or `--map`, or when its header
    has a phone column — and, when it was read as lists to tell, its rows prepared.

    Raises ConfigError when a contacts-only change (`--update`, `--clear-empty`, `--sync`)
    is asked of a lists file."""
    from importer.kinds.roles import Kind

    choice = _choose_kind(options)
    if choice.kind is Kind.LISTS and (options.update or options.clear_empty or options.sync):
        raise ConfigError(
            f"{options.input}: --update, --clear-empty and --sync apply to contacts files, and "
            "this is a lists file (no phone column; --kind contacts says otherwise)"
        )
    return choice


def _choose_kind(options: JobOptions) -> KindChoice:
    from importer.errors import InputError
    from importer.kinds.roles import Kind, Role, phone_header

    if options.kind:
        return KindChoice(Kind(options.kind), f"--kind {options.kind}")
    if options.list is not None:
        return KindChoice(Kind.CONTACTS, f"a contacts file: --list {options.list!r}")
    if options.columns:
        return KindChoice(Kind.CONTACTS, f"a contacts file: {map_option(options)} given")
    try:
        source = _read_lists_table(options)
    except InputError as lists_error:
        from importer.kinds.contacts_read import ContactsFileError

        try:
            read = _read_contacts(options)
        except ContactsFileError:
            raise  # its header has a phone column: the contacts reader's error is the one
        except InputError:
            raise lists_error from None
        column = read.roles[Role.PHONE]
        return KindChoice(
            Kind.CONTACTS, f"a contacts file: its column {column!r} holds phones", contacts=read
        )
    # Told by the header alone: a contacts file's rows are not prepared as lists first.
    phone = phone_header(source.header)
    if phone is not None:
        return KindChoice(
            Kind.CONTACTS, f"a contacts file: its header has a phone column, {phone!r}"
        )
    loaded = load_rows(options, source)
    return KindChoice(Kind.LISTS, "a lists file: no phone column in its header", loaded)


def map_option(options: JobOptions) -> str:
    """The option naming columns' roles as the operator uses it: `--map` on the command line,
    `columns:` when the job file gave the mapping."""
    from importer.options import OPTION_FLAGS

    flag = OPTION_FLAGS["columns"]
    return flag if options.origins.get("columns", flag).startswith("--") else "columns:"


def _read_contacts(options: JobOptions) -> ContactsSource:
    from importer.kinds.column_map import parse_mapping
    from importer.kinds.contacts_read import read_contacts

    _lean_arrow_memory()
    assert options.input is not None
    return read_contacts(
        options.input,
        sheet=options.sheet,
        mapping=parse_mapping(dict(options.columns or {})),
        list_given=options.list is not None,
        max_rows=options.max_rows,
        preset=options.preset,
        map_option=map_option(options),
    )


def read_contacts_input(
    options: JobOptions, env: Environment | None = None, read: ContactsSource | None = None
) -> tuple[ContactsSource, JobOptions]:
    """Read the input as a contacts file (`--map`, `--preset`, `--list`, `--sheet`,
    `--max-rows`), unless `read` is it already (`KindChoice.contacts`); log the columns left
    out because their meaning is not guessed. Returns the file as read and the job's options,
    `--default-country` set to the account's country of the `--list` list when the file has
    no country column and none was given.

    With `env` (a command that may read the account: `run`, `validate --check-account`) and
    `--list` naming a list on the account, that list's country stands for the missing column
    (one more read of the account's lists). Raises InputError when no list can have a
    country: no country column and no `--default-country` (with `--list` too, the list being
    missing from the account or the command offline), before anything is sent.
    """
    from importer.errors import InputError
    from importer.kinds.roles import Role, map_hint

    read = read or _read_contacts(options)
    if Role.COUNTRY not in read.roles and options.default_country is None:
        country = _account_country(options, env) if options.list and env else None
        if country is not None:
            log.info("list %r is %s on the account: its country", options.list, country)
            options = replace(options, default_country=country)
        else:
            # Every row's list would be invalid (LIST_ERR_102): one refusal instead.
            which = f"list {options.list!r} (--list)" if options.list else "the lists"
            where = " (not on the account)" if options.list and env else ""
            raise InputError(
                f"{options.input}: no column for the country of {which}{where}; columns found: "
                f"{', '.join(repr(cell.strip()) for cell in read.source.header if cell.strip())}"
                f"; give --default-country ISO2, or {map_hint(map_option(options), 'country')}"
            )
    for note in read.notes:
        log.warning("%s: %s", options.input, note)
    return read, options


def _account_country(options: JobOptions, env: Environment) -> str | None:
    """The country of the account's list named `--list` (the one "same name" rule), or None
    when the account has no such list or several."""
    from importer.normalize import same_name_key
    from importer.reconcile import account_index

    assert options.list is not None
    with open_api(options, env) as (client, _scope):
        known = account_index(client.fetch_lists()).get(same_name_key(options.list))
    return None if known is None or known.others else known.country_code or None


def contact_options(options: JobOptions, read: ContactsSource | None = None) -> ContactOptions:
    """The contacts kind's options, from the job's; `read` names the file's opt-out column.

    The `--exclude` STOP list is read here (once per file and version: the run prepares
    the rows twice)."""
    from importer.kinds.contacts import ContactOptions
    from importer.kinds.exclusions import read_stop_list_once
    from importer.kinds.roles import Role
    from importer.rules.fields import BirthdayFormat
    from importer.rules.phones import NumberFormat, parse_number_types

    if options.clear_empty and not options.update:
        raise ConfigError("--clear-empty (job key clear_empty) applies to updates: add --update")
    stop = None
    if options.exclude is not None:
        try:
            stat = options.exclude.stat()
        except OSError as error:
            raise ConfigError(
                f"{options.exclude}: cannot read the STOP list: {error.strerror}"
            ) from None
        stop = read_stop_list_once(options.exclude, stat.st_mtime_ns, stat.st_size)
    header = (read.roles.get(Role.OPT_OUT) or read.roles.get(Role.OUTCOME)) if read else None
    return ContactOptions(
        list_name=options.list,
        default_country=options.default_country,
        number_types=parse_number_types(options.number_types),
        number_format=NumberFormat(options.number_format),
        month_first=options.month_first,
        birthday_format=BirthdayFormat(options.birthday_format),
        update=options.update,
        clear_empty=options.clear_empty,
        sync=options.sync,
        max_delete=options.max_delete,
        exclude=stop,
        **({"opt_out_header": f"column {header!r}"} if header else {}),
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


@contextmanager
def open_api(
    options: JobOptions, env: Environment, stop: threading.Event | None = None
) -> Iterator[tuple[AvoSmsClient, str]]:
    """A client for the configured API and the account scope it speaks for.

    ``base_url: sandbox`` starts the built-in sandbox on a free loopback port for the length of
    the job; its account is new every time, hence a scope of its own.
    """
    from importer.client import AvoSmsClient
    from importer.credentials import load_credentials
    from importer.replies import RetryPolicy
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


class Job(Protocol):
    """One kind's run, as `execute` strings it: its rows and how they are planned and sent."""

    frame: pd.DataFrame
    kind: str
    columns: Sequence[str] | None
    lists_created: int | None
    excluded_present: dict[str, list[str]]
    """List key -> excluded numbers already in it on the account (contacts only)."""
    #: The target lists as the run found them, by list key (contacts; empty for lists).
    lists_before: Mapping[str, ListBefore]

    @property
    def source(self) -> SourceTable:
        """How the input was read."""
        ...

    def send(self, run: RunContext) -> RunStopped | None:
        """Plan against the journal and the account, journal every row, send; return why the
        run stopped early, if it did. `frame` holds every row's outcome afterwards."""
        ...


@dataclass(frozen=True)
class RunContext:
    """What a job's send stage works with, once the run is recorded as started."""

    journal: Journal
    client: AvoSmsClient
    #: The account the run speaks for (the journal's records are per account).
    scope: str
    run_id: int
    run_started: datetime
    stop: StopSignal
    options: JobOptions
    env: Environment


def send_rows(frame: pd.DataFrame, kind: SendKind, run: RunContext) -> None:
    """Send every pending row of `frame` through `kind` on the one send loop; the progress bar
    only on a terminal."""
    from importer.progress import progress_bar
    from importer.send import Sender

    options, env = run.options, run.env
    todo = frame.index[frame["outcome"] == Outcome.PENDING].tolist()
    show = options.progress and not options.quiet and env.is_terminal()
    with progress_bar(len(todo), enabled=show, stream=env.stderr) as bar:
        try:
            Sender(
                frame,
                kind,
                run.run_id,
                run.stop,
                workers=options.workers,
                bar=bar,
                checkpoint=env.reached,
                credentials_accepted=run.client.credentials_accepted,
            ).send(todo)
        finally:
            bar.close_with(throttled=run.client.throttled_seconds)
