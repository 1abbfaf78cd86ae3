"""The AvoSMS endpoints the importer and the sandbox speak: their paths and their codes.

One table, imported by the client and by the sandbox, so the two can never drift apart. The
API's `ERR_1xx` numbers are per endpoint (`ERR_103` is "unknown country" on list create and
"no such list" on contact add): a code means something only together with its endpoint.
Meanings are the API reference's own words; where the reference leaves an endpoint's codes
unconfirmed (`/contact/list`, `/contact/list/information`, `/contact/add`), the table holds what
its sibling endpoints document, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: The one code every endpoint shares: the id/key pair is not recognised.
CODE_CREDENTIALS = "ERR_100"


@dataclass(frozen=True)
class Endpoint:
    """One AvoSMS endpoint: its path below the base URL and what its `ERR_1xx` codes mean."""

    name: str
    """Short operator words for what the endpoint does (used in log lines)."""
    path: str
    """Path below the base URL, `/v1` included."""
    codes: Mapping[str, str]
    """`ERR_1xx` code -> its meaning on this endpoint (ERR_100 included)."""
    writes: bool
    """True when a request may change the account (so its answer can be lost after the fact)."""

    def meaning(self, code: str) -> str:
        """The meaning of `code` on this endpoint; `processing error` for any ERR_9xx."""
        if code in self.codes:
            return self.codes[code]
        if code.startswith("ERR_9"):
            return "processing error"
        return "unknown code"


def _codes(**codes: str) -> Mapping[str, str]:
    return MappingProxyType({"ERR_100": "API not recognized", **codes})


LIST_CREATE = Endpoint(
    "create list",
    "/v1/contact/list/create",
    _codes(
        ERR_101="list name empty",
        ERR_102="country code empty",
        ERR_103="no country matches that ISO2 code",
        ERR_104="list name not available",
    ),
    writes=True,
)

#: Unconfirmed by the reference: ERR_101 for an empty account, as on sibling list endpoints.
LIST_RETRIEVE = Endpoint(
    "read the account's lists",
    "/v1/contact/list",
    _codes(ERR_101="no contact list found"),
    writes=False,
)

#: Unconfirmed by the reference: the list-id codes of `/contact/update`.
LIST_INFORMATION = Endpoint(
    "read a list's contacts",
    "/v1/contact/list/information",
    _codes(ERR_101="list id empty", ERR_103="no list with that id"),
    writes=False,
)

_CONTACT_CODES = _codes(
    ERR_101="list id empty",
    ERR_102="phone number empty",
    ERR_103="no list with that id",
    ERR_104="no contact with this number in the list",
    ERR_105="number already present in the list",
    ERR_106="number format invalid",
    ERR_107="number's country differs from the list's country",
    ERR_108="number type not allowed",
)

#: The add page's ERR_1xx table is unreadable; the update page's table is the best guess.
CONTACT_ADD = Endpoint("add contact", "/v1/contact/add", _CONTACT_CODES, writes=True)
CONTACT_UPDATE = Endpoint("update contact", "/v1/contact/update", _CONTACT_CODES, writes=True)
CONTACT_DELETE = Endpoint(
    "delete contact",
    "/v1/contact/delete",
    _codes(
        ERR_101="list id empty",
        ERR_102="phone number empty",
        ERR_103="no list with that id",
        ERR_104="no contact with this number in the list",
    ),
    writes=True,
)

#: Every endpoint, by path.
ENDPOINTS: Mapping[str, Endpoint] = MappingProxyType(
    {
        endpoint.path: endpoint
        for endpoint in (
            LIST_CREATE,
            LIST_RETRIEVE,
            LIST_INFORMATION,
            CONTACT_ADD,
            CONTACT_UPDATE,
            CONTACT_DELETE,
        )
    }
)

#: The request fields of a contact, in the API's names, in the order the API documents them.
CONTACT_FIELDS: tuple[str, ...] = (
    "contactCivility",
    "contactName",
    "contactFirstName",
    "contactEmail",
    "contactBirthday",
    "contactOther",
)

#: The same fields as `/contact/list/information` returns them, by request field.
CONTACT_ANSWER_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "contactTelephoneNumber": "contact_telephone_number",
        "contactCivility": "contact_civility",
        "contactName": "contact_name",
        "contactFirstName": "contact_first_name",
        "contactEmail": "contact_email",
        "contactBirthday": "contact_birthday",
        "contactOther": "contact_other",
    }
)
