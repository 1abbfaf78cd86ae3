"""The importer's exceptions and exit codes.

The core raises these and never prints or exits; `importer.cli` turns them into one line on
stderr and the exit code a scheduler acts on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a scheduler reads from the process."""

    OK = 0
    """Every row was created, updated, deleted, already existed, was a duplicate or is planned."""
    ROWS_FAILED = 1
    """The run finished, but some rows are invalid or failed."""
    USAGE = 2
    """Bad options, job file or input file, or a removal refused by the guard: nothing was
    sent."""
    STOPPED = 3
    """The run stopped early (credentials refused, interrupted, outage, locked): rows pending."""
    INTERNAL = 4
    """An unexpected error: a bug, reported in one line (``--debug`` shows the traceback)."""


class ImporterError(Exception):
    """Base of every error the importer reports as one line.

    The default exit code is the conservative one (3, "run the same command again"): only a
    class that knows nothing was sent says so (`InputError`, `ConfigError`, `JournalError`
    raised before a run starts).
    """

    exit_code: ExitCode = ExitCode.STOPPED


class InputError(ImporterError):
    """The input file cannot be read or does not hold the expected columns."""

    exit_code = ExitCode.USAGE


class ConfigError(ImporterError):
    """An option, the job file or the credentials are missing or wrong."""

    exit_code = ExitCode.USAGE


class RemovalRefused(ImporterError):
    """`--sync` would remove more contacts from a list than `--max-delete` allows: the run
    stopped before sending anything."""

    exit_code = ExitCode.USAGE


class JournalError(ImporterError):
    """The state database cannot be used (wrong version, corrupt, unwritable).

    Exit 2 only because a journal is opened before anything is sent; once a run has started,
    `importer.run` reports any error as `OutputError` (exit 3).
    """

    exit_code = ExitCode.USAGE


class OutputError(ImporterError):
    """The results could not be written after rows were sent; the journal still has them."""

    exit_code = ExitCode.STOPPED


class RunLocked(ImporterError):
    """Another run holds the state database's lock."""

    exit_code = ExitCode.STOPPED


class RunStopped(ImporterError):
    """The run stopped before every row was sent; the rest is pending and resumable.

    Raised for one row's request, ``uncertain_attempts`` counts the attempts already sent for
    it that may have been processed (its fate is then unknown), ``last_code`` the last answer.
    """

    exit_code = ExitCode.STOPPED
    uncertain_attempts: int = 0
    last_code: str = ""


class CredentialsRefused(RunStopped):
    """The API answered ERR_100: the id/key pair is not recognised."""


class OutageDetected(RunStopped):
    """Every request failed for longer than the allowed outage."""


class Interrupted(RunStopped):
    """SIGINT or SIGTERM asked the run to stop."""
