"""Properties of normalization and dedupe that must hold for any text (hypothesis)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.normalize import name_key, normalize_names, prepare
from importer.records import RESULT_COLUMNS

# Any Unicode text arrow can hold (no lone surrogates), with whitespace and combining marks
# made frequent, since that is where normalization can go wrong.
awkward = st.sampled_from(
    [" ", "  ", "\t", "\n", "\u00a0", "\u202f", "\u3000", "\u0301", "\u0308", "ß", "ẞ", "İ", "ς"]
)
any_char = st.characters(exclude_categories=["Cs"])
texts = st.lists(st.one_of(any_char, awkward), max_size=20).map("".join)
text_lists = st.lists(texts, max_size=30)


def reference_normalize(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.split()))


@settings(deadline=None)  # arrow and pandas per example: timing varies on a busy machine
@given(text_lists)
def test_normalizing_twice_equals_once(values: list[str]) -> None:
    once = normalize_names(pd.Series(values, dtype="str"))
    assert normalize_names(once).tolist() == once.tolist()


@settings(deadline=None)  # arrow and pandas per example: timing varies on a busy machine
@given(text_lists)
def test_normalize_matches_python(values: list[str]) -> None:
    assert normalize_names(pd.Series(values, dtype="str")).tolist() == [
        reference_normalize(value) for value in values
    ]


@settings(deadline=None)  # arrow and pandas per example: timing varies on a busy machine
@given(text_lists)
def test_name_key_is_the_casefolded_normalized_name(values: list[str]) -> None:
    keys = name_key(pd.Series(values, dtype="str")).tolist()
    assert keys == [reference_normalize(value).casefold() for value in values]


@settings(deadline=None)
@given(st.lists(st.tuples(texts, texts), max_size=20))
def test_equal_keys_iff_casefold_equal(pairs: list[tuple[str, str]]) -> None:
    left = name_key(pd.Series([a for a, _ in pairs], dtype="str")).tolist()
    right = name_key(pd.Series([b for _, b in pairs], dtype="str")).tolist()
    for (a, b), key_a, key_b in zip(pairs, left, right, strict=True):
        same = reference_normalize(a).casefold() == reference_normalize(b).casefold()
        assert (key_a == key_b) == same


# Few distinct names and countries, so that duplicates, case variants and invalid rows abound.
names = st.sampled_from(
    ["Clients", "clients", "CLIENTS ", "Straße", "STRASSE", "Été", "E\u0301te\u0301", "", " ", "B"]
)
countries = st.sampled_from(["FR", "fr", "Allemagne", "na", "UK", "", "Atlantis", "Korea", " "])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, countries), max_size=40), st.sampled_from([None, "FR"]))
def test_prepare_dedupes_one_row_per_key(
    rows: list[tuple[str, str]], default_country: str | None
) -> None:
    source = pd.DataFrame(
        {
            "row": np.arange(2, len(rows) + 2, dtype=np.int64),
            "list_name": pd.Series([name for name, _ in rows], dtype="str"),
            "country": pd.Series([country for _, country in rows], dtype="str"),
        }
    )
    frame = prepare(source, default_country=default_country)

    # One row per input row, in input order, with every result column.
    assert list(frame.columns) == [*RESULT_COLUMNS, "name_key"]
    assert list(frame.index) == list(range(len(rows)))
    assert frame["row"].tolist() == source["row"].tolist()
    assert frame["list_name"].tolist() == source["list_name"].tolist()
    assert set(frame["outcome"]) <= {"planned", "invalid", "duplicate"}

    invalid = frame["outcome"] == "invalid"
    assert ((frame["name"] == "") | (frame["country_code"] == ""))[invalid].all()
    assert not ((frame["name"] == "") | (frame["country_code"] == ""))[~invalid].any()

    # Among valid rows: exactly one planned row per key, and it is the first one.
    valid = frame[~invalid]
    planned = valid[valid["outcome"] == "planned"]
    assert planned["name_key"].is_unique
    assert set(planned["name_key"]) == set(valid["name_key"])
    first_rows = valid.groupby("name_key", sort=False)["row"].min()
    assert planned.set_index("name_key")["row"].to_dict() == first_rows.to_dict()
    for _, duplicate in valid[valid["outcome"] == "duplicate"].iterrows():
        first_row = first_rows[duplicate["name_key"]]
        assert duplicate["message"].startswith(f"same list as row {first_row}")
        assert duplicate["code"] == "DUPLICATE"
