"""The command line: parse options, call one library function, print.

Only click is imported at start-up so that ``avosms-import --help`` answers at once; pandas,
requests and the rest load when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from importer import __version__
from importer.cli_errors import FilePath, ImporterGroup, logs_to_file, say_error
from importer.cli_sandbox import sandbox_options, serve

F = TypeVar("F", bound=Callable[..., Any])

# The importer does no linear algebra: numpy's BLAS need not start a thread per core when
# pandas loads it (measured: ~0.1 s of CPU per run on 2 cores). A value already set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_FILE = FilePath()


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["debug"] = True


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, for options shared by commands."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=_set_debug,
    is_eager=True,
    help="On error, show the traceback (secrets masked).",
)
job_option = click.option(
    "--job",
    "job",
    type=_FILE,
    help="YAML job file; command-line options win over its keys.",
)


def job_key_option(*flags: str, **settings: Any) -> Callable[[F], F]:
    """A click option for a job-file key: its help and default come from the one schema.

    The option's keyword is the key's name (``--max-outage`` → ``max_outage``), so the job
    file, the command line and the README describe each setting in the same words.
    """
    from importer.options import JOB_KEYS

    long_flag = next(flag for flag in flags if flag.startswith("--"))
    name = long_flag.split("/")[0].removeprefix("--").replace("-", "_")
    spec = JOB_KEYS[name]
    default = spec.default
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, float):
        shown = f"{default:g}"
    else:
        shown = "" if default is None else str(default)
    text = spec.description.replace("`", "")
    settings.setdefault("default", None)
    return click.option(
        *flags, name, help=f"{text} [default: {shown}]" if shown else text, **settings
    )


def _map_option() -> Callable[[F], F]:
    """`--map HEADER=ROLE`, repeated: the job file's `columns:` mapping, on the command line."""
    from importer.options import JOB_KEYS, OPTION_FLAGS

    return click.option(
        OPTION_FLAGS["columns"],
        "columns",
        multiple=True,
        metavar="HEADER=ROLE",
        callback=lambda _ctx, _param, value: value or None,
        help=JOB_KEYS["columns"].description.replace("`", ""),
    )


output_option = job_key_option("-o", "--output", type=_FILE)
contacts_options = _options(
    job_key_option("--kind", type=click.Choice(["lists", "contacts"])),
    job_key_option("--list", metavar="NAME"),
    _map_option(),
    job_key_option("--preset", metavar="PROVIDER"),
    job_key_option("--exclude", type=_FILE, metavar="FILE"),
    job_key_option("--number-types", metavar="TYPES"),
    job_key_option("--number-format", type=click.Choice(["e164", "national", "international"])),
    job_key_option("--month-first", is_flag=True, default=None),
    job_key_option(
        "--birthday-format", type=click.Choice(["DD/MM/YYYY", "YYYY-MM-DD", "MM/DD/YYYY"])
    ),
    job_key_option("--update", is_flag=True, default=None),
    job_key_option("--clear-empty", is_flag=True, default=None),
    job_key_option("--sync", is_flag=True, default=None),
    job_key_option("--max-delete", metavar="N|P%"),
)
input_options = _options(
    contacts_options,
    job_key_option("--sheet"),
    job_key_option("--name-column"),
    job_key_option("--country-column"),
    job_key_option("--default-country", metavar="ISO2"),
    job_key_option("--max-rows", type=int),
    job_key_option("--report", type=_FILE),
)
api_options = _options(
    job_key_option("--base-url"),
    job_key_option("--timeout", type=float),
    job_key_option("--max-attempts", type=int),
    job_key_option("--backoff-initial", type=float),
    job_key_option("--backoff-max", type=float),
)
state_option = job_key_option("--state", type=_FILE)
send_options = _options(
    job_key_option("--workers", type=int),
    job_key_option("--rate", type=float),
    job_key_option("--max-outage", type=float),
    state_option,
    job_key_option("--keep-runs", type=int),
    job_key_option("--reconcile/--no-reconcile"),
)
log_options = _options(
    job_key_option("--log-format", type=click.Choice(["text", "json"])),
    job_key_option("--log-file", type=_FILE),
    job_key_option("--quiet", "-q", is_flag=True),
    job_key_option("--progress/--no-progress"),
    debug_option,
)


