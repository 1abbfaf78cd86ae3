"""Phone numbers: what people type and spreadsheets do to it, checked like the API checks it.

Parsing, validity, region and type are Google's libphonenumber (the `phonenumbers` port): no
hand-written parser. Before parsing, two spreadsheet accidents are undone — a number stored as
a float and rendered as text (`612345678.0`, `3.3612345678E+10`, the latter only when every
digit survived) — and the French `poste` is read as an extension. The number is parsed with
the list's country as the default region (what the API checks `ERR_107` against), and checked
with the API's own codes of `/contact/add`:

- `ERR_102` the cell is empty;
- `ERR_106` not a valid number anywhere (or digits lost by scientific notation);
- `ERR_107` a valid number of another country than the list's — an overseas territory's
  number typed in national form in a French list included, with the territory's name and code,
  and a number typed in national form that is a valid mobile of France or of a neighbour of
  the list's country (a French mobile `06…` in a Belgian list), the likeliest named;
- `ERR_108` a type that cannot receive SMS (see `NumberType`), unless allowed.

The sandbox checks numbers with this same module, so the two agree unless told otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from types import MappingProxyType

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
)

CODE_EMPTY = "ERR_102"
CODE_INVALID = "ERR_106"
CODE_OTHER_COUNTRY = "ERR_107"
CODE_TYPE_NOT_ALLOWED = "ERR_108"

#: Every code `normalize_phone` can return.
PHONE_CODES = frozenset({CODE_EMPTY, CODE_INVALID, CODE_OTHER_COUNTRY, CODE_TYPE_NOT_ALLOWED})


class NumberType(StrEnum):
    """A number's type, as libphonenumber tells it; the values of `--number-types`."""

    MOBILE = "mobile"
    FIXED_LINE_OR_MOBILE = "fixed-line-or-mobile"
    FIXED_LINE = "fixed-line"
    TOLL_FREE = "toll-free"
    PREMIUM_RATE = "premium-rate"
    SHARED_COST = "shared-cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal-number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


#: Operator words for each type, used in `ERR_108` messages.
TYPE_WORDS: Mapping[NumberType, str] = MappingProxyType(
    {
        NumberType.MOBILE: "a mobile number",
        NumberType.FIXED_LINE_OR_MOBILE: "a fixed-line or mobile number",
        NumberType.FIXED_LINE: "a fixed line (landline)",
        NumberType.TOLL_FREE: "a toll-free number",
        NumberType.PREMIUM_RATE: "a premium-rate number",
        NumberType.SHARED_COST: "a shared-cost number",
        NumberType.VOIP: "a VoIP number",
        NumberType.PERSONAL_NUMBER: "a personal number",
        NumberType.PAGER: "a pager",
        NumberType.UAN: "a company (UAN) number",
        NumberType.VOICEMAIL: "a voice-mail access number",
        NumberType.UNKNOWN: "a number of unknown type",
    }
)

_TYPES: Mapping[int, NumberType] = MappingProxyType(
    {
        PhoneNumberType.MOBILE: NumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
        PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
        PhoneNumberType.VOIP: NumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
        PhoneNumberType.PAGER: NumberType.PAGER,
        PhoneNumberType.UAN: NumberType.UAN,
        PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
        PhoneNumberType.UNKNOWN: NumberType.UNKNOWN,
    }
)

#: What can receive an SMS unless `--number-types` says otherwise: mobiles, and numbers whose
#: numbering plan cannot tell a fixed line from a mobile (the United States, for one).
DEFAULT_NUMBER_TYPES: frozenset[NumberType] = frozenset(
    {NumberType.MOBILE, NumberType.FIXED_LINE_OR_MOBILE}
)


class NumberFormat(StrEnum):
    """How a number is sent (`--number-format`); the API does not say which it stores."""

    E164 = "e164"
    """`+33612345678`, the default: one spelling per number, whatever the list's country."""
    NATIONAL = "national"
    """`06 12 34 56 78`, the list country's own way."""
    INTERNATIONAL = "international"
    """`+33 6 12 34 56 78`."""


_FORMATS: Mapping[NumberFormat, int] = MappingProxyType(
    {
        NumberFormat.E164: PhoneNumberFormat.E164,
        NumberFormat.NATIONAL: PhoneNumberFormat.NATIONAL,
        NumberFormat.INTERNATIONAL: PhoneNumberFormat.INTERNATIONAL,
    }
)

