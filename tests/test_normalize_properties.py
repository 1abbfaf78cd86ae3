"""Properties of normalization and dedupe that must hold for any text (hypothesis)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.normalize import name_key, normalize_names, prepare
from importer.records import RESULT_COLUMNS
from importer.text import JOINERS, drop_invisible, invisible_characters

# Any Unicode text arrow can hold (no lone surrogates), with whitespace and combining marks
# made frequent, since that is where normalization can go wrong.
awkward = st.sampled_from(
    [
        *(" ", "  ", "\t", "\n", "\u00a0", "\u202f", "\u3000", "\u0301", "\u0308"),
        *("ß", "ẞ", "İ", "ς"),
        *("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202e"),
    ]
)
any_char = st.characters(exclude_categories=["Cs"])
texts = st.lists(st.one_of(any_char, awkward), max_size=20).map("".join)
text_lists = st.lists(texts, max_size=30)


def reference_normalize(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(drop_invisible(text).split()))


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


#: Format characters that are never kept (the joiners are, between two visible characters).
invisible = st.sampled_from([ch for ch in invisible_characters() if ch not in JOINERS])


@settings(deadline=None)
@given(st.lists(st.tuples(texts, st.lists(st.tuples(st.integers(0, 20), invisible), max_size=4))))
def test_inserting_invisible_characters_changes_neither_name_nor_key(
    cases: list[tuple[str, list[tuple[int, str]]]],
) -> None:
    plain = [text for text, _ in cases]
    spoiled = []
    for text, insertions in cases:
        for at, ch in insertions:
            text = text[:at] + ch + text[at:]
        spoiled.append(text)
    assert (
        normalize_names(pd.Series(spoiled, dtype="str")).tolist()
        == normalize_names(pd.Series(plain, dtype="str")).tolist()
    )
    assert (
        name_key(pd.Series(spoiled, dtype="str")).tolist()
        == name_key(pd.Series(plain, dtype="str")).tolist()
    )


@given(st.text(st.sampled_from(["a", "é", "👩", "💻", " ", "\u200d", "\u200c", "\u200b"])))
def test_joiners_stay_only_between_two_visible_characters(text: str) -> None:
    cleaned = drop_invisible(text)
    assert not set(cleaned) - set("aé👩💻 \u200d\u200c")
    for at, ch in enumerate(cleaned):
        if ch in JOINERS:
            assert 0 < at < len(cleaned) - 1
            assert cleaned[at - 1] not in " \u200d\u200c" and cleaned[at + 1] not in " \u200d\u200c"


def test_every_format_character_is_unprintable_for_python_and_arrow() -> None:
    # What the fast paths of `drop_invisible` (str.isprintable) and `drop_invisible_array`
    # (arrow's utf8_is_printable) rest on: a text either one calls printable holds none.
    import pyarrow as pa
    import pyarrow.compute as pc

    characters = invisible_characters()
    assert len(characters) > 150
    assert not any(ch.isprintable() for ch in characters)
    texts = pa.array([f"a{ch}b" for ch in characters], pa.large_string())
    assert not any(pc.utf8_is_printable(texts).to_pylist())


@given(texts, st.booleans())
def test_drop_invisible_is_the_character_rule(text: str, keep_joiners: bool) -> None:
    # The fast paths change nothing: every format character goes but joiners kept between
    # two visible characters, whatever the path taken.
    cleaned = drop_invisible(text, keep_joiners=keep_joiners)
    others = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch in JOINERS)
    if not keep_joiners:
        others = "".join(ch for ch in others if ch not in JOINERS)
    assert "".join(ch for ch in cleaned if ch not in JOINERS) == "".join(
        ch for ch in others if ch not in JOINERS
    )
    assert all(unicodedata.category(ch) != "Cf" or ch in JOINERS for ch in cleaned)


@settings(deadline=None)
@given(text_lists)
def test_both_casefold_paths_give_the_same_keys(values: list[str]) -> None:
    # Few values are casefolded all at once; many, only those arrow lowers otherwise.
    import importer.normalize as normalize

    series = pd.Series(values, dtype="str")
    small = name_key(series).tolist()
    threshold = normalize.CASEFOLD_ALL_BELOW
    try:
        normalize.CASEFOLD_ALL_BELOW = 0
        large = name_key(series).tolist()
    finally:
        normalize.CASEFOLD_ALL_BELOW = threshold
    assert small == large == [key.casefold() for key in normalize_names(series).tolist()]
