"""The `sandbox` command's options and what it runs, out of `importer.cli` to keep it small.

Only click is imported here at start-up; the sandbox itself loads when the command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _share_option(*flags: str, help: str) -> Callable[[F], F]:
    """A sandbox fault's rate: a share of the requests, 0 to 1."""
    return click.option(*flags, default=0.0, show_default=True, type=float, help=help)


#: The `sandbox` command's options, outermost first; each keyword is `serve`'s parameter.
SANDBOX_OPTIONS: tuple[Callable[[Any], Any], ...] = (
    click.option(
        "--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on."
    ),
    click.option(
        "--port", default=8765, show_default=True, type=int, help="Port (0 = any free port)."
    ),
    click.option(
        "--latency",
        default=0.0,
        show_default=True,
        type=float,
        help="Seconds every answer takes, from its request's arrival.",
    ),
    _share_option("--error-rate", "error_9xx_rate", help="Share of answers that are ERR_9xx."),
    _share_option("--http-error-rate", "http_5xx_rate", help="Share of answers that are HTTP 5xx."),
    _share_option("--timeout-rate", help="Share of requests left hanging."),
    _share_option("--drop-rate", help="Share of connections closed without an answer."),
    _share_option(
        "--lost-answer-rate",
        help="Share of writes (list creates; contact adds, updates, deletes) whose answer is lost.",
    ),
    _share_option("--garbage-rate", help="Share of answers that are not valid API JSON."),
    click.option(
        "--rate-limit",
        default=0.0,
        show_default=True,
        type=float,
        help="Answer HTTP 429 above this many requests per second (0 = off).",
    ),
    click.option(
        "--retry-after",
        default=None,
        help="Retry-After value sent with 429 answers (seconds or HTTP date).",
    ),
    _share_option(
        "--slow-answer-rate",
        help="Share of creates processed and answered only after --hang-seconds.",
    ),
    click.option(
        "--hang-seconds",
        default=3.0,
        show_default=True,
        type=float,
        help="How long a timeout or slow-answer fault waits.",
    ),
    click.option("--seed", default=0, show_default=True, type=int, help="Seed of the fault draws."),
    click.option(
        "--name-rule",
        type=click.Choice(["importer", "strict"]),
        default="importer",
        show_default=True,
        help="How the account compares list names: the importer's rule, or case and spaces exact.",
    ),
    click.option(
        "--lists",
        "lists_file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="CSV of name,country lists the account starts with.",
    ),
    click.option(
        "--contacts",
        "contacts_file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="CSV of list,phone[,civility,last name,first name,email,birthday,other] contacts "
        "the account's lists (from --lists) start with.",
    ),
)


def sandbox_options(function: F) -> F:
    """Every option of the `sandbox` command, as one decorator."""
    for decorator in reversed(SANDBOX_OPTIONS):
        function = decorator(function)
    return function


def serve(
    host: str,
    port: int,
    lists_file: Path | None,
    contacts_file: Path | None,
    name_rule: str,
    **faults: Any,
) -> None:
    """Serve the sandbox on `host:port` until Ctrl-C, seeded with the lists and contacts files
    and injecting `faults` (`sandbox.FaultPlan`'s fields)."""
    from importer.errors import ConfigError
    from importer.proxy import is_loopback
    from importer.sandbox import (
        FaultPlan,
        NameRule,
        load_contacts_file,
        load_lists_file,
        run_sandbox,
    )

    if not is_loopback(host):
        raise ConfigError(
            f"--host {host}: the sandbox listens on this machine only (127.0.0.1, ::1, "
            "localhost): it accepts a published demo key and keeps no secret"
        )
    rule = NameRule(name_rule)
    existing = load_lists_file(lists_file, rule) if lists_file is not None else []
    contacts = load_contacts_file(contacts_file) if contacts_file is not None else []
    run_sandbox(
        host,
        port,
        FaultPlan(**faults),
        existing,
        ready=lambda url: click.echo(f"sandbox listening on {url} (Ctrl-C to stop)", err=True),
        name_rule=rule,
        existing_contacts=contacts,
    )
