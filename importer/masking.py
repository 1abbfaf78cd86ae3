"""The forms the API key travels in, and masking them out of text and answers.

The key goes out in a form body only, URL-encoded (`urllib.parse.urlencode`, i.e.
`quote_plus`). A server that quotes the request back may answer it in that form, decoded, or
encoded by `quote`: every such form is a secret. This module is a leaf: the client, the answer
classifier and the log masking all take the forms from here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote, quote_plus

#: What a key becomes wherever it was found.
MASK = "[REDACTED]"


def key_forms(key: str) -> tuple[str, ...]:
    """`key` as is and URL-encoded (`quote_plus`, `quote`, `quote` with no safe character),
    without repeats, longest first so that no form is masked only in part; () for no key."""
    if not key:
        return ()
    forms = dict.fromkeys((key, quote_plus(key), quote(key), quote(key, safe="")))
    return tuple(sorted(forms, key=len, reverse=True))


def mask_text(text: str, forms: Sequence[str]) -> str:
    """`text` with every one of `forms` (from `key_forms`) replaced by `MASK`, whatever the
    case of its letters: a server may re-encode with lower-case hex (`%2b`, as .NET does) or
    lower-case a whole answer. `text` itself when no form is in it (the common case, told by
    a plain search of the lower-cased text)."""
    if not forms:
        return text
    folded = text.lower()
    lowered = _lowered(tuple(forms))
    if not any(form in text or low in folded for form, low in zip(forms, lowered, strict=True)):
        return text
    return _pattern(tuple(forms)).sub(MASK, text)


def mask_bytes(data: bytes, forms: Sequence[str]) -> bytes:
    """`mask_text` on bytes (the forms in their UTF-8 encoding); `data` itself when no form
    is in it."""
    if not forms:
        return data
    folded = data.lower()  # ASCII letters only, as the pattern's IGNORECASE on bytes
    lowered = _lowered(tuple(forms))
    if not any(
        form.encode("utf-8") in data or low.encode("utf-8") in folded
        for form, low in zip(forms, lowered, strict=True)
    ):
        return data
    return _bytes_pattern(tuple(forms)).sub(MASK.encode("ascii"), data)


@lru_cache(maxsize=8)
def _lowered(forms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(form.lower() for form in forms)


@lru_cache(maxsize=8)
def _pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, forms)), re.IGNORECASE)


@lru_cache(maxsize=8)
def _bytes_pattern(forms: tuple[str, ...]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(form.encode("utf-8")) for form in forms), re.IGNORECASE)