#: Territories whose numbers people type in their home country's national form (a Guadeloupe
#: mobile written `0690…`): tried when a number is valid nowhere in the list's own country.
#: Not Saint Pierre and Miquelon: its six-digit plan (+508) has no French national form.
TERRITORIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "FR": ("GP", "MQ", "GF", "RE", "YT", "BL", "MF"),
        "GB": ("GG", "JE", "IM"),
        "US": ("PR", "VI", "GU", "AS", "MP"),
        "NL": ("BQ", "CW", "SX", "AW"),
    }
)

#: Where else a number typed in national form (no `+`) may come from, when it is valid nowhere in
#: the list's country: France first (AvoSMS's home, and most lists' numbers), then the list
#: country's neighbours. Only neighbours: the wider the net, the more digit strings some
#: country's plan happens to accept (Austria's variable lengths take almost anything).
NATIONAL_FORM_HOME = "FR"
NATIONAL_FORM_NEIGHBOURS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "FR": ("BE", "LU", "DE", "CH", "IT", "MC", "ES", "AD", "GB"),
        "BE": ("NL", "LU", "DE"),
        "LU": ("BE", "DE"),
        "CH": ("DE", "IT", "AT", "LI"),
        "MC": ("IT",),
        "DE": ("BE", "NL", "LU", "CH", "AT", "DK", "PL", "CZ"),
        "NL": ("BE", "DE"),
        "ES": ("PT", "AD"),
        "PT": ("ES",),
        "IT": ("CH", "AT", "SI", "SM", "VA", "MC"),
        "AT": ("DE", "CH", "IT", "LI", "CZ", "SK", "HU", "SI"),
        "GB": ("IE",),
        "IE": ("GB",),
        "AD": ("ES",),
    }
)

#: A float rendered as text: `612345678.0`.
_FLOAT_TEXT = re.compile(r"\+?\d+\.0+")
#: Scientific notation as spreadsheets render big numbers: `3.3612345678E+10`.
_SCIENTIFIC = re.compile(r"\+?\d(?:[.,]\d+)?[eE]\+?\d+")
#: The French word for an extension, which libphonenumber would read as vanity letters.
_POSTE = re.compile(r"\bposte\b\.?", re.IGNORECASE)
#: A cell without any of these characters is neither spreadsheet float nor `poste`: most cells
#: skip both patterns.
_SPREADSHEET_MARKS = frozenset(".eE")
_POSTE_START = frozenset("pP")


@dataclass(frozen=True)
class Phone:
    """A number good to send: its E.164 key, the spelling to send, and what was done to it."""

    e164: str
    number: str
    """As sent, in the chosen `NumberFormat`."""
    region: str
    number_type: NumberType
    note: str = ""
    """What the operator should know (`extension 12 dropped`), or ""."""


@dataclass(frozen=True)
class PhoneProblem:
    """Why a number cannot be sent: one of `PHONE_CODES` and a message naming the cause."""

    code: str
    message: str


@cache
def territory_name(region: str) -> str:
    """The English name of an ISO 3166 region (`GP` -> `Guadeloupe`), or the code itself."""
    import pycountry

    country = pycountry.countries.get(alpha_2=region)
    return str(getattr(country, "common_name", None) or country.name) if country else region


def _undo_spreadsheet(text: str) -> str | PhoneProblem:
    """The number with a spreadsheet's float rendering undone, or the digits-lost problem."""
    if _FLOAT_TEXT.fullmatch(text):
        return text.split(".", 1)[0]
    if _SCIENTIFIC.fullmatch(text):
        try:
            value = Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            return text
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or exponent > 0:
            # More places than mantissa digits: the trailing digits were rounded away.
            return PhoneProblem(
                CODE_INVALID,
                f"phone {text!r} is in scientific notation and its last digits are lost: "
                "format the column as text in the spreadsheet and export again",
            )
        return ("+" if text.startswith("+") else "") + format(value.to_integral_value(), "f")
    return text


def _parse(text: str, region: str, *, keep_raw_input: bool = False) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=keep_raw_input)
    except NumberParseException:
        return None


@cache
def _territory_codes(region: str) -> tuple[tuple[int, re.Pattern[str]], ...]:
    """The country calling codes of `region`'s territories (+590, +596, +594, +262, +508),
    each with a pattern every number valid under that code matches.

    The pattern joins the descriptions of every number type of the code's regions in
    libphonenumber's own metadata: a national number outside all of them has no type there, so
    it is passed over without the costlier region and type look-ups (most invalid numbers).
    """
    found: dict[int, re.Pattern[str]] = {}
    for territory in TERRITORIES.get(region, ()):
        code = phonenumbers.country_code_for_region(territory)
        if code in found:
            continue
        general = []
        for member in phonenumbers.region_codes_for_country_code(code):
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(member)
            descs = [getattr(metadata, kind.name.lower(), None) for kind in NumberType]
            general += [f"(?:{d.national_number_pattern})" for d in descs if d]
        found[code] = re.compile("|".join(general) or "(?!)")
    return tuple(found.items())


