"""The API's requests as bodies: every endpoint takes an `application/x-www-form-urlencoded`
form (the API reference's conventions), the account's `id` and `key` first."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote_plus


def form_body(head: str, fields: Mapping[str, str]) -> str:
    """`head` (an encoded form, maybe empty) followed by `fields` encoded as `urlencode`
    writes them (`quote_plus`, UTF-8): an `application/x-www-form-urlencoded` body.

    The field names are the endpoints' few constants: each is encoded once, not per request.
    """
    encoded = [f"{_field_name(name)}={quote_plus(value)}" for name, value in fields.items()]
    return "&".join([head, *encoded] if head else encoded)


@lru_cache(maxsize=64)
def _field_name(name: str) -> str:
    return quote_plus(name)
