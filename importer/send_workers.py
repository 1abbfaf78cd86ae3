"""The send loop's workers: long-lived threads that take rows from a queue and leave answers.

Each worker loops: take the next row's index from `tasks`, run the job (one row's request, its
retries included), append `(index, result)` to `answers`, where `result` is what the job
returned or the exception it raised. Nothing per row is allocated for the hand-over (no future,
no callback, no lock of its own), and the loop's thread is woken only when as many answers as
it asked for are in (`wait`), not at each one: the two costs that a thread pool's futures add to
every request (bench/RESULTS.md, API throughput, has the figures).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

Result = TypeVar("Result")

#: Put in the queue once per worker: the worker ends when it takes one.
_END = -1


class Workers(Generic[Result]):
    """`count` threads running `job(index)` for each index handed out; thread-safe hand-over.

    Started on the first `hand_out`; `close` ends them (waiting for them or not).
    """

    def __init__(self, count: int, job: Callable[[int], Result], *, name: str) -> None:
        self._count = count
        self._job = job
        self._name = name
        self._tasks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._answers: deque[tuple[int, Result | BaseException]] = deque()
        self._threads: list[threading.Thread] = []
        self._woken = threading.Event()
        #: A worker sets `_woken` once this many answers wait to be taken.
        self._wake_at = 1

    def hand_out(self, index: int) -> None:
        """Queue one row for the next free worker."""
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"{self._name}_{number}")
                for number in range(self._count)
            ]
            for thread in self._threads:
                thread.start()
        self._tasks.put(index)

    def wait(self, count: int, timeout: float) -> None:
        """Return once `count` answers wait to be taken, or after `timeout` seconds."""
        self._woken.clear()
        self._wake_at = max(1, count)
        if len(self._answers) < self._wake_at:
            self._woken.wait(timeout)

    def take(self) -> list[tuple[int, Result | BaseException]]:
        """The answers in so far, oldest first: each row's result, or what its job raised."""
        taken = []
        answers = self._answers
        while answers:
            taken.append(answers.popleft())
        return taken

    def close(self, *, wait: bool) -> list[int]:
        """End the workers once their current row is done; rows still queued are not started
        and come back. With `wait`, return when every worker has ended."""
        dropped = []
        while True:
            try:
                index = self._tasks.get_nowait()
            except queue.Empty:
                break
            if index != _END:
                dropped.append(index)
        for _ in self._threads:
            self._tasks.put(_END)
        if wait:
            for thread in self._threads:
                thread.join()
        return dropped

    def _work(self) -> None:
        tasks, answers, job = self._tasks, self._answers, self._job
        while (index := tasks.get()) != _END:
            try:
                result: Result | BaseException = job(index)
            except BaseException as error:  # the loop's thread re-raises what it cannot handle
                result = error
            answers.append((index, result))
            if len(answers) >= self._wake_at:
                self._woken.set()
