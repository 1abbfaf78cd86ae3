"""The one place where exceptions become exit codes and one-line messages.

Every fatal line goes to stderr and, when the run logs to a file, into that file too (text or
JSON, the key masked), so a scheduler's log keeps why a run stopped, not only its summary.
A folder given where a file is wanted is one such line too, not click's usage block.
A reader that went away (``avosms-import runs | head -1``) ends the command quietly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from importer.errors import ConfigError, ExitCode, ImporterError
from importer.masking import mask_text

#: The exit status of a command whose output was closed by its reader, as a shell reports a
#: process ended by SIGPIPE (128 + 13): quiet, and ignored by a pipeline without `pipefail`.
CLOSED_OUTPUT_EXIT = 141


class ImporterGroup(click.Group):
    """Turns every `ImporterError` into one line on stderr (and the log file) and its exit
    code; a closed output into a quiet end."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # --help and --version print while the command line is parsed, before `invoke`.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _closed_output()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                with _sigterm_as_ctrl_c():
                    return super().invoke(ctx)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            _closed_output()
        except ImporterError as error:
            fail(ctx, str(error), error.exit_code)
        except KeyboardInterrupt:
            resume = "; run again to resume" if ctx.invoked_subcommand == "run" else ""
            fail(ctx, f"interrupted{resume}", ExitCode.STOPPED)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # a bug: say so in one line, traceback with --debug
            fail(
                ctx,
                f"internal error: {type(error).__name__}: {error} (run with --debug for details)",
                ExitCode.INTERNAL,
            )


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM ends a command the way Ctrl-C does (one line, exit 3), not silently, while it
    reads and checks a file; the send loop installs its own handlers over this one."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def fail(ctx: click.Context, message: str, code: int) -> None:
    """`message` as the one fatal line (see `say_error`), the traceback before it with
    ``--debug``, then exit with `code`."""
    if ctx.meta.get("debug"):
        click.echo(
            mask_text(traceback.format_exc(), ctx.meta.get("secrets", ())), err=True, nl=False
        )
    say_error(ctx, message, code)
    ctx.exit(int(code))


def say_error(ctx: click.Context, message: str, code: int) -> None:
    """`message` as one ``avosms-import:`` line on stderr and, when the command logs to a file,
    an ERROR line there with its exit code; secrets masked in both."""
    if logs_to_file():
        # On stderr the line below is the log: logging it there too would print it twice.
        # The logger's own filter masks the key in the file.
        logging.getLogger("importer").error(message, extra={"exit_code": int(code)})
    click.echo(f"avosms-import: {mask_text(message, ctx.meta.get('secrets', ()))}", err=True)


def logs_to_file() -> bool:
    """Whether the importer's log goes to a file (rather than stderr)."""
    handlers = logging.getLogger("importer").handlers
    return any(isinstance(handler, logging.FileHandler) for handler in handlers)


def _closed_output() -> NoReturn:
    # Whatever is still buffered would fail again at exit: send it nowhere.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, stream.fileno())
    os.close(devnull)
    raise click.exceptions.Exit(CLOSED_OUTPUT_EXIT)


class FilePath(click.Path):
    """A file's path (`pathlib.Path`) on the command line: a folder there is refused with one
    line naming the option and the path (`ConfigError`, exit 2), not click's usage block."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(path_type=Path, dir_okay=False, **settings)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value)
        if text.endswith(("/", os.sep)) or os.path.isdir(text):
            if isinstance(param, click.Option):
                name = max(param.opts, key=len)
            else:
                name = param.human_readable_name if param is not None else "path"
            raise ConfigError(f"{name}: {text} is a folder, not a file: give a file name")
        return super().convert(value, param, ctx)
