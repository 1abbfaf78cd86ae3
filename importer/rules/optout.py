"""An opt-out cell: does it say the person refused SMS? In English and French.

Consent decides: a cell that says yes in any usual way (`1`, `true`, `yes`, `oui`, `x`, `stop`,
`vrai`, `o`, `y`, …) opts the number out, one that says no (`0`, `false`, `no`, `non`, empty,
…) does not. Anything else (`maybe`, a date, `2`) is read as an opt-out, with a note: a number
is never sent on a guess that the person did not refuse (an unsubscription date in an
`unsubscribed` column, for one, means they did).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Cells that say "opted out", compared trimmed, without case or accents.
TRUTHY: frozenset[str] = frozenset(
    {
        "1",
        "true",
        "yes",
        "y",
        "oui",
        "o",
        "vrai",
        "v",
        "x",
        "t",
        "on",
        "stop",
        "stopped",
        "opt out",
        "opted out",
        "optout",
        "unsubscribed",
        "desabonne",
        "desinscrit",
        "blacklisted",
        "blocked",
        "bloque",
        "refus",
        "refuse",
        "excluded",
        "✓",
        "✔",
        "☑",
    }
)
#: Cells that say "not opted out". An empty cell is one.
FALSY: frozenset[str] = frozenset(
    {
        "",
        "0",
        "false",
        "no",
        "n",
        "non",
        "faux",
        "f",
        "off",
        "-",
        "none",
        "aucun",
        "subscribed",
        "abonne",
        "opt in",
        "opted in",
        "optin",
        "actif",
        "active",
        "☐",
    }
)


@dataclass(frozen=True)
class OptOut:
    """What one opt-out cell says."""

    opted_out: bool
    note: str = ""
    """Set when the cell was not a yes or a no and was read as an opt-out."""


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(folded.replace("-", " ").replace("_", " ").split())


def read_opt_out(cell: str) -> OptOut:
    """One opt-out cell -> opted out or not; an unrecognised value is an opt-out, with a note.

    A number shown as a float (`1.0`, `0.0`) reads as its whole number.
    """
    key = _key(cell)
    if key.endswith(".0") and key[:-2].isdigit():
        key = key[:-2]
    if key in TRUTHY:
        return OptOut(True)
    if key in FALSY:
        return OptOut(False)
    return OptOut(
        True, f"opt-out cell {cell.strip()!r} is neither a yes nor a no: read as opted out"
    )
