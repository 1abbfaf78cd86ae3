"""The forms the API key travels in, and masking them out of text and answers.

The key goes out in a form body only, URL-encoded (`api.forms.form_body`, i.e.
`quote_plus`). A server that quotes the request back may answer it in that form, decoded, or
encoded by `quote`: every such form is a secret. This module is a leaf: the client, the answer
classifier and the log masking all take the forms from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus

#: What a key becomes wherever it was found.
MASK = "[REDACTED]"


def key_forms(key: str) -> tuple[str, ...]:
    """`key` as is and URL-encoded (`quote_plus`, `quote`, `quote` with no safe character),
    without repeats; () for no key."""
    if not key:
        return ()
    return tuple(dict.fromkeys((key, quote_plus(key), quote(key), quote(key, safe=""))))


def mask_text(text: str, forms: Iterable[str]) -> str:
    """`text` with every one of `forms` (from `key_forms`; any order, empty ones ignored)
    replaced by `MASK`, whatever the case of its letters (as a case-insensitive `re` pattern
    pairs them): a server may re-encode with lower-case hex (`%2b`, as .NET does) or change the
    case of a whole answer. A form inside a longer one is never masked only in part. `text`
    itself when no form is in it (the common case, told by a plain search of the case-folded
    text: `casefold` maps each character on its own, where `lower` writes a Greek capital
    sigma one way at the end of a word and another inside it)."""
    masking = _masking(tuple(forms))
    return text if masking is None else _mask_text(text, masking)


def mask_bytes(data: bytes, forms: Iterable[str]) -> bytes:
    """`mask_text` on bytes (the forms in their UTF-8 encoding); `data` itself when no form
    is in it. A key of ASCII characters only (an AvoSMS key) is searched in the bytes as they
    are; any other is searched in the text they spell as UTF-8, so that its other letters'
    cases are found too (bytes patterns ignore the case of ASCII letters only)."""
    masking = _masking(tuple(forms))
    if masking is None:
        return data
    if not masking.ascii:
        text = data.decode("utf-8", "surrogateescape")
        masked = _mask_text(text, masking)
        return data if masked is text else masked.encode("utf-8", "surrogateescape")
    folded = data.lower()  # ASCII letters only, as the pattern's IGNORECASE on bytes
    if not any(form in folded for form in masking.lowered_bytes):
        return data
    return masking.bytes_pattern.sub(MASK.encode("ascii"), data)


def _mask_text(text: str, masking: _Masking) -> str:
    folded = text.casefold()
    if not any(form in folded for form in masking.folded):
        return text
    return masking.pattern.sub(MASK, text)


@dataclass(frozen=True)
class _Masking:
    """One set of forms, ready to search: case-folded for the plain search of text, lower-cased
    (ASCII letters, as `bytes.lower` does) for bytes, and as case-insensitive patterns,
    longest form first so that none is masked in part."""

    ascii: bool
    folded: tuple[str, ...]
    lowered_bytes: tuple[bytes, ...]
    pattern: re.Pattern[str]
    bytes_pattern: re.Pattern[bytes]


@lru_cache(maxsize=8)
def _masking(forms: tuple[str, ...]) -> _Masking | None:
    """The forms compiled once (a run has one key, so one entry); None for no form."""
    ordered = sorted({form for form in forms if form}, key=len, reverse=True)
    if not ordered:
        return None
    return _Masking(
        all(form.isascii() for form in ordered),
        tuple(dict.fromkeys(form.casefold() for form in ordered)),
        tuple(dict.fromkeys(form.encode("utf-8").lower() for form in ordered)),
        re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE),
        re.compile(b"|".join(re.escape(form.encode("utf-8")) for form in ordered), re.IGNORECASE),
    )
