"""Phone numbers: every way people and spreadsheets write them, the API's local codes."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.rules.phones import (
    ANY_TYPE,
    DEFAULT_NUMBER_TYPES,
    NATIONAL_FORM_NEIGHBOURS,
    PHONE_CODES,
    NumberFormat,
    NumberType,
    Phone,
    PhoneProblem,
    national_form_countries,
    normalize_phone,
    parse_number_types,
)

MOBILE = "+33612345678"


@pytest.mark.parametrize(
    "raw",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "33612345678",
        "612345678",  # the leading zero lost by a spreadsheet
        "612345678.0",  # a float rendered as text
        "3.3612345678E+10",  # scientific notation with every digit
        " \t06 12 34 56 78 ",
    ],
)
def test_what_people_type_is_one_e164_number(raw: str) -> None:
    phone = normalize_phone(raw, "FR")
    assert isinstance(phone, Phone), phone
    assert phone.e164 == phone.number == MOBILE
    assert phone.number_type is NumberType.MOBILE
    assert phone.note == ""


@pytest.mark.parametrize(
    "raw",
    ["06 12 34 56 78 poste 12", "06 12 34 56 78 ext 12", "06 12 34 56 78 x12", "0612345678 #12"],
)
def test_extensions_are_dropped_and_said(raw: str) -> None:
    phone = normalize_phone(raw, "FR")
    assert isinstance(phone, Phone)
    assert phone.e164 == MOBILE
    assert phone.note == "extension 12 dropped"


def test_scientific_notation_that_lost_digits_is_invalid() -> None:
    problem = normalize_phone("3.36123E+11", "FR")
    assert isinstance(problem, PhoneProblem)
    assert problem.code == "ERR_106"
    assert "last digits are lost" in problem.message


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("", "ERR_102", "empty"),
        ("   ", "ERR_102", "empty"),
        ("abc", "ERR_106", "not a phone number"),
        ("0612", "ERR_106", "not a valid phone number"),
        ("+32 470 12 34 56", "ERR_107", "Belgium (+32)"),
        ("0032470123456", "ERR_107", "Belgium (+32)"),
        ("0690 12 34 56", "ERR_107", "Guadeloupe (+590) typed in national form"),
        ("0696 12 34 56", "ERR_107", "Martinique (+596)"),
        ("0694 12 34 56", "ERR_107", "French Guiana (+594)"),
        ("0692 12 34 56", "ERR_107", "Réunion (+262)"),
        ("0639 40 12 34", "ERR_107", "Mayotte (+262)"),
        ("+590 690 12 34 56", "ERR_107", "Guadeloupe (+590), not of the list's country FR"),
        ("01 42 68 53 00", "ERR_108", "a fixed line (landline) cannot receive SMS"),
        ("0800 123 456", "ERR_108", "a toll-free number"),
        ("0899 123 456", "ERR_108", "a premium-rate number"),
        ("0810 123 456", "ERR_108", "a shared-cost number"),
    ],
)
def test_local_codes_say_why(raw: str, code: str, words: str) -> None:
    problem = normalize_phone(raw, "FR")
    assert isinstance(problem, PhoneProblem), problem
    assert problem.code == code
    assert words in problem.message


def test_a_number_valid_nowhere_is_err_106_not_107() -> None:
    problem = normalize_phone("0600 00 00 00 00", "FR")
    assert isinstance(problem, PhoneProblem)
    assert problem.code == "ERR_106"


@pytest.mark.parametrize(
    ("raw", "region", "words"),
    [
        # A French mobile typed nationally in a Belgian list: French first, the Dutch reading
        # of the same digits said too (06 is a mobile prefix in both plans).
        ("06 12 34 56 78", "BE", "a number of France (+33) typed in national form, not of the "
        "list's country BE (in that form it is also a number of Netherlands (+31)"),
        ("612345678", "BE", "France (+33) typed in national form"),  # its zero lost by Excel
        ("0470 12 34 56", "NL", "a number of Belgium (+32) typed in national form"),
        ("01512 3456789", "FR", "a number of Germany (+49) typed in national form"),
    ],
)  # fmt: skip
def test_a_national_number_of_a_neighbour_is_err_107_naming_it(raw, region, words) -> None:
    problem = normalize_phone(raw, region)
    assert isinstance(problem, PhoneProblem), problem
    assert problem.code == "ERR_107"
    assert words in problem.message


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("0691 23 45 67 8", "FR"),  # a landline in Germany and Italy, a mobile nowhere
        ("01 42 68 53 00", "BE"),  # a Paris landline: not claimed for France, SMS cannot reach
        ("+33 6 12 34 56", "BE"),  # written with its +code: never read another way
    ],
)
def test_a_number_that_is_no_neighbours_mobile_stays_err_106(raw: str, region: str) -> None:
    problem = normalize_phone(raw, region)
    assert isinstance(problem, PhoneProblem), problem
    assert problem.code == "ERR_106"


def test_number_types_widen_what_is_accepted() -> None:
    types = DEFAULT_NUMBER_TYPES | {NumberType.FIXED_LINE}
    phone = normalize_phone("01 42 68 53 00", "FR", number_types=types)
    assert isinstance(phone, Phone)
    assert phone.number_type is NumberType.FIXED_LINE


def test_fixed_line_or_mobile_passes_by_default() -> None:
    phone = normalize_phone("(201) 555-0123", "US")
    assert isinstance(phone, Phone)
    assert phone.e164 == "+12015550123"
    assert phone.number_type is NumberType.FIXED_LINE_OR_MOBILE


@pytest.mark.parametrize(
    ("number_format", "expected"),
    [
        (NumberFormat.E164, "+33612345678"),
        (NumberFormat.NATIONAL, "06 12 34 56 78"),
        (NumberFormat.INTERNATIONAL, "+33 6 12 34 56 78"),
    ],
)
def test_number_format(number_format: NumberFormat, expected: str) -> None:
    phone = normalize_phone("0612345678", "FR", number_format=number_format)
    assert isinstance(phone, Phone)
    assert (phone.number, phone.e164) == (expected, MOBILE)


def test_parse_number_types() -> None:
    assert parse_number_types("mobile, fixed_line") == {NumberType.MOBILE, NumberType.FIXED_LINE}
    with pytest.raises(ValueError, match="unknown number type landline"):
        parse_number_types("mobile,landline")
    with pytest.raises(ValueError, match="unknown number type"):
        parse_number_types(" , ")


REGIONS = st.sampled_from(["FR", "BE", "DE", "US", "GB", "GP", "CH"])
PHONE_LIKE = st.text(alphabet="0123456789 +-.()#xEe", max_size=20)


@settings(max_examples=400, deadline=None)
@given(raw=st.one_of(st.text(max_size=25), PHONE_LIKE), region=REGIONS)
def test_any_string_is_a_valid_number_of_the_region_or_a_local_code(raw: str, region: str) -> None:
    result = normalize_phone(raw, region)
    if isinstance(result, PhoneProblem):
        assert result.code in PHONE_CODES
        named = re.search(r"a number of .+? \(\+(\d+)\) typed in national form", result.message)
        if named and result.code == "ERR_107":  # valid as typed in the country named
            # Valid there, of any type: a territory's landline in a French list is named too.
            regions = phonenumbers.region_codes_for_country_code(int(named[1]))
            assert any(
                isinstance(normalize_phone(raw, other, number_types=ANY_TYPE), Phone)
                for other in regions
            ), (
                raw,
                region,
                result.message,
            )
        return
    parsed = phonenumbers.parse(result.e164)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.region_code_for_number(parsed) == region
    assert result.number_type in DEFAULT_NUMBER_TYPES
    # idempotent on its own output, in every format
    for number_format in NumberFormat:
        once = normalize_phone(raw, region, number_format=number_format)
        assert isinstance(once, Phone)
        again = normalize_phone(once.number, region, number_format=number_format)
        assert again == Phone(once.e164, once.number, region, once.number_type)


@settings(max_examples=200, deadline=None)
@given(
    national=st.integers(min_value=600_000_000, max_value=799_999_999),
    spelling=st.sampled_from(["0{}", "+33{}", "0033{}", "33{}", "{}", "{}.0", "+33 (0){}"]),
)
def test_every_spelling_of_a_french_mobile_gives_one_e164(national: int, spelling: str) -> None:
    result = normalize_phone(spelling.format(national), "FR")
    expected = normalize_phone(f"+33{national}", "FR")
    if isinstance(expected, Phone):
        assert result == expected
    else:
        assert isinstance(result, PhoneProblem)
        national = not spelling.startswith(("+", "00", "33"))
        # Typed nationally, digits France does not use may be a neighbour's mobile (Monaco's
        # 07 00 00 00 00): then it is that country's, ERR_107.
        assert result.code == expected.code or (national and result.code == "ERR_107")


def test_a_short_number_in_a_french_list_is_not_named_saint_pierre_and_miquelon() -> None:
    # 41 00 00 and 61 00 00 are numbers of Saint Pierre and Miquelon (+508), whose six-digit plan
    # has no French national form: in a French list they are French numbers with digits missing.
    for raw in ("410000", "0610000", "06 12 34 5"):
        result = normalize_phone(raw, "FR")
        assert isinstance(result, PhoneProblem)
        assert result.code == "ERR_106", (raw, result)
        assert "Saint Pierre" not in result.message
    assert isinstance(normalize_phone("+508 41 00 00", "PM", number_types=ANY_TYPE), Phone)


NATIONAL_LIKE = st.text(alphabet="0123456789 .-()/", min_size=1, max_size=16)


@settings(max_examples=400, deadline=None)
@given(
    raw=st.one_of(
        NATIONAL_LIKE,
        st.integers(min_value=10_000_000, max_value=9_999_999_999).map(lambda n: f"0{n}"),
        PHONE_LIKE,
    ),
    region=st.sampled_from(sorted(NATIONAL_FORM_NEIGHBOURS)),
    types=st.sets(st.sampled_from(list(NumberType)), min_size=1).map(frozenset),
)
def test_the_metadata_screen_finds_the_countries_parsing_everywhere_finds(
    raw: str, region: str, types: frozenset[NumberType]
) -> None:
    # The screen only skips a parse its metadata shows would not give an allowed type there.
    screened = national_form_countries(raw, region, types)
    assert screened == national_form_countries(raw, region, types, screen=False)


@pytest.mark.parametrize("region", sorted(NATIONAL_FORM_NEIGHBOURS))
def test_the_screen_agrees_on_every_neighbours_mobiles(region: str) -> None:
    # Each neighbour's own example mobile, in its national form, typed in this region's list.
    for other in NATIONAL_FORM_NEIGHBOURS[region]:
        example = phonenumbers.example_number_for_type(other, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
        for types in (DEFAULT_NUMBER_TYPES, frozenset({NumberType.FIXED_LINE})):
            screened = national_form_countries(national, region, types)
            assert screened == national_form_countries(national, region, types, screen=False)
