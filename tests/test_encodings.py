"""The 8-bit encoding decision among Windows-1252, Mac Roman, cp850 and ISO-8859-15."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.encodings import CANDIDATES, choose_8bit

LOWER = "abcdefghijklmnopqrstuvwxyzàâäçéèêëîïôöùûüÿæœñß"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒÑ"


def spelled(
    alphabet: str, oe: str, min_size: int = 0, max_size: int = 10
) -> st.SearchStrategy[str]:
    """Letters of `alphabet`; `œ` comes with the `u` that follows it in French (cœur, œuvre)."""
    units = [oe if ch in "œŒ" else ch for ch in alphabet]
    return st.lists(st.sampled_from(units), min_size=min_size, max_size=max_size).map("".join)


#: Words as people write them: lower case, a capital first, or all capitals.
word = st.one_of(
    spelled(LOWER, "œu", min_size=1),
    st.builds(str.__add__, spelled(UPPER, "Œu", 1, 1), spelled(LOWER, "œu")),
    spelled(UPPER, "ŒU", min_size=2, max_size=8),
)
#: A word with an accented letter inside: the evidence a real list name carries.
ACCENTED = "àâäçéèêëîïôöùûüÿæœñß"
accented = st.builds(
    lambda head, accent, tail: head + accent + tail,
    st.text(st.sampled_from(LOWER[:26]), min_size=1, max_size=5),
    spelled(ACCENTED, "œu", 1, 1),
    st.text(st.sampled_from(LOWER[:26]), min_size=1, max_size=5),
)
line = st.builds(
    lambda words, inside: " ".join([*words, inside]),
    st.lists(word, max_size=3),
    accented,
)
rows = st.lists(st.tuples(line, st.sampled_from(["FR", "DE", "CH"])), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(rows=rows, newline=st.sampled_from(["\r\n", "\r"]))
def test_windows_1252_text_is_always_read_as_written(rows, newline):
    """French and German names in Windows-1252 are never refused nor read another way."""
    text = "Nom;Pays" + newline + "".join(f"{a};{b}{newline}" for a, b in rows)
    verdict = choose_8bit(text.encode("cp1252"))
    assert (verdict.encoding, verdict.text) == ("cp1252", text)


FRENCH_AND_GERMAN = (
    "Nom;Pays\r\nÉquipe Genève;CH\r\nMarché de Noël, été;FR\r\nPrêt-à-porter garçon;FR\r\n"
    "Maïs naïf île;FR\r\nHôtel où août;FR\r\nCapharnaüm;BE\r\nKöln Zürich Straße;DE\r\n"
)


@pytest.mark.parametrize("encoding", CANDIDATES)
def test_french_and_german_names_are_read_right_in_each_encoding(encoding):
    verdict = choose_8bit(FRENCH_AND_GERMAN.encode(encoding))
    assert verdict.text == FRENCH_AND_GERMAN  # ISO-8859-15 and Windows-1252 agree on these
