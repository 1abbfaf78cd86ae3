"""Header roles of a contacts file, as data: which headers mean which field, and the kind.

Headers are compared like list files' headers (`importer.read.header_key`: case, accents,
spaces and punctuation ignored). In a contacts file a bare `nom` is the person's last name,
never the list. Only unambiguous phone headers make a file a contacts file; `numéro`,
`number` and `n°` count as the phone once the kind is known to be contacts (a lists file often
has a row-number column). An explicit mapping (`--map HEADER=ROLE`) wins over recognition.
Other providers' headers come from `importer.kinds.providers`: a header two tables read
differently, or a provider's free field, is never guessed unless `--preset` picks a table.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from importer.errors import ConfigError, InputError
from importer.kinds.providers import PROVIDER_HEADERS, PROVIDERS, SHARED_READINGS, ProviderHeader
from importer.read import header_key


class Kind(StrEnum):
    """What a file imports (`--kind`, job key `kind`)."""

    LISTS = "lists"
    CONTACTS = "contacts"


class Role(StrEnum):
    """A column's meaning in a contacts file; the value is its results-file column."""

    LIST_NAME = "list_name"
    COUNTRY = "country"
    PHONE = "phone"
    CIVILITY = "civility"
    LAST_NAME = "last_name"
    FIRST_NAME = "first_name"
    EMAIL = "email"
    BIRTHDAY = "birthday"
    OTHER = "other"
    OPT_OUT = "opt_out"
    """Never sent: a yes/no column saying the person opted out (`importer.rules.optout`)."""
    OUTCOME = "outcome"
    """A results file of ours read back (the undo of a sync): its opted-out rows stay out
    (`importer.kinds.exclusions.opted_out_results`)."""
    RESULT_CODE = "code"
    """A results file's `code`, read only next to an `outcome` column (a removal of an
    opted-out number is `deleted` with code `OPTED_OUT`)."""


#: The optional fields of a contact, in the API's order.
OPTIONAL_ROLES: tuple[Role, ...] = (
    Role.CIVILITY,
    Role.LAST_NAME,
    Role.FIRST_NAME,
    Role.EMAIL,
    Role.BIRTHDAY,
    Role.OTHER,
)

#: Header spellings per role: English, French and the API's own field names.
ROLE_ALIASES: Mapping[Role, tuple[str, ...]] = MappingProxyType(
    {
        Role.LIST_NAME: (
            "liste",
            "nom de la liste",
            "nom liste",
            "nom de liste",
            "list",
            "list name",
            "contact list",
            "groupe",
            "nom du groupe",
            "group",
            "group name",
            "listContactName",
            "list_contact_name",
        ),
        Role.COUNTRY: (
            "pays",
            "code pays",
            "country",
            "country code",
            "iso",
            "iso2",
            "listContactCountryCode",
            "list_contact_country_code",
        ),
        Role.PHONE: (
            "téléphone",
            "telephone",
            "tél",
            "tel",
            "numéro de téléphone",
            "téléphone mobile",
            "téléphone portable",
            "mobile",
            "portable",
            "gsm",
            "phone",
            "phone number",
            "mobile phone",
            "mobile number",
            "cell",
            "cell phone",
            "msisdn",
            "contactTelephoneNumber",
            "contact_telephone_number",
        ),
        Role.CIVILITY: ("civilité", "civility", "title", "titre", "contactCivility"),
        Role.LAST_NAME: (
            "nom",
            "nom de famille",
            "last name",
            "lastname",
            "surname",
            "family name",
            "contactName",
            "contact_name",
        ),
        Role.FIRST_NAME: (
            "prénom",
            "first name",
            "firstname",
            "given name",
            "contactFirstName",
            "contact_first_name",
        ),
        Role.EMAIL: (
            "email",
            "e-mail",
            "mail",
            "courriel",
            "adresse e-mail",
            "adresse email",
            "email address",
            "contactEmail",
            "contact_email",
        ),
        Role.BIRTHDAY: (
            "date de naissance",
            "né le",
            "birthday",
            "birth date",
            "date of birth",
            "dob",
            "contactBirthday",
            "contact_birthday",
        ),
        Role.OTHER: (
            "autre",
            "other",
            "notes",
            "note",
            "commentaire",
            "commentaires",
            "comment",
            "remarque",
            "contactOther",
            "contact_other",
        ),
        Role.OPT_OUT: (
            "stop",
            "stop sms",
            "opt out",
            "opted out",
            "optout",
            "unsubscribed",
            "désabonné",
            "désinscrit",
            "désabonnement",
            "blacklisted",
            "blacklist",
            "liste noire",
            "blocked",
            "bloqué",
        ),
        Role.OUTCOME: ("outcome",),
        Role.RESULT_CODE: ("code",),
    }
)

#: Phone headers that only count once the kind is contacts.
WEAK_PHONE_ALIASES: tuple[str, ...] = ("numéro", "numero", "number", "n°", "no", "num")

_WEAK_PHONE_KEYS = frozenset(map(header_key, WEAK_PHONE_ALIASES))

