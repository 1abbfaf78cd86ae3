"""Who holds a journal's lock: the side file the holder writes, and whether it still lives.

`Journal.lock` takes `<state>.lock` (a `filelock` lock the OS releases when its holder dies)
and writes `<state>.lock.info` beside it, removed on release. A run killed by SIGKILL leaves
that side file behind, so the file alone does not prove a run is going: its process must be
alive too.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path


def lock_info_path(state: Path) -> Path:
    """The side file naming the lock's holder (pid, host, start, run id)."""
    return Path(f"{state}.lock.info")


def running_run(state: Path) -> int | None:
    """The id of the run holding the journal's lock at `state`, or None when no run is going.

    A holder on this host counts only while its process is alive; one on another host (a
    journal on a shared disk) cannot be checked from here and counts as long as its side file
    stays.
    """
    try:
        info = json.loads(lock_info_path(state).read_text(encoding="utf-8"))
        run_id, pid, host = info["run_id"], int(info["pid"]), str(info["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if run_id is None:
        return None
    if host == socket.gethostname() and os.name == "posix" and not _alive(pid):
        return None
    return int(run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
