"""The sandbox's counters: the witnesses of what the importer did to the API."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Hashable
from typing import Any

from importer.api.endpoints import (
    CONTACT_ADD,
    CONTACT_DELETE,
    CONTACT_UPDATE,
    LIST_CREATE,
    LIST_INFORMATION,
    LIST_RETRIEVE,
)
from importer.sandbox.account import Account
from importer.sandbox.faults import Fault


class SandboxStats:
    """Thread-safe counters of what the sandbox saw. Every property returns a copy."""

    def __init__(self, account: Account) -> None:
        self._lock = threading.Lock()
        self._account = account
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the account's lists stay)."""
        with self._lock:
            self._requests_total = 0
            self._connections = 0
            self._by_key: dict[str, Counter[Any]] = {
                endpoint.path: Counter()
                for endpoint in (
                    LIST_CREATE,
                    LIST_INFORMATION,
                    CONTACT_ADD,
                    CONTACT_UPDATE,
                    CONTACT_DELETE,
                )
            }
            self._created: Counter[str] = Counter()
            #: Contacts really added, updated, deleted, by endpoint path, then (list, E.164).
            self._changed: dict[str, Counter[tuple[str, str]]] = {
                endpoint.path: Counter()
                for endpoint in (CONTACT_ADD, CONTACT_UPDATE, CONTACT_DELETE)
            }
            self._list_requests = 0
            self._arrivals: deque[float] = deque()
            self._max_requests_per_second = 0
            self._in_flight = 0
            self._max_in_flight = 0
            self._throttled = 0
            self._faults: Counter[str] = Counter()
            self._answers: Counter[str] = Counter()

    @property
    def requests_total(self) -> int:
        """Every HTTP request, any path, any outcome."""
        with self._lock:
            return self._requests_total

    @property
    def connections(self) -> int:
        """TCP connections accepted (keep-alive makes this far below `requests_total`)."""
        with self._lock:
            return self._connections

    @property
    def create_requests(self) -> Counter[str]:
        """Create requests received, by the account's name key, whatever their answer."""
        return self._requests(LIST_CREATE.path)

    @property
    def created(self) -> Counter[str]:
        """Lists really created, by the account's name key (never more than 1 each)."""
        with self._lock:
            return Counter(self._created)

    @property
    def add_requests(self) -> Counter[tuple[str, str]]:
        """`/contact/add` requests, by (list id, number in E.164 or as sent when invalid)."""
        return self._requests(CONTACT_ADD.path)

    @property
    def update_requests(self) -> Counter[tuple[str, str]]:
        """`/contact/update` requests, by (list id, number)."""
        return self._requests(CONTACT_UPDATE.path)

    @property
    def delete_requests(self) -> Counter[tuple[str, str]]:
        """`/contact/delete` requests, by (list id, number)."""
        return self._requests(CONTACT_DELETE.path)

    @property
    def added(self) -> Counter[tuple[str, str]]:
        """Contacts really added, by (list id, number in E.164) (never more than 1 each)."""
        return self._changes(CONTACT_ADD.path)

    @property
    def updated(self) -> Counter[tuple[str, str]]:
        """Contacts an update really changed (sent again, the same record changes nothing), by
        (list id, number in E.164)."""
        return self._changes(CONTACT_UPDATE.path)

    @property
    def deleted(self) -> Counter[tuple[str, str]]:
        """Contacts really deleted, by (list id, number in E.164)."""
        return self._changes(CONTACT_DELETE.path)

    def _changes(self, path: str) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._changed[path])

    @property
    def information_requests(self) -> Counter[str]:
        """`/contact/list/information` requests, by list id."""
        return self._requests(LIST_INFORMATION.path)

    def _requests(self, path: str) -> Counter[Any]:
        with self._lock:
            return Counter(self._by_key[path])

    @property
    def list_requests(self) -> int:
        """Retrieve-lists requests received."""
        with self._lock:
            return self._list_requests

    @property
    def max_requests_per_second(self) -> int:
        """The most requests that arrived within any sliding one-second window."""
        with self._lock:
            return self._max_requests_per_second

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests being handled at the same time."""
        with self._lock:
            return self._max_in_flight

    @property
    def throttled(self) -> int:
        """Requests answered HTTP 429."""
        with self._lock:
            return self._throttled

    @property
    def faults(self) -> Counter[str]:
        """Faults injected, by `Fault` value."""
        with self._lock:
            return Counter(self._faults)

    @property
    def answers(self) -> Counter[str]:
        """Answers sent, by API code or token (`OK`, `ERR_104`, `HTTP_503`, `DROP`, `HTML`…)."""
        with self._lock:
            return Counter(self._answers)

    @property
    def lists(self) -> dict[str, tuple[str, str]]:
        """The account's lists: id -> (name, country code)."""
        return {x.list_contact_id: (x.name, x.country_code) for x in self._account.lists()}

    def snapshot(self) -> dict[str, Any]:
        """Every counter as plain, JSON-ready values, with totals of the per-name counters."""
        with self._lock:
            creates = self._by_key[LIST_CREATE.path]
            adds = self._by_key[CONTACT_ADD.path]
            snap: dict[str, Any] = {
                "requests_total": self._requests_total,
                "connections": self._connections,
                "create_requests_total": creates.total(),
                "created_total": self._created.total(),
                "names_sent_more_than_once": sum(1 for n in creates.values() if n > 1),
                "create_requests": dict(creates),
                "created": dict(self._created),
                "add_requests_total": adds.total(),
                "added_total": self._changed[CONTACT_ADD.path].total(),
                "updated_total": self._changed[CONTACT_UPDATE.path].total(),
                "deleted_total": self._changed[CONTACT_DELETE.path].total(),
                "numbers_sent_more_than_once": sum(1 for n in adds.values() if n > 1),
                "information_requests_total": self._by_key[LIST_INFORMATION.path].total(),
                "list_requests": self._list_requests,
                "max_requests_per_second": self._max_requests_per_second,
                "max_in_flight": self._max_in_flight,
                "throttled": self._throttled,
                "faults": {str(fault): n for fault, n in self._faults.items()},
                "answers": dict(self._answers),
            }
        snap["lists"] = len(self._account.lists())
        return snap

    # Called by the request handler.

    def connection_opened(self) -> None:
        with self._lock:
            self._connections += 1

    def arrive(self, path: str, key: Hashable | None, rate_limit: float, now: float) -> bool:
        """Count one arriving request; True when the rate limit refuses it (HTTP 429).

        `key` is what the request is counted by (see `SandboxServer.request_key`).
        """
        with self._lock:
            self._requests_total += 1
            if path in self._by_key and key is not None:
                self._by_key[path][key] += 1
            elif path == LIST_RETRIEVE.path:
                self._list_requests += 1
            window = self._arrivals
            while window and window[0] <= now - 1.0:
                window.popleft()
            throttled = rate_limit > 0 and len(window) >= rate_limit
            window.append(now)
            self._max_requests_per_second = max(self._max_requests_per_second, len(window))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if throttled:
                self._throttled += 1
            return throttled

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def count_answer(self, answer: str) -> None:
        with self._lock:
            self._answers[answer] += 1

    def count_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault] += 1

    def count_created(self, key: str) -> None:
        with self._lock:
            self._created[key] += 1

    def count_changed(self, path: str, key: tuple[str, str]) -> None:
        """A contact added, updated or deleted (`path` the endpoint's) by a request."""
        with self._lock:
            self._changed[path][key] += 1
