"""A contact's optional fields: civility, e-mail, birthday; a bad one is left out with a reason."""

from __future__ import annotations

from datetime import date

import pytest

from importer.rules.fields import (
    BirthdayFormat,
    Field,
    birthday,
    civility,
    email,
    emails,
)

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("M", "M"),
        ("M.", "M"),
        ("Mr", "M"),
        ("MR.", "M"),
        ("Monsieur", "M"),
        ("Mme", "Mme"),
        ("Mme.", "Mme"),
        ("Madame", "Mme"),
        ("Mrs", "Mme"),
        ("Ms", "Mme"),
        ("Mlle", "Mme"),
        ("Mademoiselle", "Mme"),
        ("", ""),
    ],
)
def test_civility_spellings(cell: str, value: str) -> None:
    assert civility(cell) == Field(value)


def test_an_unknown_civility_is_left_out_with_a_reason() -> None:
    assert civility("Dr") == Field("", "civility 'Dr' not recognised (M or Mme), left out")


def test_email_is_checked_without_the_network() -> None:
    assert email("Jean.Dupont@Example.COM") == Field("Jean.Dupont@example.com")
    assert email("") == Field("")
    bad = email("jean.dupont@")
    assert bad.value == ""
    assert bad.problem.startswith("e-mail 'jean.dupont@' is not valid (")
    assert bad.problem.endswith("), left out")
    # a domain that cannot exist still passes: syntax only, no DNS lookup
    assert email("a@no-such-domain-q7z.com").value == "a@no-such-domain-q7z.com"


@pytest.mark.parametrize(
    ("cell", "month_first", "value"),
    [
        ("12/03/1985", False, "12/03/1985"),
        ("12-03-1985", False, "12/03/1985"),
        ("12.03.1985", False, "12/03/1985"),
        ("1985-03-12", False, "12/03/1985"),
        ("1985-03-12 00:00:00", False, "12/03/1985"),  # a workbook date cell
        ("3/12/1985", True, "12/03/1985"),
        ("2/3/1985", False, "02/03/1985"),
    ],
)
def test_birthday_spellings(cell: str, month_first: bool, value: str) -> None:
    assert birthday(cell, month_first=month_first, today=TODAY) == Field(value)


@pytest.mark.parametrize(
    ("output", "value"),
    [
        (BirthdayFormat.DAY_FIRST, "12/03/1985"),
        (BirthdayFormat.ISO, "1985-03-12"),
        (BirthdayFormat.MONTH_FIRST, "03/12/1985"),
    ],
)
def test_birthday_format(output: BirthdayFormat, value: str) -> None:
    assert birthday("12/03/1985", output=output, today=TODAY) == Field(value)


@pytest.mark.parametrize(
    ("cell", "month_first", "words"),
    [
        ("next tuesday", False, "is not a date"),
        ("12/03/85", False, "is not a date"),
        ("31/02/1985", False, "is not a real day (read day first)"),
        ("13/12/1985", True, "is not a real day (read month first)"),
        ("01/01/1850", False, "not a plausible birth date"),
        ("01/01/2030", False, "not a plausible birth date"),
    ],
)
def test_a_bad_birthday_is_left_out_with_a_reason(cell: str, month_first: bool, words: str) -> None:
    result = birthday(cell, month_first=month_first, today=TODAY)
    assert result.value == ""
    assert words in result.problem
    assert result.problem.startswith(f"birthday {cell!r}")


def test_a_column_of_emails_gets_each_cells_own_verdict() -> None:
    cells = [
        "jean.dupont@example.fr",
        "Jean@Example.COM",
        "pas-un-email",
        "jean.dupont@example.fr",
        "",
    ]
    assert emails(cells) == ([email(c).value for c in cells], [email(c).problem for c in cells])
