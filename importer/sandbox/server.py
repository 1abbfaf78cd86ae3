"""The sandbox server: the account, the fault draw and the counters, served on loopback."""

from __future__ import annotations

import contextlib
import hmac
import random
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import Any

from importer.errors import ConfigError
from importer.sandbox.account import (
    _CREATE_STATUS,
    DEMO_ID,
    DEMO_KEY,
    SEEDED_LISTS_AGE,
    NameRule,
    SandboxList,
    _Account,
    _country_names,
    name_key,
)
from importer.sandbox.faults import Fault, FaultPlan
from importer.sandbox.handler import _HTTPServer
from importer.sandbox.stats import SandboxStats


class SandboxServer:
    """A threaded HTTP/1.1 (keep-alive) AvoSMS server; `with SandboxServer() as s: s.url`.

    `stop()` then `start()` serves again on the same port with the same lists, so a test can
    take the API away and bring it back. All credentials in `accounts` share one account.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultPlan | None = None,
        accounts: Mapping[str, str] | None = None,
        existing_lists: Iterable[tuple[str, str]] = (),
        name_rule: NameRule = NameRule.IMPORTER,
    ) -> None:
        """`name_rule` is how the account compares list names (see `NameRule`);
        `existing_lists` are dated `SEEDED_LISTS_AGE` before now."""
        self.host = host
        self.port = port
        self._accounts = dict(accounts) if accounts is not None else {DEMO_ID: DEMO_KEY}
        self._faults = faults or FaultPlan()
        self._rng = random.Random(self._faults.seed)
        self._fault_lock = threading.Lock()
        self._account = _Account(name_rule)
        self.stats = SandboxStats(self._account)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, country in existing_lists:
            code, _ = self._account.create(name, country, age=SEEDED_LISTS_AGE)
            if code != "OK":
                raise ConfigError(
                    f"pre-existing list {name!r} ({country}): {_CREATE_STATUS[code]} ({code})"
                )

    @property
    def url(self) -> str:
        """Base URL, without /v1, e.g. ``http://127.0.0.1:54321``."""
        if not self.port:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    def set_faults(self, faults: FaultPlan) -> None:
        """Swap the fault plan while serving; the generator restarts from the new seed."""
        with self._fault_lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def lists(self) -> list[SandboxList]:
        """The account's lists, oldest first."""
        return self._account.lists()

    def start(self) -> SandboxServer:
        """Listen and serve in a daemon thread; ConfigError when the address is unusable."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        try:
            httpd = _HTTPServer((self.host, self.port), self)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"sandbox cannot listen on {self.host}:{self.port}: {reason}"
            ) from exc
        self.name_key("")  # load the name rule now, not on the first request
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"avosms-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (idle keep-alive ones included)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Used by the request handler.

    def draw(self, plan: FaultPlan, *, create: bool) -> tuple[Fault | None, int]:
        """The fault for this request (None: answer normally) and a number picking its variant."""
        with self._fault_lock:
            u = self._rng.random()
            shares = plan.shares() if create else ((Fault.HTTP_5XX, plan.http_5xx_rate),)
            for fault, rate in shares:
                if u < rate:
                    return fault, self._rng.randrange(1 << 30)
                u -= rate
            return None, 0

    def name_key(self, name: str) -> str:
        """The account's key for a list name, under its `NameRule` (the counters use it)."""
        return name_key(name, self._account.rule)

    def authorized(self, form: Mapping[str, str]) -> bool:
        expected = self._accounts.get(form.get("id", ""))
        return expected is not None and hmac.compare_digest(
            expected.encode(), form.get("key", "").encode()
        )

    def create(self, form: Mapping[str, str]) -> dict[str, str]:
        """Process a create request; the API's JSON answer."""
        if not self.authorized(form):
            return {"code": "ERR_100", "status": _CREATE_STATUS["ERR_100"]}
        code, created = self._account.create(
            form.get("listContactName", ""), form.get("listContactCountryCode", "")
        )
        if created is None:
            return {"code": code, "status": _CREATE_STATUS[code]}
        self.stats.count_created(self.name_key(created.name))
        return {"code": "OK", "status": "success", "list_contact_id": created.list_contact_id}

    def retrieve(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Process a retrieve-lists request; ERR_101 for an empty account, like sibling lists."""
        if not self.authorized(form):
            return {"code": "ERR_100", "status": _CREATE_STATUS["ERR_100"]}
        lists = self._account.lists()
        if not lists:
            return {"code": "ERR_101", "status": "no contact list found"}
        names = _country_names()
        return {
            "code": "OK",
            "status": "success",
            "list_contact": [
                {
                    "list_contact_id": x.list_contact_id,
                    "list_contact_name": x.name,
                    "list_contact_country_name": names[x.country_code],
                    "list_contact_country_code": x.country_code,
                    "nb_contact_list": "0",
                    "list_contact_creation_date": x.creation_date,
                }
                for x in lists
            ],
        }


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultPlan | None = None,
    existing_lists: Iterable[tuple[str, str]] = (),
    ready: Callable[[str], None] | None = None,
    *,
    accounts: Mapping[str, str] | None = None,
    stop_event: threading.Event | None = None,
    name_rule: NameRule = NameRule.IMPORTER,
) -> dict[str, Any]:
    """Serve until Ctrl-C, SIGTERM or `stop_event`; the final counters (`stats.snapshot()`).

    `ready(url)` is called once the port is open (the CLI prints the URL and credentials).
    """
    server = SandboxServer(
        host,
        port,
        faults=faults,
        accounts=accounts,
        existing_lists=existing_lists,
        name_rule=name_rule,
    )
    stop = stop_event or threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous: Any = None
    if in_main_thread:

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        server.start()
        if ready is not None:
            ready(server.url)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.2):
                pass
    finally:
        server.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return server.stats.snapshot()