def _territory_of(parsed: PhoneNumber, region: str) -> str | None:
    """The territory of `region` where this national-form number is valid, if any.

    The national number stays what the home country's trunk prefix left (`0690…` -> 690…);
    only the calling code changes, so no second parse is needed.
    """
    national = str(parsed.national_number)
    for code, general in _territory_codes(region):
        if not general.fullmatch(national):
            continue
        candidate = PhoneNumber(country_code=code, national_number=parsed.national_number)
        territory = phonenumbers.region_code_for_number(candidate)
        if territory and phonenumbers.number_type(candidate) != PhoneNumberType.UNKNOWN:
            return territory
    return None


@cache
def _screen(other: str, number_types: frozenset[NumberType]) -> re.Pattern[str] | None:
    """What the digits of a plain cell must match for its parse in `other` to be a number of
    `other` of one of `number_types`, from libphonenumber's own metadata: parsing only strips
    prefixes, so the national number ends the digits, and a type's description must match it.
    None: no screen (a national prefix rewritten rather than stripped, or any type allowed)."""
    # Parsing reads the prefix rules of `other`, or of the main region of its calling code.
    main = phonenumbers.region_code_for_country_code(phonenumbers.country_code_for_region(other))
    rules = [phonenumbers.PhoneMetadata.metadata_for_region(r) for r in (main, other)]
    unsure = [m for m in rules if not m or m.national_prefix_transform_rule]
    metadata = rules[-1]
    if unsure or metadata is None or NumberType.UNKNOWN in number_types:
        return None
    # libphonenumber's type rules: "fixed line or mobile" matches the mobile description too,
    # unless mobile and fixed line are one pattern.
    mobile = "fixed_line" if metadata.same_mobile_and_fixed_line_pattern else "mobile"
    kinds = {mobile if k in DEFAULT_NUMBER_TYPES else k.name.lower() for k in number_types}
    descs = [getattr(metadata, name, None) for name in sorted(kinds)]
    either = "|".join(f"(?:{d.national_number_pattern})" for d in descs if d)
    return re.compile(f"[0-9]*(?:{either or '(?!)'})")


def national_form_countries(
    text: str,
    region: str,
    number_types: Collection[NumberType],
    *,
    screen: bool = True,
    parsed: PhoneNumber | None = None,
) -> tuple[str, ...]:
    """The countries, most likely first, where `text`, typed in national form (no `+`, no
    international prefix), is a valid number that may receive SMS (`number_types`): France,
    then `region`'s neighbours (`NATIONAL_FORM_NEIGHBOURS`). Empty when there is none.

    `06 12 34 56 78` in a Belgian list: a French mobile (and, in national form, a Dutch one).
    `screen` skips a country whose metadata rules the digits out (`_screen`); False parses in
    each (same answer, the screen's reference in tests). `parsed`: `text` parsed in `region`
    with its raw input kept, when the caller has it.
    """
    raw = parsed or _parse(text, region, keep_raw_input=True)
    if raw is None or raw.country_code_source != CountryCodeSource.FROM_DEFAULT_COUNTRY:
        return ()
    # Only ASCII digits and separators: phonenumbers reads nothing but the digits of the cell.
    plain = screen and re.fullmatch(r"[0-9 ().\-/]+", text)
    digits = re.sub(r"[^0-9]", "", text) if plain else None
    allowed = frozenset(number_types)
    found: list[str] = []
    for other in dict.fromkeys((NATIONAL_FORM_HOME, *NATIONAL_FORM_NEIGHBOURS.get(region, ()))):
        fits = None if digits is None or other == region else _screen(other, allowed)
        if fits is not None and not fits.fullmatch(digits or ""):
            continue
        there = None if other == region else _parse(text, other)
        if there is None or phonenumbers.region_code_for_number(there) != other:
            continue
        if _TYPES.get(phonenumbers.number_type(there), NumberType.UNKNOWN) in allowed:
            found.append(other)
    return tuple(found)


def _plus(region: str) -> str:
    return f"+{phonenumbers.country_code_for_region(region)}"


def _other_country(region: str, found: str, how: str = "") -> PhoneProblem:
    return PhoneProblem(
        CODE_OTHER_COUNTRY,
        f"a number of {territory_name(found)} ({_plus(found)}){how}, not of the list's country "
        f"{region}",
    )


