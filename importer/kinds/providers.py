"""Other SMS providers' contact exports, as data: each header with its provider and meaning.

One table, `PROVIDER_HEADERS`, read by `importer.kinds.roles` (recognition, `--preset`) and
rendered in the README ("Migrating from another provider"). The headers are those of each
provider's contact export and API field names. A header whose meaning is the account
owner's (`param1`, `info1`, `custom1`: free fields), or that two tables read differently
(`name`: the list in one export, the person in others), is never guessed: `--map HEADER=ROLE`
names it, or `--preset NAME` picks one provider's reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ProviderHeader:
    """One header of one provider's export, and what it holds."""

    provider: str
    """The preset's name (`--preset`), lower case."""
    header: str
    """As the provider writes it."""
    role: str | None
    """A contacts role (`importer.kinds.roles.Role` value), or None: a free field whose meaning
    the account owner chose, or a reading shared by no other table: never guessed."""
    note: str = ""
    """What the header holds, when the role does not say it (shown in messages)."""


def _free(provider: str, prefix: str, numbers: range, what: str) -> tuple[ProviderHeader, ...]:
    return tuple(ProviderHeader(provider, f"{prefix}{n}", None, what) for n in numbers)


#: The providers' display names, by preset name.
PROVIDERS: Mapping[str, str] = MappingProxyType(
    {
        "octopush": "Octopush",
        "smsfactor": "SMSFactor",
        "smspartner": "SMS Partner",
        "brevo": "Brevo",
        "textmagic": "Textmagic",
        "clicksend": "ClickSend",
        "messagebird": "MessageBird",
    }
)

#: Every provider header the importer knows. Headers are compared like any header (case,
#: accents, spaces and punctuation ignored: `phone_number` is `phoneNumber`).
PROVIDER_HEADERS: tuple[ProviderHeader, ...] = (
    ProviderHeader("octopush", "phone_number", "phone"),
    ProviderHeader("octopush", "first_name", "first_name"),
    ProviderHeader("octopush", "last_name", "last_name"),
    *_free("octopush", "param", range(1, 6), "a free parameter"),
    ProviderHeader("smsfactor", "value", "phone"),
    ProviderHeader("smsfactor", "destination", "phone"),
    ProviderHeader("smsfactor", "name", "list_name", "the list's name"),
    *_free("smsfactor", "info", range(1, 5), "a free information"),
    ProviderHeader("smspartner", "phoneNumber", "phone"),
    ProviderHeader("smspartner", "firstname", "first_name"),
    ProviderHeader("smspartner", "lastname", "last_name"),
    *_free("smspartner", "custom", range(1, 5), "a free field"),
    ProviderHeader("smspartner", "stopSms", "opt_out"),
    ProviderHeader("brevo", "SMS", "phone"),
    ProviderHeader("brevo", "FIRSTNAME", "first_name"),
    ProviderHeader("brevo", "LASTNAME", "last_name"),
    ProviderHeader("brevo", "EMAIL", "email"),
    ProviderHeader("brevo", "smsBlacklisted", "opt_out"),
    ProviderHeader("textmagic", "phone", "phone"),
    ProviderHeader("textmagic", "firstName", "first_name"),
    ProviderHeader("textmagic", "lastName", "last_name"),
    ProviderHeader("textmagic", "blocked", "opt_out"),
    ProviderHeader("clicksend", "phone_number", "phone"),
    ProviderHeader("clicksend", "first_name", "first_name"),
    ProviderHeader("clicksend", "last_name", "last_name"),
    *_free("clicksend", "custom_", range(1, 5), "a free field"),
    ProviderHeader("messagebird", "msisdn", "phone"),
    ProviderHeader("messagebird", "firstName", "first_name"),
    ProviderHeader("messagebird", "lastName", "last_name"),
)

#: Headers every other export reads otherwise than a provider's table: a CRM's `name` is the
#: person's name (AvoSMS has no field for a full name), SMSFactor's is the list's.
SHARED_READINGS: tuple[ProviderHeader, ...] = (
    ProviderHeader("", "name", None, "a person's full name in most exports"),
)
