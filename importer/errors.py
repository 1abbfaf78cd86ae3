"""The importer's exceptions and exit codes.

The core raises these and never prints or exits; `importer.cli` turns them into one line on
stderr and the exit code a scheduler acts on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a scheduler reads from the process."""

    OK = 0
    """Every row was created, already existed, was a duplicate or is planned."""
    ROWS_FAILED = 1
    """The run finished, but some rows are invalid or failed."""
    USAGE = 2
    """Bad options, job file or input file: nothing was sent."""
    STOPPED = 3
    """The run stopped early (credentials refused, interrupted, outage, locked): rows pending."""
    INTERNAL = 4
    """An unexpected error: a bug, reported in one line (``--debug`` shows the traceback)."""


class ImporterError(Exception):
    """Base of every error the importer reports as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(ImporterError):
    """The input file cannot be read or does not hold the expected columns."""


class ConfigError(ImporterError):
    """An option, the job file or the credentials are missing or wrong."""


class JournalError(ImporterError):
    """The state database cannot be used (wrong version, corrupt, unwritable)."""


class OutputError(ImporterError):
    """The results could not be written after rows were sent; the journal still has them."""

    exit_code = ExitCode.STOPPED


class RunLocked(ImporterError):
    """Another run holds the state database's lock."""

    exit_code = ExitCode.STOPPED


class RunStopped(ImporterError):
    """The run stopped before every row was sent; the rest is pending and resumable."""

    exit_code = ExitCode.STOPPED


class CredentialsRefused(RunStopped):
    """The API answered ERR_100: the id/key pair is not recognised."""


class OutageDetected(RunStopped):
    """Every request failed for longer than the allowed outage."""


class Interrupted(RunStopped):
    """SIGINT or SIGTERM asked the run to stop."""