#: What run and validate share: the job file, the input, the results and the API.
job_input_options = _options(job_option, output_option, input_options, api_options)


@click.group(
    cls=ImporterGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="avosms-import")
def main() -> None:
    """Import AvoSMS contact lists or contacts from a spreadsheet, and say row by row what
    happened.

    \b
    Example:
      avosms-import run lists.xlsx -o lists.results.xlsx
    """


def _resolve(
    ctx: click.Context,
    job: Path | None,
    cli_values: dict[str, Any],
    *,
    require_input: bool = True,
    uses_api: bool = True,
) -> Any:
    """Job file + command line + environment → one options object; masks its secrets."""
    from importer.credentials import secrets_of
    from importer.jobfile import load_job_file, resolve_options
    from importer.logs import configure_logging

    given = {key: value for key, value in cli_values.items() if value is not None}
    job_values = load_job_file(job) if job is not None else {}
    options = resolve_options(
        job_values,
        given,
        environ=os.environ,
        job_dir=job.parent if job is not None else None,
        require_input=require_input,
        uses_api=uses_api,
    )
    secrets = tuple(secrets_of(options, os.environ))
    ctx.meta["secrets"] = secrets
    configure_logging(
        log_format=options.log_format,
        log_file=options.log_file,
        quiet=options.quiet,
        secrets=secrets,
    )
    return options


def _report(result: Any) -> None:
    """The summary line, logged (stderr or the log file) and echoed when logging to a file."""
    import logging

    from importer.results import summary_line

    line = f"{summary_line(result.summary)}; results in {result.output}"
    logger = logging.getLogger("importer")
    logger.info(
        line,
        extra={"summary": True, "run_id": result.summary.run_id, "counts": result.summary.counts},
    )
    if logs_to_file():
        click.echo(line, err=True)
    if result.stopped_by is not None:
        say_error(click.get_current_context(), str(result.stopped_by), result.exit_code)
    if getattr(result, "abandoned", False):
        # A second signal: journal and results are written; don't wait for requests in flight.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(result.exit_code))
    ctx = click.get_current_context()
    ctx.exit(int(result.exit_code))


@main.command()
@click.argument("input", required=False, type=_FILE)
@job_input_options
@send_options
@log_options
@click.pass_context
def run(ctx: click.Context, job: Path | None, **values: Any) -> None:
    """Import INPUT's lists or contacts, and write the results file.

    A lists file creates a list per valid row; a contacts file (one with a phone column, or
    --kind contacts) adds each valid row's contact to its list, creating missing lists first.
    Re-running is safe: what exists on the account or an earlier run sent is not sent again.
    Credentials come from AVOSMS_ID and AVOSMS_KEY, or credentials_file: in the job file.

    \b
    Examples:
      avosms-import run --job jobs/sample.yaml
      AVOSMS_ID=me@example.com AVOSMS_KEY=... avosms-import run lists.csv -o out.xlsx
    """
    from importer.run import Environment
    from importer.run import run as run_job

    options = _resolve(ctx, job, values)
    _report(run_job(options, Environment()))


@main.command()
@click.argument("input", required=False, type=_FILE)
@job_input_options
@job_key_option("--check-account", is_flag=True)
@log_options
@click.pass_context
def validate(ctx: click.Context, job: Path | None, **values: Any) -> None:
    """Check INPUT and write the plan, without creating anything.

    Every row that would be sent gets outcome 'planned'; with --check-account, rows whose list
    already exists get 'exists' and its id.

    \b
    Examples:
      avosms-import validate lists.csv
      avosms-import validate --job jobs/nightly.yaml --check-account -o plan.xlsx
    """
    from importer.run import Environment
    from importer.run import validate as validate_job

    options = _resolve(ctx, job, values)
    _report(validate_job(options, Environment()))


@main.command("lists")
@job_option
@click.option(
    "-o",
    "--output",
    type=_FILE,
    default=Path("account-lists.csv"),
    show_default=True,
    help="Where to write the lists: .csv, .xlsx or .json.",
)
@api_options
@debug_option
@click.pass_context
def lists_command(ctx: click.Context, job: Path | None, output: Path, **values: Any) -> None:
    """Export the account's existing lists (id, name, country, contacts, creation date).

    \b
    Example:
      avosms-import lists -o account-lists.xlsx
    """
    from importer.account_export import export_account_lists
    from importer.run import Environment

    options = _resolve(ctx, job, values, require_input=False)
    count = export_account_lists(options, Environment(), output)
    click.echo(f"{count} lists written to {output}", err=True)