#: Words that make a header something else than a number to text, whatever phone word it
#: holds (`Tél. fixe`, `Fax`, `Tél. domicile`): a landline or a fax never receives an SMS.
NOT_PHONE_WORDS: tuple[str, ...] = (
    "fax",
    "fixe",
    "landline",
    "domicile",
    "bureau",
    "home",
    "office",
)

#: The phone words: the phone aliases of one plain word (`tél`, `mobile`, `portable`, `gsm`).
_PHONE_WORDS = frozenset(
    header_key(alias) for alias in ROLE_ALIASES[Role.PHONE] if alias.isalpha() and alias.islower()
)
_NOT_PHONE_WORDS = frozenset(map(header_key, NOT_PHONE_WORDS))
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def header_words(text: str) -> list[str]:
    """A header's words, compared like header keys: `N° de Tél.` -> n, de, tel;
    `mobilePhone` -> mobile, phone."""
    spaced = unicodedata.normalize("NFKD", _CAMEL.sub(" ", text)).casefold()
    plain = "".join(ch if ch.isalnum() else " " for ch in spaced if not unicodedata.combining(ch))
    return plain.split()


@cache
def _readings(preset: str | None) -> dict[str, tuple[ProviderHeader, ...]]:
    """Header key -> every table's reading of it: ours (provider ""), the providers', the
    shared ones. With a preset, that provider's readings replace the others' for its keys."""
    ours = [
        ProviderHeader("", alias, role.value)
        for role, aliases in ROLE_ALIASES.items()
        for alias in aliases
    ]
    found: dict[str, list[ProviderHeader]] = {}
    for entry in (*ours, *PROVIDER_HEADERS, *SHARED_READINGS):
        found.setdefault(header_key(entry.header), []).append(entry)
    if preset is not None:
        for key, entries in found.items():
            chosen = [entry for entry in entries if entry.provider == preset]
            if chosen:
                found[key] = chosen
    return {key: tuple(entries) for key, entries in found.items()}


@cache
def recognised_keys(preset: str | None = None) -> Mapping[Role, frozenset[str]]:
    """Role -> the header keys read as that role: those every table reading them agrees on."""
    keys: dict[Role, set[str]] = {role: set() for role in Role}
    for key, entries in _readings(preset).items():
        roles = {entry.role for entry in entries}
        if len(roles) == 1 and entries[0].role is not None:
            keys[Role(entries[0].role)].add(key)
    return MappingProxyType({role: frozenset(found) for role, found in keys.items()})


@cache
def undecided_keys(preset: str | None = None) -> Mapping[str, str]:
    """Header key -> why it is not guessed: what each table says it holds."""
    undecided = {}
    for key, entries in _readings(preset).items():
        if len({entry.role for entry in entries}) == 1 and entries[0].role is not None:
            continue
        readings: dict[str, list[str]] = {}
        for entry in entries:
            who = readings.setdefault(entry.note or f"the {entry.role}", [])
            if entry.provider:
                who.append(PROVIDERS[entry.provider])
        undecided[key] = "; ".join(
            f"{what} ({', '.join(who)})" if who else what for what, who in readings.items()
        )
    return MappingProxyType(undecided)


def phone_headers(preset: str | None = None) -> tuple[str, ...]:
    """Header keys read as the phone, with `preset`'s table (strong ones: they tell the kind)."""
    return tuple(sorted(recognised_keys(preset)[Role.PHONE]))


def check_preset(name: str) -> str:
    """A `--preset` value, lower case and without spaces; ConfigError listing the presets."""
    key = header_key(name)
    if key not in PROVIDERS:
        raise ConfigError(f"unknown preset {name!r}; presets are {', '.join(PROVIDERS)}")
    return key


_KEYS = recognised_keys()


def detect_kind(header: Sequence[str], explicit: Kind | None = None) -> Kind:
    """The kind of a file from its header row: contacts when a phone column is recognised.

    `explicit` (`--kind`) wins; only unambiguous phone headers count (not `numéro`).
    """
    if explicit is not None:
        return explicit
    return Kind.CONTACTS if phone_header(header) is not None else Kind.LISTS


def is_phone_header(header: str, preset: str | None = None) -> bool:
    """Whether a header is unambiguously the phone (it tells a contacts file).

    Its key is a phone alias (with `preset`'s table), or one of its words is a phone word
    (`Tél. portable`, `N° de téléphone`, `Mobile perso`, `Téléphone 1`) and it is not a
    header of another role, one no table agrees on, or a landline's or fax's
    (`NOT_PHONE_WORDS`). A weak header alone (`numéro`, `n°`) is not.
    """
    key = header_key(header)
    known = recognised_keys(preset)
    if key in known[Role.PHONE]:
        return True
    if key in undecided_keys(preset) or any(key in keys for keys in known.values()):
        return False
    words = set(header_words(header))
    return bool(words & _PHONE_WORDS) and not words & _NOT_PHONE_WORDS