def normalize_phone(
    raw: str,
    region: str,
    *,
    number_types: Collection[NumberType] = DEFAULT_NUMBER_TYPES,
    number_format: NumberFormat = NumberFormat.E164,
) -> Phone | PhoneProblem:
    """Check and format one phone cell for a list of country `region` (ISO2, upper case).

    In: the cell as read (already trimmed of invisible characters or not: spaces are
    dropped here), the list's country, the types allowed and the output spelling.
    Out: a `Phone` whose `e164` is a valid number of `region` of an allowed type, or a
    `PhoneProblem` with one of `PHONE_CODES`. Idempotent: a `Phone.number` normalizes to itself.
    """
    text = raw.strip()
    if not text:
        return PhoneProblem(CODE_EMPTY, "phone number is empty")
    undone = _undo_spreadsheet(text) if _SPREADSHEET_MARKS.intersection(text) else text
    if isinstance(undone, PhoneProblem):
        return undone
    if _POSTE_START.intersection(undone):
        undone = _POSTE.sub(" ext ", undone)
    parsed = _parse(undone, region, keep_raw_input=True)
    if parsed is None:
        return PhoneProblem(CODE_INVALID, f"{text!r} is not a phone number")
    note = f"extension {parsed.extension} dropped" if parsed.extension else ""
    parsed.extension = None
    # libphonenumber's own definition of valid: a region owns the number and its type is known.
    # The type is computed once here (is_valid_number would compute it a second time).
    found = phonenumbers.region_code_for_number(parsed)
    number_type = _TYPES.get(phonenumbers.number_type(parsed), NumberType.UNKNOWN)
    if found is None or number_type is NumberType.UNKNOWN:
        if parsed.country_code == phonenumbers.country_code_for_region(region):
            territory = _territory_of(parsed, region)
            if territory is not None:
                return _other_country(region, territory, " typed in national form")
            elsewhere = national_form_countries(undone, region, number_types, parsed=parsed)
            if elsewhere:
                problem = _other_country(region, elsewhere[0], " typed in national form")
                if len(elsewhere) == 1:
                    return problem
                also = ", ".join(f"{territory_name(o)} ({_plus(o)})" for o in elsewhere[1:])
                return PhoneProblem(
                    problem.code,
                    f"{problem.message} (in that form it is also a number of {also}: write "
                    "numbers with their +code to be sure)",
                )
        return PhoneProblem(CODE_INVALID, f"{text!r} is not a valid phone number")
    if found != region:
        return _other_country(region, found)
    if number_type not in number_types:
        return PhoneProblem(
            CODE_TYPE_NOT_ALLOWED,
            f"{TYPE_WORDS[number_type]} cannot receive SMS "
            f"(allowed: {', '.join(sorted(number_types))}; widen with --number-types)",
        )
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return Phone(
        e164=e164,
        number=(
            e164
            if number_format is NumberFormat.E164
            else phonenumbers.format_number(parsed, _FORMATS[number_format])
        ),
        region=region,
        number_type=number_type,
        note=note,
    )


def parse_number_types(text: str) -> frozenset[NumberType]:
    """`--number-types mobile,fixed-line` -> the set; ValueError naming a value not known."""
    values = [part.strip().lower().replace("_", "-") for part in text.split(",") if part.strip()]
    known = {t.value for t in NumberType}
    unknown = [value for value in values if value not in known]
    if unknown or not values:
        raise ValueError(
            f"unknown number type {', '.join(unknown) or '(none)'}: "
            f"choose among {', '.join(t.value for t in NumberType)}"
        )
    return frozenset(NumberType(value) for value in values)


#: Every type: a number matched for exclusion or on the account, whatever its type.
ANY_TYPE: frozenset[NumberType] = frozenset(NumberType)


def e164_anywhere(raw: str, region: str | None) -> str | None:
    """The number in E.164 when it is a valid number of any country and type, else None.

    A number with its prefix (`+32…`, `0032…`) is read in its own country; one without, in
    `region` (None: not read). Used to match a number whatever the list it is written for
    (opt-outs, STOP lists), with `normalize_phone`'s own rules.
    """
    text = raw.strip()
    undone = _undo_spreadsheet(text)
    if isinstance(undone, PhoneProblem):
        return None
    digits = undone.lstrip()
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    parsed = _parse(_POSTE.sub(" ext ", digits), region or "ZZ")
    found = phonenumbers.region_code_for_number(parsed) if parsed is not None else None
    if found is None:
        return None
    phone = normalize_phone(digits, found, number_types=ANY_TYPE)
    return phone.e164 if isinstance(phone, Phone) else None
