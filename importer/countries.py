"""Countries: what a country cell means, as an ISO 3166-1 alpha-2 code, or why it means none.

Country matching folds the cell (case, accents, punctuation, articles, invisible characters)
and looks it up in a table built once from pycountry: ISO2 and ISO3 codes, the English names
(short, official, common), their French translations, and a small table of usual aliases
(`UK`, `Holland`, `Deutschland`, the EU's `EL`). A value that matches nothing, or that matches
several countries equally well (`Korea`), is not guessed: the caller marks the row `invalid`
with the reason given here. Codes ISO does not assign (`XK`, Kosovo) are said to be so.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from importer.text import drop_invisible

__all__ = [
    "COUNTRY_ALIASES",
    "NOT_ISO_COUNTRIES",
    "country_code_for",
    "fold_country",
    "resolve_country",
    "resolve_country_array",
]

_TEXT = pa.large_string()

#: Usual names that neither ISO 3166 nor its French translation spell this way.
COUNTRY_ALIASES: dict[str, str] = {
    # United Kingdom and its nations: AvoSMS knows only GB.
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Grande-Bretagne": "GB",
    "Angleterre": "GB",
    "Écosse": "GB",
    "Pays de Galles": "GB",
    "Irlande du Nord": "GB",
    "United States of America": "US",
    "America": "US",
    "Amérique": "US",
    "Holland": "NL",
    "Hollande": "NL",
    "Russia": "RU",
    "Corée du Sud": "KR",
    "Corée du Nord": "KP",
    "Vietnam": "VN",
    "Syrie": "SY",
    "Moldavie": "MD",
    "Czech Republic": "CZ",
    "République tchèque": "CZ",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Macédoine": "MK",
    "Swaziland": "SZ",
    "Burma": "MM",
    "Cape Verde": "CV",
    "Vatican": "VA",
    "Vatican City": "VA",
    "Cité du Vatican": "VA",
    "Turkey": "TR",
    "East Timor": "TL",
    "Brunei": "BN",
    "DRC": "CD",
    "DR Congo": "CD",
    "RDC": "CD",
    "Congo-Kinshasa": "CD",
    "Congo-Brazzaville": "CG",
    "UAE": "AE",
    "EAU": "AE",
    "Emirates": "AE",
    "Bosnia": "BA",
    "Saint Kitts": "KN",
    "Saint Vincent": "VC",
    # pycountry's French "Saint-Martin (partie néerlandaise)" would make this one ambiguous;
    # Saint-Martin is the French part's name in every language, the Dutch one is Sint Maarten.
    "Saint-Martin": "MF",
    "Falklands": "FK",
    # Names in the country's own language that are common in exported files.
    "Deutschland": "DE",
    "España": "ES",
    "Italia": "IT",
    "Schweiz": "CH",
    "Svizzera": "CH",
    "Österreich": "AT",
    "Nederland": "NL",
    "België": "BE",
    "Brasil": "BR",
    "Polska": "PL",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Suomi": "FI",
    "Hellas": "GR",
    "Hrvatska": "HR",
    "Nippon": "JP",
    # The EU's own code for Greece (Eurostat, EU documents); ISO 3166 says GR.
    "EL": "GR",
}

#: Codes and names in common use that ISO 3166-1 does not assign: never guessed, always said.
NOT_ISO_COUNTRIES: dict[str, str] = {
    "XK": "Kosovo",
    "Kosovo": "Kosovo",
    "Kosova": "Kosovo",
}

# Words that carry nothing when telling countries apart: "The Gambia", "Republic of the
# Congo", "Trinidad & Tobago", "Saint-Vincent-et-les-Grenadines", "Côte d'Ivoire".
_STOPWORDS = frozenset({"the", "of", "and", "de", "du", "des", "la", "le", "les", "l", "d", "et"})
_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})
_DOTS = re.compile(r"\.")
_NOT_WORD = re.compile(r"[\W_]+")


def fold_country(text: str) -> str:
    """The form country values are compared in: `Côte d'Ivoire` → `cote ivoire`.

    Casefolded, accents and ligatures dropped, dots removed (`U.S.A.` → `usa`), other
    punctuation (hyphens, apostrophes, commas) as spaces, `St`/`Ste` spelled out, and the
    small words (`the`, `of`, `and`, `de`, `la`, `et`…) left out unless nothing else is
    left, so `LA` stays Laos.
    """
    decomposed = unicodedata.normalize("NFKD", drop_invisible(text, keep_joiners=False).casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NOT_WORD.sub(" ", _DOTS.sub("", bare.translate(_LIGATURES))).split()
    if len(words) > 1:
        words = [_ABBREVIATIONS.get(word, word) for word in words]
        words = [word for word in words if word not in _STOPWORDS] or words
    return " ".join(words)


@dataclass(frozen=True)
class _CountryTable:
    """Folded value → ISO2, and the folded values that name several countries."""

    codes: dict[str, str]
    ambiguous: dict[str, tuple[str, ...]]


def _variants(name: str) -> Iterator[tuple[int, str]]:
    """Derived spellings of an ISO name, with their tier (lower wins a clash).

    `Korea, Republic of` → `Republic of Korea` (tier 3) and `Korea` (tier 4); `Holy See
    (Vatican City State)` → `Holy See` (tier 3).
    """
    no_parens = re.sub(r"\s*\([^)]*\)", "", name).strip()
    for base in {name, no_parens}:
        if base != name:
            yield 3, base
        head, comma, tail = base.partition(", ")
        if comma:
            yield 3, f"{tail} {head}"
            yield 4, head


@cache
def _country_table() -> _CountryTable:
    """Built once: ~250 countries x a dozen spellings."""
    translate: Callable[[str], str]
    try:
        french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
        translate = french.gettext
    except OSError:  # pragma: no cover - pycountry ships its translations
        translate = str
    # tier 0: ISO2, 1: ISO3, 2: names and aliases, 3-4: derived spellings (see _variants).
    tiers: list[dict[str, set[str]]] = [defaultdict(set) for _ in range(5)]
    for country in pycountry.countries:
        code = country.alpha_2
        tiers[0][fold_country(code)].add(code)
        tiers[1][fold_country(country.alpha_3)].add(code)
        names = [getattr(country, attr, None) for attr in ("name", "official_name", "common_name")]
        for english in filter(None, names):
            for name in (english, translate(english)):
                tiers[2][fold_country(name)].add(code)
                for rank, variant in _variants(name):
                    tiers[rank][fold_country(variant)].add(code)
    for alias, code in COUNTRY_ALIASES.items():
        tiers[2][fold_country(alias)].add(code)
    codes: dict[str, str] = {}
    ambiguous: dict[str, tuple[str, ...]] = {}
    for tier in tiers:
        for key, found in tier.items():
            if key and key not in codes and key not in ambiguous:
                if len(found) == 1:
                    codes[key] = next(iter(found))
                else:
                    ambiguous[key] = tuple(sorted(found))
    return _CountryTable(codes, ambiguous)


@cache
def _not_iso() -> dict[str, str]:
    return {fold_country(value): name for value, name in NOT_ISO_COUNTRIES.items()}


def _quote(value: str, limit: int = 60) -> str:
    shown = " ".join(value.split())
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return f'"{shown}"'


@lru_cache(maxsize=65536)
def resolve_country(value: str) -> tuple[str | None, str]:
    """(ISO2, "") when found; ("", "") when empty; (None, why not) otherwise."""
    if not value.strip():
        return "", ""
    key = fold_country(value)
    table = _country_table()
    code = table.codes.get(key)
    if code is not None:
        return code, ""
    territory = _not_iso().get(key)
    if territory is not None:
        return None, (
            f"country {_quote(value)} is not an ISO 3166 country ({territory} has no ISO code, "
            "and AvoSMS takes ISO codes only): choose another country, or leave the row out"
        )
    choices = table.ambiguous.get(key)
    if choices:
        return None, (
            f"country {_quote(value)} could be {' or '.join(choices)}: write its ISO code"
        )
    return None, (
        f"country {_quote(value)} is not a country code or name we know: "
        "write its ISO code, e.g. FR"
    )


def country_code_for(value: str) -> str | None:
    """ISO2 for one country cell: the code, "" when empty, None when unknown or ambiguous."""
    return resolve_country(value)[0]


def resolve_country_array(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(ISO2 or "" or null per row, the reason per row when null), by distinct value."""
    encoded = pc.dictionary_encode(values)
    found = [resolve_country(value) for value in encoded.dictionary.to_pylist()]
    codes = pa.array([code for code, _ in found], _TEXT).take(encoded.indices)
    reasons = pa.array([reason for _, reason in found], _TEXT).take(encoded.indices)
    return codes, reasons