def phone_header(header: Sequence[str]) -> str | None:
    """The first unambiguous phone header of a header row (`téléphone`, not `numéro`)."""
    return next((cell.strip() for cell in header if is_phone_header(cell)), None)


def is_weak_phone(header: str) -> bool:
    """Whether a header counts as the phone only in a contacts file (`numéro`, `n°`)."""
    return header_key(header) in _WEAK_PHONE_KEYS


def map_hint(option: str, role: str, header: str = "HEADER") -> str:
    """How to give a column's role with the option the operator uses (`importer.job.map_option`):
    `--map HEADER=phone` on the command line, `columns: {HEADER: phone}` in a job file."""
    if option.startswith("--"):
        return f'{option} "{header}={role}"' if header != "HEADER" else f"{option} {header}={role}"
    return f"{option} {{{header}: {role}}}"


def is_header_row(cells: Sequence[str], mapping: Mapping[str, Role] | None = None) -> bool:
    """Whether a row can be the header: it holds a phone or list-name column, or a mapped one."""
    keys = {header_key(cell) for cell in cells if cell.strip()}
    mapped = {header_key(header) for header in (mapping or {})}
    wanted = _KEYS[Role.PHONE] | _WEAK_PHONE_KEYS | _KEYS[Role.LIST_NAME] | mapped
    return bool(keys & wanted) or phone_header(cells) is not None


def _candidates(found: Sequence[tuple[int, str]], taken: set[int], preset: str | None) -> str:
    """The columns not guessed that could be what is missing, each with its readings."""
    undecided = undecided_keys(preset)
    said = [
        f"{text!r} ({undecided[header_key(text)]})"
        for i, text in found
        if i not in taken and header_key(text) in undecided
    ]
    return f"; candidates not guessed: {', '.join(said)}" if said else ""


def match_roles(
    label: str,
    header: Sequence[str],
    mapping: Mapping[str, Role] | None = None,
    *,
    list_given: bool = False,
    preset: str | None = None,
    map_option: str = "--map",
) -> dict[Role, int]:
    """Role -> column index for a contacts file's header row.

    The mapping wins over recognition (with `preset`'s table, `importer.kinds.providers`); a
    weak phone header (`numéro`) is used when no strong one is there. Raises InputError (one
    line naming the file) when no phone column is found, when no list column is found and
    `--list` is not given (both messages list the headers not guessed that could be it), when
    a mapped header is missing or when two columns could hold one role; its hints name
    `map_option` (`--map`, `columns:`).
    """
    mapping = mapping or {}
    known = recognised_keys(preset)
    found = [(index, cell.strip()) for index, cell in enumerate(header) if cell.strip()]
    shown = ", ".join(repr(text) for _, text in found[:20]) or "none"
    roles: dict[Role, int] = {}
    taken: set[int] = set()
    for wanted, role in mapping.items():
        hits = [i for i, text in found if header_key(text) == header_key(wanted)]
        if not hits:
            raise InputError(
                f"{label}: no column named {wanted!r} ({map_option}); columns found: {shown}"
            )
        roles[role] = hits[0]
        taken.add(hits[0])
    for role in Role:
        if role in roles:
            continue
        hits = [
            i
            for i, text in found
            if i not in taken
            and (
                is_phone_header(text, preset)
                if role is Role.PHONE
                else header_key(text) in known[role]
            )
        ]
        if role is Role.PHONE and not hits:
            hits = [
                i for i, text in found if i not in taken and header_key(text) in _WEAK_PHONE_KEYS
            ]
        if len(hits) > 1:
            names = ", ".join(repr(header[i].strip()) for i in hits)
            raise InputError(
                f"{label}: {len(hits)} columns could be the {role.value}: {names}; "
                f"choose one with {map_hint(map_option, role.value)}"
            )
        if hits:
            roles[role] = hits[0]
            taken.add(hits[0])
    candidates = _candidates(found, taken, preset)
    if Role.PHONE not in roles:
        raise InputError(
            f"{label}: no phone column for a contacts import; columns found: {shown}"
            f"{candidates}; name it with {map_hint(map_option, Role.PHONE.value)}"
        )
    if Role.LIST_NAME not in roles and not list_given:
        raise InputError(
            f"{label}: no column for the list name; columns found: {shown}{candidates}; "
            f"give --list NAME for a whole file, or {map_hint(map_option, Role.LIST_NAME.value)}"
            + (" or a --preset" if candidates else "")
            + (
                ""
                if Role.COUNTRY in roles
                else "; no country column: give --default-country ISO2 too"
            )
        )
    return roles


def left_out(
    header: Sequence[str], roles: Mapping[Role, int], preset: str | None = None
) -> list[str]:
    """One line per column not imported because its meaning is not guessed."""
    undecided = undecided_keys(preset)
    used = set(roles.values())
    return [
        f"column {text.strip()!r} is not imported: {undecided[header_key(text)]}; "
        f"to import it: --map {shlex.quote(text.strip() + '=other')} (or another role)"
        for i, text in enumerate(header)
        if i not in used and text.strip() and header_key(text) in undecided
    ]
