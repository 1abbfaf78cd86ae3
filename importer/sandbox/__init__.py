"""The project's own AvoSMS server, on loopback, for tests, demos and benchmarks.

It speaks the list and contact endpoints of `importer.api.endpoints` (the same table the
client uses), as the API reference describes them (form-encoded POST, JSON answers with `code`
and `status`), and can misbehave on purpose in every way a remote API does, drawn from a seeded
random generator so a test sees the same faults for the same request order. Its counters prove
what the importer did: how many create requests per name and add requests per list and number,
how many lists and contacts really created, the busiest one-second window, the most requests in
flight.

Only the standard library, pycountry (the ISO2 check) and phonenumbers (the number checks, with
the importer's own phone rules) run on the server side, plus, under the default
`NameRule.IMPORTER`, the importer's own "same list name" rule
(`importer.normalize.same_name_key`), loaded when the server starts.

Faults and the endpoints:

- writes (`/contact/list/create`, `/contact/add`, `/contact/update`, `/contact/delete`): every
  fault of the `FaultPlan`; a lost answer is lost after the change was made.
- reads (`/contact/list`, `/contact/list/information`): latency, HTTP 5xx, `fail_everything` and
  the 429 rate limit only. Lost answers make no sense for a read, so ERR_9xx, timeouts, dropped
  connections and garbage are kept for writes, where the row-by-row guarantees are tested.
"""

from importer.sandbox.account import (
    CREATE_PATH,
    DEMO_ID,
    DEMO_KEY,
    FIRST_LIST_ID,
    LIST_PATH,
    NameRule,
    SandboxList,
    load_lists_file,
    name_key,
)
from importer.sandbox.contacts import SandboxContact, load_contacts_file
from importer.sandbox.faults import Fault, FaultPlan
from importer.sandbox.server import SandboxServer, run_sandbox
from importer.sandbox.stats import SandboxStats

__all__ = [
    "CREATE_PATH",
    "DEMO_ID",
    "DEMO_KEY",
    "FIRST_LIST_ID",
    "LIST_PATH",
    "Fault",
    "FaultPlan",
    "NameRule",
    "SandboxContact",
    "SandboxList",
    "SandboxServer",
    "SandboxStats",
    "load_contacts_file",
    "load_lists_file",
    "name_key",
    "run_sandbox",
]
