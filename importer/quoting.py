"""Untrusted text (headers, sheet names, other libraries' errors) quoted in one-line messages:
on one line, cut short, since hostile files have huge cells."""

from __future__ import annotations

import json
from collections.abc import Sequence


def quote(text: str, limit: int = 40) -> str:
    """A header or sheet name quoted on one line, cut short: hostile files have huge cells."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def brief(error: BaseException) -> str:
    """Another library's message, kept to one short line."""
    return " ".join(str(error).split())[:200]


def quote_all(texts: Sequence[str], limit: int = 20) -> str:
    """Headers or sheet names, each quoted, the first `limit` of them; "none" when empty."""
    shown = ", ".join(quote(text) for text in texts[:limit])
    more = f" and {len(texts) - limit} more" if len(texts) > limit else ""
    return shown + more or "none"
