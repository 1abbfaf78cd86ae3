"""Files written all at once or not at all, so that a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Write `path` all at once or not at all: a reader sees the old file or the new one.

    Yields a binary file in the destination folder (so the rename stays on one file system);
    on success it is synced to disk and renamed over `path`; on any exception it is removed
    and the old file is left untouched. Created with mode 0o666 minus the umask, like `open`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def same_file(first: Path, second: Path, cwd: Path) -> bool:
    """Whether two paths name one file (also through links, or before either exists); relative
    paths are taken from `cwd`. The one rule for "this would overwrite that"."""
    first, second = (path if path.is_absolute() else cwd / path for path in (first, second))
    try:
        if first.exists() and second.exists():
            return first.samefile(second)
    except OSError:
        pass
    return os.path.normcase(first.resolve()) == os.path.normcase(second.resolve())
