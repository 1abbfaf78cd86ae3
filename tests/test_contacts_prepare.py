"""Contacts kind, offline: roles and kind detection, list rules first, numbers, fields, dedupe."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.api.endpoints import CONTACT_FIELDS
from importer.client import AccountContact
from importer.errors import ConfigError, InputError
from importer.kinds.column_map import parse_mapping
from importer.kinds.contacts import CONTACT_COLUMNS, CONTACT_KEYS, ContactOptions, prepare
from importer.kinds.contacts_plan import ListOnAccount, index_contacts, plan
from importer.kinds.roles import Kind, Role, detect_kind, is_header_row, match_roles
from importer.rules.phones import NumberFormat

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "contacts.csv"


def frame(*rows: tuple[str, ...], columns: tuple[str, ...] = ("list_name", "country", "phone")):
    data = pd.DataFrame(list(rows), columns=list(columns))
    data.insert(0, "row", range(2, len(rows) + 2))
    return data


def by_row(result: pd.DataFrame) -> dict[int, dict[str, object]]:
    return {int(row["row"]): row for row in result.to_dict("records")}


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (["Liste", "Pays", "Téléphone"], Kind.CONTACTS),
        (["liste", "GSM"], Kind.CONTACTS),
        (["List name", "Phone number"], Kind.CONTACTS),
        (["listContactId", "contactTelephoneNumber"], Kind.CONTACTS),
        (["N°", "Nom de la liste", "Pays"], Kind.LISTS),  # a row number, not a phone
        (["Numéro", "Liste"], Kind.LISTS),
        (["name", "country"], Kind.LISTS),
    ],
)
def test_detect_kind(header: list[str], kind: Kind) -> None:
    assert detect_kind(header) is kind


def test_an_explicit_kind_wins() -> None:
    assert detect_kind(["Liste", "Téléphone"], Kind.LISTS) is Kind.LISTS


def test_match_roles_in_a_french_file() -> None:
    header = [
        "Groupe",
        "Pays",
        "Civilité",
        "Nom",
        "Prénom",
        "Portable",
        "Courriel",
        "Né le",
        "Notes",
    ]
    roles = match_roles("f.csv", header)
    assert roles == {
        Role.LIST_NAME: 0,
        Role.COUNTRY: 1,
        Role.CIVILITY: 2,
        Role.LAST_NAME: 3,  # a bare "nom" is the person's name in a contacts file
        Role.FIRST_NAME: 4,
        Role.PHONE: 5,
        Role.EMAIL: 6,
        Role.BIRTHDAY: 7,
        Role.OTHER: 8,
    }


def test_a_weak_phone_header_counts_once_the_kind_is_contacts() -> None:
    assert match_roles("f.csv", ["Liste", "Numéro"])[Role.PHONE] == 1


def test_map_wins_over_recognition() -> None:
    mapping = parse_mapping(["Tel perso=other", "Contact=phone"])
    roles = match_roles("f.csv", ["Liste", "Tel perso", "Contact"], mapping)
    assert roles[Role.PHONE] == 2 and roles[Role.OTHER] == 1
    assert parse_mapping({"Ligne": "list-name"}) == {"Ligne": Role.LIST_NAME}


@pytest.mark.parametrize(
    ("header", "mapping", "list_given", "message"),
    [
        (["Liste", "Nom"], {}, False, "f.csv: no phone column for a contacts import"),
        (["Tel", "Nom"], {}, False, "f.csv: no column for the list name"),
        (["Liste", "Tel", "Mobile"], {}, False, "f.csv: 2 columns could be the phone"),
        (["Liste", "Tel"], {"GSM": "phone"}, False, "f.csv: no column named 'GSM' (--map)"),
    ],
)
def test_match_roles_refuses_in_one_line(header, mapping, list_given, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        match_roles("f.csv", header, parse_mapping(mapping), list_given=list_given)


def test_match_roles_with_list_given() -> None:
    assert Role.LIST_NAME not in match_roles("f.csv", ["Tel", "Nom"], list_given=True)


def test_parse_mapping_errors() -> None:
    with pytest.raises(ConfigError, match="expected HEADER=ROLE"):
        parse_mapping(["Tel"])
    with pytest.raises(ConfigError, match="unknown role 'telephone'"):
        parse_mapping(["Tel=telephone"])


def test_is_header_row() -> None:
    assert not is_header_row(["Export du 12/03/2024", ""])
    assert is_header_row(["", "Téléphone"])
    assert is_header_row(["Ligne", "Contact"], parse_mapping(["Contact=phone"]))


# --------------------------------------------------------------------------- prepare


def test_prepare_gives_exactly_the_results_columns() -> None:
    result = prepare(frame(("Clients", "FR", "06 12 34 56 78")))
    assert list(result.columns) == [*CONTACT_COLUMNS, *CONTACT_KEYS]
    (row,) = result.to_dict("records")
    assert row["outcome"] == "planned"
    assert row["number"] == row["e164"] == "+33612345678"
    assert row["phone"] == "06 12 34 56 78"
    assert row["country_code"] == "FR"


def test_list_problems_come_first_with_the_list_prefix() -> None:
    result = by_row(
        prepare(
            frame(
                ("", "FR", "0612345678"),
                ("Clients", "", "0612345678"),
                ("Clients", "Atlantis", "0612345678"),
            )
        )
    )
    assert [result[r]["code"] for r in (2, 3, 4)] == [
        "LIST_ERR_101",
        "LIST_ERR_102",
        "LIST_ERR_103",
    ]
    assert all(result[r]["outcome"] == "invalid" for r in (2, 3, 4))
    assert result[4]["message"].startswith("list not usable: country")


def test_one_list_two_countries_invalidates_the_later_rows() -> None:
    result = by_row(
        prepare(frame(("Clients", "FR", "0612345678"), ("clients", "BE", "0470123456")))
    )
    assert result[2]["outcome"] == "planned"
    assert result[3]["outcome"] == "invalid"
    assert result[3]["code"] == "COUNTRY_CONFLICT"
    assert result[3]["message"] == (
        "list 'Clients' is FR on row 2 and BE here: a list has one country"
    )


def test_the_accounts_country_is_what_the_number_is_checked_against() -> None:
    result = by_row(
        prepare(frame(("Belges", "FR", "0470 12 34 56")), account_countries={"belges": "BE"})
    )
    assert result[2]["outcome"] == "planned"
    assert result[2]["e164"] == "+32470123456"
    assert "is BE on the account (the file says FR)" in result[2]["message"]


def test_phone_codes_reach_the_row() -> None:
    result = by_row(
        prepare(
            frame(
                ("Clients", "FR", ""),
                ("Clients", "FR", "0612"),
                ("Clients", "FR", "+32 470 12 34 56"),
                ("Clients", "FR", "01 42 68 53 00"),
            )
        )
    )
    assert [result[r]["code"] for r in (2, 3, 4, 5)] == ["ERR_102", "ERR_106", "ERR_107", "ERR_108"]
    assert result[4]["number"] == ""


def test_duplicates_are_the_same_list_and_the_same_e164_number() -> None:
    columns = ("list_name", "country", "phone", "email")
    result = by_row(
        prepare(
            frame(
                ("Clients", "FR", "06 12 34 56 78", "a@b.fr"),
                ("CLIENTS ", "FR", "+33612345678", "a@b.fr"),
                ("Clients", "FR", "612345678", "other@b.fr"),
                ("Prospects", "FR", "0612345678", ""),
                columns=columns,
            )
        )
    )
    assert result[3]["outcome"] == "duplicate"
    assert result[3]["code"] == "DUPLICATE"
    assert result[3]["message"] == "same number +33612345678 in list 'Clients' as row 2"
    assert result[3]["number"] == "+33612345678"  # duplicates show their number too
    assert result[4]["message"].endswith("(other fields differ: email)")
    assert result[5]["outcome"] == "planned"  # another list


def test_an_invalid_row_never_claims_a_number() -> None:
    result = by_row(prepare(frame(("", "FR", "0612345678"), ("Clients", "FR", "0612345678"))))
    assert result[3]["outcome"] == "planned"


def test_bad_optional_fields_are_left_out_and_said() -> None:
    columns = ("list_name", "country", "phone", "civility", "email", "birthday", "last_name")
    (row,) = prepare(
        frame(
            ("Clients", "FR", "0612345678 poste 3", "Dr", "jean@", "31/02/1985", " Dupont "),
            columns=columns,
        )
    ).to_dict("records")
    assert row["outcome"] == "planned"
    assert (row["civility"], row["email"], row["birthday"]) == ("", "", "")
    assert row["last_name"] == "Dupont"
    message = row["message"]
    assert "extension 3 dropped" in message
    assert "civility 'Dr' not recognised" in message
    assert "e-mail 'jean@' is not valid" in message
    assert "birthday '31/02/1985' is not a real day" in message


def test_options() -> None:
    columns = ("phone", "birthday")
    options = ContactOptions(
        list_name="Tous",
        default_country="FR",
        number_format=NumberFormat.NATIONAL,
        month_first=True,
    )
    (row,) = prepare(frame(("0612345678", "03/12/1985"), columns=columns), options).to_dict(
        "records"
    )
    assert (row["list_name"], row["list_key"], row["country_code"]) == ("Tous", "tous", "FR")
    assert (row["number"], row["e164"], row["birthday"]) == (
        "06 12 34 56 78",
        "+33612345678",
        "12/03/1985",
    )


PHONES = st.sampled_from(
    [
        "06 12 34 56 78",
        "+33612345678",
        "0612345679",
        "0033 6 12 34 56 79",
        "0612",
        "",
        "+32470123456",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "a ", "B"]), PHONES), max_size=12))
def test_dedupe_property(cells: list[tuple[str, str]]) -> None:
    """At most one non-duplicate row per (list, E.164); every duplicate points at a kept row."""
    result = prepare(frame(*[(name, "FR", phone) for name, phone in cells]))
    kept = result[result["outcome"] == "planned"]
    assert not kept.duplicated(["list_key", "e164"]).any()
    for row in result[result["outcome"] == "duplicate"].to_dict("records"):
        twin = kept[(kept["list_key"] == row["list_key"]) & (kept["e164"] == row["e164"])]
        assert len(twin) == 1
        assert f"as row {int(twin['row'].iloc[0])}" in row["message"]


# --------------------------------------------------------------------------- plan


def account_list(*contacts: AccountContact, country: str = "FR") -> ListOnAccount:
    return ListOnAccount("1001", country, index_contacts(country, contacts))


def contact(number: str, **fields: str) -> AccountContact:
    return AccountContact(number, {name: fields.get(name, "") for name in CONTACT_FIELDS})


def test_plan_marks_numbers_already_in_their_list() -> None:
    columns = ("list_name", "country", "phone", "email", "last_name", "civility")
    result = prepare(
        frame(
            ("Clients", "FR", "+33 6 12 34 56 78", "a@b.fr", "", "Madame"),
            ("Clients", "FR", "06 99 99 99 99", "", "", ""),
            ("Clients", "FR", "0611111111", "new@b.fr", "Durand", "M."),
            ("Prospects", "FR", "0612345678", "", "", ""),
            columns=columns,
        )
    )
    lists = {
        "clients": account_list(
            contact("0612345678", contactEmail="A@B.FR", contactCivility="Mme"),
            contact("33611111111", contactEmail="old@b.fr", contactName="Durand"),
        )
    }
    assert plan(result, lists) == 2
    rows = by_row(result)
    assert rows[2]["outcome"] == "exists"
    assert rows[2]["message"] == "already in list 1001"  # same e-mail and civility, spelt otherwise
    assert rows[2]["list_contact_id"] == "1001"
    assert rows[3]["outcome"] == "planned"
    assert rows[3]["list_contact_id"] == "1001"
    assert rows[4]["outcome"] == "exists"
    assert rows[4]["message"] == (
        "already in list 1001; differs on the account: civility, email (not updated)"
    )
    assert rows[5]["outcome"] == "planned"  # its list is not on the account
    assert rows[5]["list_contact_id"] == ""


def test_an_empty_cell_never_differs() -> None:
    columns = ("list_name", "country", "phone", "first_name")
    result = prepare(frame(("Clients", "FR", "0612345678", ""), columns=columns))
    plan(result, {"clients": account_list(contact("+33612345678", contactFirstName="Anne"))})
    assert result.loc[0, "message"] == "already in list 1001"


def test_the_sample_file_shows_every_usual_problem() -> None:
    """sample_data/contacts.csv through the roles and prepare (read here with pandas)."""
    source = pd.read_csv(SAMPLE, sep=";", dtype=str, keep_default_na=False)
    roles = match_roles(SAMPLE.name, list(source.columns))
    data = pd.DataFrame({role.value: source.iloc[:, index] for role, index in roles.items()})
    data.insert(0, "row", range(2, len(data) + 2))
    result = prepare(data)
    counts = result["outcome"].value_counts().to_dict()
    assert counts == {"planned": 21, "invalid": 8, "duplicate": 1}
    codes = set(result["code"]) - {""}
    assert codes == {"ERR_102", "ERR_106", "ERR_107", "ERR_108", "DUPLICATE", "COUNTRY_CONFLICT"}
    rows = by_row(result)
    assert rows[6]["number"] == "+33656789012"  # the leading zero lost by a spreadsheet
    assert rows[9]["birthday"] == "" and "30/02/1992" in rows[9]["message"]
    assert rows[16]["civility"] == "" and "civility 'Dr'" in rows[16]["message"]
    assert rows[2]["birthday"] == "12/03/1985"
