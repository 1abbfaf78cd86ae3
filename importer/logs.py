"""Logging for people and for schedulers: text or JSON lines, never the API key.

Every log record goes through `SecretFilter`, so even a message built from an exception that
quoted a request body cannot carry the key out.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from importer.masking import mask_text

LOGGER_NAME = "importer"

#: Record attributes copied into JSON lines when a call passes them in ``extra=``.
ROW_FIELDS = (
    "kind",
    "run_id",
    "row",
    "outcome",
    "code",
    "list_name",
    "list_contact_id",
    "exit_code",
)


class SecretFilter(logging.Filter):
    """Replaces every occurrence of the given secrets in a record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secrets)  # `masking` drops empty ones and repeats

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_text(record.getMessage(), self.secrets), None
        if record.exc_info:
            # Tracebacks are only shown with --debug, but they may still quote a secret.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, mask_text(text, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the run id and row fields when the caller gave them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ROW_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        counts = getattr(record, "counts", None)
        if counts is not None:
            line["counts"] = counts
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class ConsoleFormatter(logging.Formatter):
    """For a person at a terminal: the summary as is, problems prefixed with their level."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            message = f"{record.levelname.lower()}: {message}"
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        return message


def configure_logging(
    *,
    log_format: str = "text",
    log_file: Path | None = None,
    quiet: bool = False,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Logger:
    """Route the importer's log to stderr or a file, in text or JSON, with secrets masked.

    ``quiet`` keeps only the summary (INFO records flagged ``summary=True``) and errors on
    stderr; a log file always gets every line, since that is what it is read for.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: logging.Handler
    text_formatter: logging.Formatter
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        text_formatter = logging.Formatter(TEXT_FORMAT)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        text_formatter = ConsoleFormatter()
    handler.setFormatter(JsonFormatter() if log_format == "json" else text_formatter)
    handler.addFilter(SecretFilter(secrets))
    if quiet and log_file is None:
        handler.addFilter(_summary_or_error)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class _FirstLine(logging.Filter):
    """Logs a line of its own before the first record that passes the logger, then leaves."""

    def __init__(self, logger: logging.Logger, message: str, extra: Mapping[str, object]):
        super().__init__()
        self.logger, self.message, self.extra = logger, message, dict(extra)
        self.lock = threading.RLock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            if self in self.logger.filters:
                self.logger.removeFilter(self)
                self.logger.info(self.message, extra=self.extra)
        return True


@contextmanager
def first_line(message: str, extra: Mapping[str, object] | None = None) -> Iterator[None]:
    """Within the block, `message` (INFO) is logged just before the first other line, so a log
    that says anything starts with it; a block that logs nothing logs nothing. A refusal stays
    one line, and a clean run's only line is its summary."""
    logger = logging.getLogger(LOGGER_NAME)
    herald = _FirstLine(logger, message, extra or {})
    logger.addFilter(herald)
    try:
        yield
    finally:
        logger.removeFilter(herald)


def _summary_or_error(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or bool(getattr(record, "summary", False))
