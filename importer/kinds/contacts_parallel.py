"""A second process for the contacts checks: on a big file, `validate` and `run` check the
e-mail column (and a share of the numbers) there while this process checks the other numbers.

Every value is still judged by the same library call (`email-validator`, `phonenumbers`, through
`importer.rules`): only where the call runs changes, and the results are the lists the
in-process path gives (the tests compare both). The child is a fresh interpreter (`python -m`
this module: nothing is forked from a process holding pandas' or Arrow's threads) that imports
the rules and nothing else; work and results travel pickled over its standard input and output.

A child that fails in any way (cannot start, dies, answers nothing readable) is reaped and its
work done here instead: outcomes, and any error, are then exactly the in-process ones. It never
outlives its parent: killed when the work is abandoned (an error, Ctrl-C, the process ending),
and it ends by itself when its parent is gone (SIGTERM, SIGKILL). It ignores Ctrl-C, which is
the parent's to handle (a run's clean stop).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from typing import Any

from importer.rules.phones import NumberFormat, NumberType, Phone, normalize_phone

log = logging.getLogger("importer")

#: Below this many distinct values to check, the work stays in this process. Measured: the
#: child costs ~0.2 s to start (5 ms of this process's time), what ~5,000 e-mail checks cost;
#: 20,000 addresses take as long either way even with nothing to do meanwhile.
SECOND_PROCESS_FROM = 20_000
#: The child's cost of an e-mail check over that of a number check (measured: ~0.7 on the
#: benchmark's file), to balance the two processes' shares.
EMAIL_COST = 0.7
#: How often the child looks whether its parent is still there (seconds).
PARENT_CHECK = 0.2

Call = tuple[Callable[..., Any], tuple[Any, ...]]


def check_numbers(
    cells: Sequence[str],
    regions: Sequence[str],
    number_types: Collection[NumberType],
    number_format: NumberFormat,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """`normalize_phone` of each (cell, region) pair: four lists, E.164, as sent, code and what
    to say (a note, or the problem's message) — strings only, no object kept per number."""
    e164: list[str] = []
    number: list[str] = []
    code: list[str] = []
    said: list[str] = []
    for cell, region in zip(cells, regions, strict=True):
        result = normalize_phone(
            cell, region, number_types=number_types, number_format=number_format
        )
        if isinstance(result, Phone):
            e164.append(result.e164)
            number.append(result.number)
            code.append("")
            said.append(result.note)
        else:
            e164.append("")
            number.append("")
            code.append(result.code)
            said.append(result.message)
    return e164, number, code, said


def numbers_share(numbers: int, emails: int) -> int:
    """How many of `numbers` distinct pairs the second process checks beside `emails` distinct
    addresses, so that both processes finish about together (0: the e-mails are enough)."""
    return max(0, round((numbers - EMAIL_COST * emails) / 2))


class Pending:
    """Calls running in a second process (when `second_process`), or here when asked for.

    `results()` gives each call's result, in order, the same either way.
    """

    def __init__(self, calls: list[Call], *, second_process: bool) -> None:
        self._calls: list[Call] | bytes = calls
        self._child: _Child | None = None
        if second_process:
            try:
                # Kept pickled for a fallback, not as objects (a million strings, ~100 MB).
                self._calls = pickle.dumps(calls, protocol=pickle.HIGHEST_PROTOCOL)
                self._child = _Child(self._calls)
            except Exception as error:  # no process, or work it cannot take: done here
                log.debug("checks stay in this process: %s", error)
        if self._child is not None:  # the process ending kills it too
            weakref.finalize(self, self._child.stop)

    @property
    def pid(self) -> int | None:
        """The second process's id while it works for this, else None."""
        return None if self._child is None else self._child.process.pid

    def results(self) -> list[Any]:
        """The calls' results, in order; waits for the second process."""
        child, self._child = self._child, None
        got = None
        if child is not None:
            try:
                got = child.collect()
            finally:
                child.stop()
        if got is not None:
            return got
        calls = pickle.loads(self._calls) if isinstance(self._calls, bytes) else self._calls
        return [call(*args) for call, args in calls]

    def close(self) -> None:
        """Stop the second process if it still runs (work abandoned)."""
        if self._child is not None:
            self._child.stop()
            self._child = None

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Child:
    """The second process, its work sent as it starts."""

    def __init__(self, calls: bytes) -> None:
        from importer.options import ENV_ID, ENV_KEY

        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `stop`
        # Isolated (`-I`): the working folder is not on its import path (a file there named like
        # a library it loads never runs) and no PYTHON* variable applies; the credentials stay
        # in this process.
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={k: v for k, v in os.environ.items() if k not in (ENV_ID, ENV_KEY)},
        )
        # Written by a thread: the pipe takes it as fast as the child reads, while this process
        # goes on with its own share.
        self._writer = threading.Thread(target=self._send, args=(calls,), daemon=True)
        self._writer.start()

    def _send(self, calls: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            with stdin:
                stdin.write(pickle.dumps(os.getpid()))
                stdin.write(calls)
        except (OSError, ValueError):  # the child is gone, or stopped: `collect` sees it
            pass

    def collect(self) -> list[Any] | None:
        """The results, or None when the child failed (the reason is logged at debug level)."""
        stdout = self.process.stdout
        assert stdout is not None
        try:
            data = stdout.read()
            self.process.wait()
            self._writer.join()
            if self.process.returncode == 0:
                results: list[Any] = pickle.loads(data)
                return results
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            log.debug("second process unreadable: %s", error)
        self._stderr.seek(0)
        said = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        log.debug("second process failed (exit %s): %s", self.process.returncode, said)
        return None

    def stop(self) -> None:
        """Kill the child if it runs, reap it and close its pipes (idempotent)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout, self._stderr):
            if pipe is not None:
                pipe.close()


def _watch_parent(parent: int) -> None:
    """End this process as soon as its parent is gone (it would wait for no one)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(1)


def _serve() -> None:
    """The child's side: read the calls, run them, write their results."""
    parent = pickle.load(sys.stdin.buffer)
    calls = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    results = [call(*args) for call, args in calls]
    pickle.dump(results, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve()