@main.command("contacts-export")
@click.argument("names", nargs=-1, metavar="[LIST]...")
@click.option("--id", "ids", multiple=True, metavar="ID", help="A list by its id (repeatable).")
@click.option("--all", "every", is_flag=True, help="Every list of the account.")
@job_option
@click.option(
    "-o",
    "--output",
    type=_FILE,
    default=Path("account-contacts.csv"),
    show_default=True,
    help="Where to write the contacts: .csv, .xlsx or .json.",
)
@api_options
@debug_option
@click.pass_context
def contacts_export_command(
    ctx: click.Context,
    names: tuple[str, ...],
    ids: tuple[str, ...],
    every: bool,
    job: Path | None,
    output: Path,
    **values: Any,
) -> None:
    """Export the contacts of the lists named LIST (or --id, or --all) as a contacts file.

    Names are matched like an import matches them (case and spacing ignored). The file has a
    contacts file's columns, so `avosms-import run` imports it back. Sends only reads.

    \b
    Examples:
      avosms-import contacts-export "Clients Paris" Newsletter -o backup.xlsx
      avosms-import contacts-export --all -o every-contact.csv
    """
    from importer.account_export import export_contacts
    from importer.run import Environment

    options = _resolve(ctx, job, values, require_input=False)
    done = export_contacts(options, Environment(), output, names=names, ids=ids, every=every)
    click.echo(f"{done} written to {output}", err=True)


@main.command("runs")
@job_option
@state_option
@debug_option
@click.pass_context
def runs_command(ctx: click.Context, job: Path | None, state: Path | None) -> None:
    """List past runs from the journal: id, start, input, counts, exit code.

    \b
    Example:
      avosms-import runs --state .avosms-import/state.db
    """
    from importer.past_runs import past_runs

    options = _resolve(ctx, job, {"state": state}, require_input=False, uses_api=False)
    runs = past_runs(options.state)
    if not runs:
        click.echo(f"no runs recorded in {options.state}", err=True)
    for info in runs:
        click.echo(_run_line(info))


def _run_line(info: Any) -> str:
    """One run as one line: id, start, end (or 'running', 'did not finish'), exit code, counts,
    input."""
    ended = "running" if info.running else "did not finish"
    ended = info.ended_at.strftime("%Y-%m-%d %H:%M:%S") if info.ended_at else ended
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(info.counts.items()))
    exit_code = "-" if info.exit_code is None else str(info.exit_code)
    started = info.started_at.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{info.run_id:>5}  {started}  {ended:<19}  exit {exit_code:>1}  "
        f"{counts or '-'}  {info.input_path}"
    )


@main.command("results")
@click.argument("run_id", type=int)
@job_option
@state_option
@click.option(
    "-o",
    "--output",
    type=_FILE,
    required=True,
    help="Results file to write: .csv, .xlsx or .json.",
)
@debug_option
@click.pass_context
def results_command(
    ctx: click.Context, run_id: int, job: Path | None, state: Path | None, output: Path
) -> None:
    """Rewrite the results file of run RUN_ID from the journal (also for a killed run).

    \b
    Example:
      avosms-import results 12 -o run12.results.xlsx
    """
    from importer.past_runs import rebuild_results

    options = _resolve(
        ctx, job, {"state": state, "output": output}, require_input=False, uses_api=False
    )
    result = rebuild_results(options, run_id)
    _report(result)


@main.command("sandbox")
@sandbox_options
@debug_option
def sandbox_command(**values: Any) -> None:
    """Serve the built-in AvoSMS sandbox on loopback, for demos and tests.

    It speaks the list and contact endpoints with demo credentials (id demo@example.com, key
    demo-key-0000) and can inject faults.

    \b
    Example:
      avosms-import sandbox --port 8765 --latency 0.05 --error-rate 0.1
      AVOSMS_ID=demo@example.com AVOSMS_KEY=demo-key-0000 \\
        avosms-import run lists.csv --base-url http://127.0.0.1:8765
    """
    serve(**values)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
