"""Tell which 8-bit encoding a CSV file that is not UTF-8 was written in, or refuse to guess.

Spreadsheet programs still write Windows-1252 (Excel on Windows), Mac Roman (old Macs), DOS
cp850 and ISO-8859-15. Every byte sequence decodes in most of them, so a wrong choice does not
fail: it sends mojibake (`ƒquipe N”mes` for `Équipe Nîmes`). Statistical detectors rank the
wrong one first too (a French cp1252 file comes out as cp1250, `à` as `ŕ`). The rule here is
the issue's: Windows-1252 wins unless its reading puts characters that never occur inside
words in real text (`ƒ ” ‚ „`, symbols, `Ž Ÿ` or any capital after a small letter)
inside words and another candidate's reading does not; when the evidence does not settle it,
the file is refused with one line asking for UTF-8.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["CANDIDATES", "EncodingVerdict", "choose_8bit"]

#: The 8-bit encodings considered, Windows-1252 first: it wins unless the evidence is against it.
CANDIDATES: tuple[str, ...] = ("cp1252", "mac_roman", "cp850", "iso8859_15")

#: Names shown to the operator.
LABELS = {
    "cp1252": "Windows-1252",
    "mac_roman": "Mac Roman",
    "cp850": "DOS cp850",
    "iso8859_15": "ISO-8859-15",
}

# Letters that real words hold only in a few languages (Czech, Finnish, Estonian names): a
# reading that shows them inside words is suspect, but not proof of another encoding.
_RARE_LETTERS = frozenset("šžŠŽ")
# Characters that never touch a letter in real text: the florin sign, daggers, bullets,
# spacing accents (`ƒquipe`, `cafˇ`, `Z˚rich`).
_NEVER_BY_LETTERS = frozenset("ƒ†‡•˚ˇ˘˙˛˝¸¨¯´¶§¤¼½¾ˆ˜")
# Opening quotes: never right after a letter (`Caf‚`, `N„mes`).
_OPENING_QUOTES = frozenset("‚„")
# Non-letters that do occur between two letters: apostrophes, hyphens, middle dot, soft hyphen.
_WORD_JOINERS = frozenset("’‘·\u00ad\u2010\u2011")


@dataclass(frozen=True)
class _Reading:
    """One candidate's reading of the file and the evidence against it."""

    encoding: str
    text: str
    proof: int  # characters that cannot be inside words
    doubt: int  # rare letters inside words


@dataclass(frozen=True)
class EncodingVerdict:
    """The decoded text and its encoding, or why no encoding could be chosen."""

    encoding: str | None
    text: str | None
    why: str


def _letter(ch: str) -> bool:
    """A letter of a word: not a modifier such as `ˆ` or `˜`, which stand alone."""
    return ch.isalpha() and unicodedata.category(ch) != "Lm"


def _is_lower(ch: str) -> bool:
    return _letter(ch) and ch.islower()


def _contexts(data: bytes) -> list[bytes]:
    """Every distinct non-ASCII byte with the bytes either side (a space at the ends).

    The candidates are all one byte per character, so judging these few thousand triples
    judges the whole file, in milliseconds.
    """
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    at = np.flatnonzero(raw >= 0x80)
    padded = np.concatenate(([0x20], raw, [0x20])).astype(np.int32)
    codes = np.unique((padded[at] << 16) | (padded[at + 1] << 8) | padded[at + 2])
    return [code.to_bytes(3, "big") for code in codes.tolist()]


def _evidence(contexts: list[bytes], encoding: str) -> tuple[int, int]:
    """(proof, doubt): distinct non-ASCII characters in places real words never put them."""
    proof = doubt = 0
    for context in contexts:
        before, ch, after = tuple(context.decode(encoding))
        if unicodedata.category(ch) == "Cc":
            proof += 1  # C1 control codes: ISO-8859-15 reading Windows-1252 bytes
            continue
        inside = _letter(before) and _letter(after)
        if (
            (ch in _NEVER_BY_LETTERS and (_letter(before) or _letter(after)))
            or (ch in _OPENING_QUOTES and _letter(before))
            # `AbonnŽs`, `ZŸrich`, `CÏur`: an upper-case letter after a lower-case one, or
            # inside a word going on in lower case.
            or (ch.isupper() and (_is_lower(before) or (_letter(before) and _is_lower(after))))
            # a symbol between two letters: `N”mes`, `c½ur`
            or (not _letter(ch) and ch not in _WORD_JOINERS and inside)
        ):
            proof += 1
        elif ch in _RARE_LETTERS and inside:
            doubt += 1
    return proof, doubt


def _readings(data: bytes) -> list[_Reading]:
    readings = []
    contexts = _contexts(data)
    for encoding in CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        proof, doubt = _evidence(contexts, encoding)
        readings.append(_Reading(encoding, text, proof, doubt))
    return readings


def choose_8bit(data: bytes) -> EncodingVerdict:
    """Decide among :data:`CANDIDATES` for bytes that are not UTF-8 (see the module's rule)."""
    readings = _readings(data)
    first = readings[0] if readings and readings[0].encoding == "cp1252" else None
    if first is not None and first.proof == first.doubt == 0:
        return EncodingVerdict(first.encoding, first.text, "")
    others = [r for r in readings if r is not first]
    clean = [r for r in others if r.proof == r.doubt == 0]
    if first is not None and first.proof == 0:  # only rare letters: fine unless another is clean
        if clean:
            return _refuse("Windows-1252 and " + _names(clean) + " read it differently")
        return EncodingVerdict(first.encoding, first.text, "")
    for group in (clean, [r for r in others if r.proof == 0]):
        if len({r.text for r in group}) == 1:
            return EncodingVerdict(group[0].encoding, group[0].text, "")
        if group:
            return _refuse(_names(group) + " read it differently")
    return _refuse("none of " + _names(readings) + " reads it as plain words")


def _names(readings: list[_Reading]) -> str:
    return ", ".join(LABELS[r.encoding] for r in readings) or "the usual 8-bit encodings"


def _refuse(why: str) -> EncodingVerdict:
    return EncodingVerdict(None, None, why)
