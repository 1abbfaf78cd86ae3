"""The sandbox server: the account, the fault draw and the counters, served on loopback."""

from __future__ import annotations

import contextlib
import hmac
import random
import signal
import threading
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from types import FrameType
from typing import Any

from importer.api.endpoints import (
    CODE_CREDENTIALS,
    CONTACT_ADD,
    CONTACT_ANSWER_FIELDS,
    CONTACT_DELETE,
    CONTACT_UPDATE,
    LIST_CREATE,
    LIST_INFORMATION,
    LIST_RETRIEVE,
    Endpoint,
)
from importer.errors import ConfigError
from importer.rules.phones import DEFAULT_NUMBER_TYPES, NumberType
from importer.sandbox.account import (
    DEMO_ID,
    DEMO_KEY,
    SEEDED_LISTS_AGE,
    Account,
    NameRule,
    SandboxList,
    country_names,
    name_key,
)
from importer.sandbox.contacts import ContactAnswer, ContactBook, SandboxContact, seed_contacts
from importer.sandbox.faults import Fault, FaultPlan
from importer.sandbox.handler import SandboxHTTPServer
from importer.sandbox.stats import SandboxStats


class SandboxServer:
    """A threaded HTTP/1.1 (keep-alive) AvoSMS server; `with SandboxServer() as s: s.url`.

    `stop()` then `start()` serves again on the same port with the same lists, so a test can
    take the API away and bring it back. All credentials in `accounts` share one account.
    `existing_contacts` are forms as `load_contacts_file` reads them; `number_types` are the
    types `/contact/add` accepts (ERR_108 for the others).
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
        existing_contacts: Iterable[dict[str, str]] = (),
        number_types: Collection[NumberType] = DEFAULT_NUMBER_TYPES,
    ) -> None:
        """`name_rule` is how the account compares list names (see `NameRule`);
        `existing_lists` are dated `SEEDED_LISTS_AGE` before now."""
        self.host = host
        self.port = port
        self._accounts = dict(accounts) if accounts is not None else {DEMO_ID: DEMO_KEY}
        self._faults = faults or FaultPlan()
        self._rng = random.Random(self._faults.seed)
        self._fault_lock = threading.Lock()
        self._account = Account(name_rule)
        self._contacts = ContactBook(self._account, number_types)
        self.stats = SandboxStats(self._account)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, country in existing_lists:
            code, _ = self._account.create(name, country, age=SEEDED_LISTS_AGE)
            if code != "OK":
                raise ConfigError(
                    f"pre-existing list {name!r} ({country}): {LIST_CREATE.meaning(code)} ({code})"
                )
        seed_contacts(self._contacts, self._account, list(existing_contacts))

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

    def delete_list(self, list_contact_id: str) -> bool:
        """Take a list away from the account (its contacts become unreachable), as an operator
        deleting it meanwhile would: later requests naming it get ERR_103."""
        return self._account.remove(list_contact_id)

    def contacts(self, list_contact_id: str) -> list[SandboxContact]:
        """A list's contacts, oldest first."""
        return self._contacts.contacts(list_contact_id)

    def start(self) -> SandboxServer:
        """Listen and serve in a daemon thread; ConfigError when the address is unusable."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        # Load now what the first requests would load (the name rule's casefold table, which
        # only a non-ASCII name builds, and the countries), before listening: done while
        # serving, it held every request that came in meanwhile, counted later all at once.
        self.name_key("Été")
        country_names()
        try:
            httpd = SandboxHTTPServer((self.host, self.port), self)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"sandbox cannot listen on {self.host}:{self.port}: {reason}"
            ) from exc
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
        """The fault for this request (None: answer normally) and a number picking its variant.

        `create` is True for a request that may change the account (create, add, update,
        delete): every fault of the plan applies; reads only get HTTP 5xx.
        """
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
            return _refused(LIST_CREATE)
        code, created = self._account.create(
            form.get("listContactName", ""), form.get("listContactCountryCode", "")
        )
        if created is None:
            return {"code": code, "status": LIST_CREATE.meaning(code)}
        self.stats.count_created(self.name_key(created.name))
        return {"code": "OK", "status": "success", "list_contact_id": created.list_contact_id}

    def retrieve(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Process a retrieve-lists request; ERR_101 for an empty account, like sibling lists."""
        if not self.authorized(form):
            return _refused(LIST_RETRIEVE)
        lists = self._account.lists()
        if not lists:
            return {"code": "ERR_101", "status": LIST_RETRIEVE.meaning("ERR_101")}
        names = country_names()
        return {
            "code": "OK",
            "status": "success",
            "list_contact": [
                {
                    "list_contact_id": x.list_contact_id,
                    "list_contact_name": x.name,
                    "list_contact_country_name": names[x.country_code],
                    "list_contact_country_code": x.country_code,
                    "nb_contact_list": str(self._contacts.count(x.list_contact_id)),
                    "list_contact_creation_date": x.creation_date,
                }
                for x in lists
            ],
        }

    def information(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Process `/contact/list/information`: the list's metadata and all its contacts."""
        if not self.authorized(form):
            return _refused(LIST_INFORMATION)
        list_id = form.get("listContactId", "").strip()
        target = self._account.by_id(list_id) if list_id else None
        if target is None:
            code = "ERR_103" if list_id else "ERR_101"
            return {"code": code, "status": LIST_INFORMATION.meaning(code)}
        contacts = self._contacts.contacts(list_id)
        return {
            "code": "OK",
            "status": "success",
            "list_contact_name": target.name,
            "list_contact_country_name": country_names()[target.country_code],
            "list_contact_country_code": target.country_code,
            "nb_contact_list": str(len(contacts)),
            "list_contact_creation_date": target.creation_date,
            "list_contact": [
                {
                    CONTACT_ANSWER_FIELDS["contactTelephoneNumber"]: contact.number,
                    **{CONTACT_ANSWER_FIELDS[name]: v for name, v in contact.fields.items()},
                }
                for contact in contacts
            ],
        }

    def contact(self, endpoint: Endpoint, form: Mapping[str, str]) -> dict[str, str]:
        """Process `/contact/add`, `/contact/update` or `/contact/delete`; the API's answer."""
        if not self.authorized(form):
            return _refused(endpoint)
        change: Callable[[Mapping[str, str]], ContactAnswer] = {
            CONTACT_ADD.path: self._contacts.add,
            CONTACT_UPDATE.path: self._contacts.update,
            CONTACT_DELETE.path: self._contacts.delete,
        }[endpoint.path]
        answer = change(form)
        if answer.code == "OK" and answer.changed:
            self.stats.count_changed(endpoint.path, (answer.list_contact_id, answer.e164))
        if answer.code != "OK":
            return {"code": answer.code, "status": endpoint.meaning(answer.code)}
        return {"code": "OK", "status": "success"}

    def process(self, endpoint: Endpoint, form: Mapping[str, str]) -> dict[str, Any]:
        """Process one request to `endpoint` (no fault); the API's JSON answer."""
        if endpoint is LIST_CREATE:
            return self.create(form)
        if endpoint is LIST_RETRIEVE:
            return self.retrieve(form)
        if endpoint is LIST_INFORMATION:
            return self.information(form)
        return self.contact(endpoint, form)

    def request_key(self, endpoint: Endpoint, form: Mapping[str, str]) -> Hashable | None:
        """What the counters count a request by: a list name, a list id, or (list id, number)."""
        if endpoint is LIST_CREATE:
            return self.name_key(form.get("listContactName", ""))
        if endpoint is LIST_INFORMATION:
            return form.get("listContactId", "").strip()
        if endpoint is LIST_RETRIEVE:
            return None
        return self._contacts.key(form)


def _refused(endpoint: Endpoint) -> dict[str, str]:
    return {"code": CODE_CREDENTIALS, "status": endpoint.meaning(CODE_CREDENTIALS)}


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultPlan | None = None,
    existing_lists: Iterable[tuple[str, str]] = (),
    ready: Callable[[str], None] | None = None,
    *,
    existing_contacts: Iterable[dict[str, str]] = (),
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
        existing_contacts=existing_contacts,
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
