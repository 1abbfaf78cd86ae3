"""Normalization, country resolution, validation and dedupe of the rows read from a file."""

from __future__ import annotations

import gettext
import unicodedata

import numpy as np
import pandas as pd
import pycountry
import pytest

from importer import errors
from importer.normalize import (
    COUNTRY_ALIASES,
    country_code_for,
    fold_country,
    name_key,
    normalize_names,
    prepare,
    resolve_countries,
)
from importer.records import RESULT_COLUMNS


def source(rows: list[tuple[str, str]], first_row: int = 2) -> pd.DataFrame:
    """A frame shaped like read.py's: row numbers as the operator sees them, cells as text."""
    return pd.DataFrame(
        {
            "row": np.arange(first_row, first_row + len(rows), dtype=np.int64),
            "list_name": pd.Series([name for name, _ in rows], dtype="str"),
            "country": pd.Series([country for _, country in rows], dtype="str"),
        }
    )


# --------------------------------------------------------------------------- countries


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("FR", "FR"),
        ("fr", "FR"),
        ("Fr", "FR"),
        ("France", "FR"),
        ("France ", "FR"),
        ("  france\t", "FR"),
        ("FRANCE", "FR"),
        ("fra", "FR"),
        ("FRA", "FR"),
        ("République française", "FR"),
        ("Allemagne", "DE"),
        ("allemagne", "DE"),
        ("ALLEMAGNE", "DE"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("deu", "DE"),
        ("de", "DE"),
        ("États-Unis", "US"),
        ("Etats Unis", "US"),
        ("etats-unis", "US"),
        ("ÉTATS-UNIS D'AMÉRIQUE", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("US", "US"),
        ("America", "US"),
        ("Royaume-Uni", "GB"),
        ("Royaume Uni", "GB"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Angleterre", "GB"),
        ("GB", "GB"),
        ("gbr", "GB"),
        ("na", "NA"),
        ("NA", "NA"),
        ("Namibia", "NA"),
        ("Namibie", "NA"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Côte d’Ivoire", "CI"),
        ("cote d ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("South Korea", "KR"),
        ("Corée du Sud", "KR"),
        ("North Korea", "KP"),
        ("Corée du Nord", "KP"),
        ("Holland", "NL"),
        ("Pays-Bas", "NL"),
        ("The Netherlands", "NL"),
        ("Russia", "RU"),
        ("Russie", "RU"),
        ("Russian Federation", "RU"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Viêt Nam", "VN"),
        ("Iran", "IR"),
        ("Syria", "SY"),
        ("Syrie", "SY"),
        ("Bolivia", "BO"),
        ("Bolivie", "BO"),
        ("Venezuela", "VE"),
        ("Tanzania", "TZ"),
        ("Moldova", "MD"),
        ("Moldavie", "MD"),
        ("Laos", "LA"),
        ("LA", "LA"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Tchéquie", "CZ"),
        ("République tchèque", "CZ"),
        ("Macedonia", "MK"),
        ("North Macedonia", "MK"),
        ("Swaziland", "SZ"),
        ("Eswatini", "SZ"),
        ("Burma", "MM"),
        ("Myanmar", "MM"),
        ("Cape Verde", "CV"),
        ("Cap-Vert", "CV"),
        ("Vatican", "VA"),
        ("Holy See", "VA"),
        ("Palestine", "PS"),
        ("Taiwan", "TW"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Turquie", "TR"),
        ("The Gambia", "GM"),
        ("Trinidad & Tobago", "TT"),
        ("Trinité-et-Tobago", "TT"),
        ("St Lucia", "LC"),
        ("St. Lucia", "LC"),
        ("Sainte-Lucie", "LC"),
        ("Saint-Martin", "MF"),
        ("Sint Maarten", "SX"),
        ("Congo", "CG"),
        ("DRC", "CD"),
        ("Democratic Republic of the Congo", "CD"),
        ("République démocratique du Congo", "CD"),
        ("Réunion", "RE"),
        ("La Réunion", "RE"),
        ("Espagne", "ES"),
        ("Belgique", "BE"),
        ("Suisse", "CH"),
        ("Maroc", "MA"),
        ("Sénégal", "SN"),
        ("Guinée équatoriale", "GQ"),
        ("Åland Islands", "AX"),
        ("Straße", None),  # casefolds to "strasse": not a country, not a crash
    ],
)
def test_country_code_for(value: str, expected: str | None) -> None:
    assert country_code_for(value) == expected


@pytest.mark.parametrize(
    "value", ["Atlantis", "Kosovo", "XK", "EU", "Europe", "F R", "123", "The", "FRANCEE", "?"]
)
def test_unknown_country_is_none(value: str) -> None:
    assert country_code_for(value) is None


@pytest.mark.parametrize("value", ["Korea", "Corée", "Virgin Islands"])
def test_ambiguous_country_is_none(value: str) -> None:
    assert country_code_for(value) is None


@pytest.mark.parametrize("value", ["", " ", "\t", "\u00a0", " \u3000 "])
def test_empty_country_is_empty(value: str) -> None:
    assert country_code_for(value) == ""


def test_every_iso_code_and_name_resolves_to_its_country() -> None:
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    wrong = []
    for country in pycountry.countries:
        spellings = [country.alpha_2, country.alpha_3, country.alpha_2.lower()]
        for attr in ("name", "official_name", "common_name"):
            english = getattr(country, attr, None)
            if english:
                spellings += [english, french.gettext(english), english.upper()]
        for spelling in spellings:
            found = country_code_for(spelling)
            if found != country.alpha_2:
                wrong.append((spelling, country.alpha_2, found))
    assert wrong == []


@pytest.mark.parametrize(("alias", "code"), sorted(COUNTRY_ALIASES.items()))
def test_every_alias_resolves_to_its_code(alias: str, code: str) -> None:
    assert pycountry.countries.get(alpha_2=code) is not None
    assert country_code_for(alias) == code


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Côte d'Ivoire", "cote ivoire"),
        ("  ÉTATS--UNIS  ", "etats unis"),
        ("U.S.A.", "usa"),
        ("St. Kitts & Nevis", "saint kitts nevis"),
        ("Saint-Vincent-et-les-Grenadines", "saint vincent grenadines"),
        ("la", "la"),
        ("The", "the"),
        ("Færøerne", "faeroerne"),
        ("", ""),
    ],
)
def test_fold_country(text: str, folded: str) -> None:
    assert fold_country(text) == folded


def test_resolve_countries_keeps_index_and_marks_unknown_missing() -> None:
    values = pd.Series(["fr", "", "Atlantis", "Allemagne", None], index=[10, 11, 12, 13, 14])
    resolved = resolve_countries(values)
    assert list(resolved.index) == [10, 11, 12, 13, 14]
    assert resolved[10] == "FR"
    assert resolved[11] == ""
    assert pd.isna(resolved[12])
    assert resolved[13] == "DE"
    assert resolved[14] == ""


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Clients", "Clients"),
        ("  Clients  ", "Clients"),
        ("Clients\u00a0Paris", "Clients Paris"),
        ("\u00a0Clients\u00a0", "Clients"),
        ("Clients\tParis", "Clients Paris"),
        ("Clients\r\nParis", "Clients Paris"),
        ("Clients     Paris", "Clients Paris"),
        ("Clients \u00a0\t Paris", "Clients Paris"),
        ("Clients\u202fParis", "Clients Paris"),
        ("Clients\u3000Paris", "Clients Paris"),
        ("Clients\u2003Paris", "Clients Paris"),
        ("Cafe\u0301", "Café"),
        ("E\u0301te\u0301 2024", "Été 2024"),
        ("e\u00a0\u0301", "e \u0301"),
        ("\u0301", "\u0301"),
        ("Straße", "Straße"),
        ("007", "007"),
        ("None", "None"),
        ("NA", "NA"),
        ("", ""),
        ("   ", ""),
        ("\u00a0\t", ""),
        ("a\x00 b", "a\x00 b"),
    ],
)
def test_normalize_names(raw: str, expected: str) -> None:
    normalized = normalize_names(pd.Series([raw], dtype="str"))
    assert normalized.tolist() == [expected]
    assert unicodedata.is_normalized("NFC", normalized[0])


def test_normalize_names_keeps_index_and_turns_missing_into_empty() -> None:
    names = pd.Series(["a", None, " b "], index=[5, 6, 7], dtype=object)
    assert normalize_names(names).to_dict() == {5: "a", 6: "", 7: "b"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Clients", "CLIENTS"),
        ("Clients  Paris", "clients\u00a0paris"),
        ("Straße", "STRASSE"),
        ("Été", "E\u0301TE\u0301"),
        ("ΣΟΦΟΣ", "σοφος"),
        ("ﬁchiers", "FICHIERS"),
    ],
)
def test_name_key_ignores_case_and_spacing(first: str, second: str) -> None:
    keys = name_key(pd.Series([first, second], dtype="str"))
    assert keys[0] == keys[1]


@pytest.mark.parametrize(("first", "second"), [("Clients", "Client"), ("Été", "Ete")])
def test_name_key_keeps_different_names_apart(first: str, second: str) -> None:
    keys = name_key(pd.Series([first, second], dtype="str"))
    assert keys[0] != keys[1]


# --------------------------------------------------------------------------- prepare


def test_prepare_outcomes_codes_and_messages() -> None:
    frame = prepare(
        source(
            [
                ("Clients  Paris", "Allemagne"),  # 2 planned
                ("clients paris", "DE"),  # 3 duplicate of 2, same country
                ("CLIENTS\u00a0PARIS", "fr"),  # 4 duplicate of 2, other country
                ("", "FR"),  # 5 empty name
                ("Prospects", ""),  # 6 empty country
                ("Newsletter", "Atlantis"),  # 7 unknown country
                ("Newsletter", "na"),  # 8 planned: the invalid row 7 claims nothing
                ("Asia", "Korea"),  # 9 ambiguous country
                ("   ", "Atlantis"),  # 10 empty name and bad country
            ]
        )
    )
    assert list(frame.columns) == [*RESULT_COLUMNS, "name_key"]
    assert frame["row"].tolist() == list(range(2, 11))
    assert frame["outcome"].tolist() == [
        "planned",
        "duplicate",
        "duplicate",
        "invalid",
        "invalid",
        "invalid",
        "planned",
        "invalid",
        "invalid",
    ]
    assert frame["code"].tolist() == [
        "",
        "DUPLICATE",
        "DUPLICATE",
        "ERR_101",
        "ERR_102",
        "ERR_103",
        "",
        "ERR_103",
        "ERR_101",
    ]
    assert frame["country_code"].tolist() == ["DE", "DE", "FR", "FR", "", "", "NA", "", ""]
    assert frame["name"].tolist()[:3] == ["Clients Paris", "clients paris", "CLIENTS PARIS"]
    messages = frame["message"].tolist()
    assert messages[0] == ""
    assert messages[1] == "same list as row 2"
    assert messages[2] == "same list as row 2 (country differs: FR here, DE there)"
    assert messages[3] == "list name is empty"
    assert "empty" in messages[4] and "default country" in messages[4]
    assert '"Atlantis"' in messages[5] and "ISO code" in messages[5]
    assert messages[6] == ""
    assert '"Korea"' in messages[7] and "KP" in messages[7] and "KR" in messages[7]
    assert messages[8].startswith("list name is empty") and '"Atlantis"' in messages[8]


def test_prepare_keeps_cells_as_read_and_fills_send_columns() -> None:
    frame = prepare(source([(" Clients ", " france "), ("007", "NA")], first_row=5))
    assert frame["list_name"].tolist() == [" Clients ", "007"]
    assert frame["country"].tolist() == [" france ", "NA"]
    assert frame["name"].tolist() == ["Clients", "007"]
    assert frame["country_code"].tolist() == ["FR", "NA"]
    assert frame["row"].tolist() == [5, 6]
    assert frame["list_contact_id"].tolist() == ["", ""]
    assert frame["attempts"].tolist() == [0, 0]
    assert frame["name_key"].tolist() == ["clients", "007"]


def test_prepare_default_country_fills_empty_cells_only() -> None:
    frame = prepare(source([("A", ""), ("B", "DE"), ("C", " ")]), default_country="fr")
    assert frame["country_code"].tolist() == ["FR", "DE", "FR"]
    assert frame["outcome"].tolist() == ["planned"] * 3


@pytest.mark.parametrize("default_country", [None, "", "  "])
def test_prepare_without_default_country_flags_empty(default_country: str | None) -> None:
    frame = prepare(source([("A", "")]), default_country=default_country)
    assert frame["code"].tolist() == ["ERR_102"]


@pytest.mark.parametrize("default_country", ["Atlantis", "Korea"])
def test_prepare_refuses_a_default_country_that_is_not_one(default_country: str) -> None:
    with pytest.raises(errors.ConfigError, match=default_country):
        prepare(source([("A", "")]), default_country=default_country)


def test_prepare_index_is_positional_whatever_the_input_index() -> None:
    raw = source([("A", "FR"), ("a", "FR"), ("B", "FR")])
    raw.index = [30, 10, 20]
    frame = prepare(raw)
    assert list(frame.index) == [0, 1, 2]
    assert frame["outcome"].tolist() == ["planned", "duplicate", "planned"]
    assert frame["message"][1] == "same list as row 2"


def test_prepare_empty_frame() -> None:
    frame = prepare(source([]))
    assert list(frame.columns) == [*RESULT_COLUMNS, "name_key"]
    assert len(frame) == 0


def test_prepare_everything_valid_and_distinct() -> None:
    frame = prepare(source([(f"List {i}", "FR") for i in range(50)]))
    assert set(frame["outcome"]) == {"planned"}
    assert set(frame["message"]) == {""}


def test_prepare_dtypes() -> None:
    frame = prepare(source([("A", "FR"), ("", "")]))
    assert frame["row"].dtype == np.int64
    assert frame["attempts"].dtype == np.int64
    for column in ("list_name", "country", "name", "country_code", "outcome", "code", "message"):
        assert frame[column].dtype == "str", column


def test_name_key_casefolds_every_cased_character_like_python() -> None:
    cased = [
        chr(cp)
        for cp in range(0x20000)
        if not 0xD800 <= cp < 0xE000 and (chr(cp).casefold() != chr(cp) or chr(cp).isupper())
    ]
    names = [f"Liste {ch} {ch}x" for ch in cased]
    expected = [unicodedata.normalize("NFC", name).casefold() for name in names]
    assert name_key(pd.Series(names, dtype="str")).tolist() == expected
