"""Text rules shared by every stage that compares text: invisible characters.

Names pasted from web pages, chat tools and word processors carry characters nobody sees:
zero-width spaces, word joiners, a byte-order mark inside the text, soft hyphens,
left-to-right and right-to-left marks. They are Unicode's format characters (category Cf).
Two names that look the same must be the same list, so every place that compares or sends
text (list names, countries, headers) removes them with :func:`drop_invisible` (or its
column form :func:`drop_invisible_array`) before anything else.

The one exception: the zero-width joiner and non-joiner (U+200D, U+200C) are kept between two
visible characters, where they belong to an emoji sequence (👩‍💻) or to a Persian or Indic word
(می‌خواهم); anywhere else (at an end, next to a space) they go too.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["JOINERS", "drop_invisible", "drop_invisible_array", "invisible_characters"]

#: Zero-width non-joiner and joiner: kept between two visible characters.
JOINERS = frozenset({"\u200c", "\u200d"})

# Categories of characters that are not "visible" next to a joiner: format, control, spaces.
_NOT_VISIBLE = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


@cache
def invisible_characters() -> tuple[str, ...]:
    """Every format character (Cf) of this Python's Unicode version, joiners included.

    Format characters live in planes 0 and 1 and among the tags of plane 14; the planes of
    ideographs and private use between them hold none, so they are not scanned.
    """
    points = itertools.chain(range(0x20000), range(0xE0000, 0xE1000))
    # Every Cf character is unprintable (`str.isprintable`): only those are looked up.
    unprintable = itertools.filterfalse(str.isprintable, map(chr, points))
    return tuple(ch for ch in unprintable if unicodedata.category(ch) == "Cf")


@cache
def _pattern() -> re.Pattern[str]:
    return re.compile("[" + "".join(map(re.escape, invisible_characters())) + "]")


@cache
def _re2_class() -> str:
    return "[" + "".join(f"\\x{{{ord(ch):04X}}}" for ch in invisible_characters()) + "]"


def _visible(ch: str) -> bool:
    return unicodedata.category(ch) not in _NOT_VISIBLE


def _keep(match: re.Match[str]) -> str:
    ch = match.group()
    if ch not in JOINERS:
        return ""
    text, at = match.string, match.start()
    if 0 < at < len(text) - 1 and _visible(text[at - 1]) and _visible(text[at + 1]):
        return ch
    return ""


def drop_invisible(text: str, *, keep_joiners: bool = True) -> str:
    """`text` without format characters (Cf); joiners stay between two visible characters.

    Other format characters go first, so a zero-width space next to a joiner changes nothing:
    inserting any Cf character but U+200C/U+200D never changes the result. Codes and other
    text that never holds an emoji or a Persian or Indic word pass `keep_joiners=False`.
    """
    if text.isprintable():  # no format character: the common case, without the pattern
        return text
    if not keep_joiners:
        # Character by character, without the pattern: header and code keys are short, and
        # building the pattern scans Unicode (~20 ms), which `--help` must not pay.
        return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    pattern = _pattern()
    if not pattern.search(text):
        return text
    others = "".join(ch for ch in text if ch in JOINERS or unicodedata.category(ch) != "Cf")
    return pattern.sub(_keep, others)


def drop_invisible_array(values: pa.Array) -> pa.Array:
    """:func:`drop_invisible` on every value of an arrow text array (only rows holding one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) == 0 or pc.all(pc.string_is_ascii(values)).as_py():
        return values
    # Format characters are unprintable for arrow too (a test checks each): printable values
    # need no look at the characters' list.
    if pc.all(pc.fill_null(pc.utf8_is_printable(values), True)).as_py():
        return values
    holds = pc.fill_null(pc.match_substring_regex(values, pattern=_re2_class()), False)
    if not pc.any(holds).as_py():
        return values
    fixed = pa.array([drop_invisible(text) for text in values.filter(holds).to_pylist()])
    return pc.replace_with_mask(values, holds, fixed.cast(values.type))
