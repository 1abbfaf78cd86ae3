"""Tell which 8-bit encoding a CSV file that is not UTF-8 was written in, or refuse to guess.

Spreadsheet programs still write Windows-1252 (Excel on Windows), Mac Roman (old Macs), DOS
cp850 and ISO-8859-15. Every byte sequence decodes in most of them, so a wrong choice does not
fail: it sends mojibake (`ƒquipe N”mes` for `Équipe Nîmes`). Statistical detectors rank the
wrong one first too (a French cp1252 file comes out as cp1250, `à` as `ŕ`). So every distinct
non-ASCII byte is judged with the bytes either side of it, in each candidate's reading:

- *proof* against a reading: a character that never occurs in real text where it stands
  (`ƒ ” ‚ „`, `¤ ¦`, a symbol between two letters, a capital after a small letter);
- *suspect*: a sign glued to a word where another encoding may read a letter (`µlvaro`,
  `ªkoda`, `œ` before a letter other than `u` or `i` as in `Mœsica`);
- *doubt*: a letter few languages use (`š ž`) inside a word, or a no-break space glued to a
  word: Excel's French exports put one in `Jean\u00a0Dupont` and cp850 writes `á` (`Papá`)
  with the very same byte, so nothing in that byte alone tells them apart.

Windows-1252 wins when its reading is clean, or holds only doubt while no other reading is
clean. Otherwise the one other reading that is clean wins; several clean readings that
disagree are refused. When none is clean, Windows-1252 still wins if every other reading
carries more evidence (a word of every French capital and small letter); otherwise the file
is refused with one line asking for UTF-8.
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
# Characters no real text holds at all: the currency sign and the broken bar (`¦koda`, `5¤`).
_NEVER = frozenset("¤¦")
# Characters that never touch a letter in real text: the florin sign, daggers, bullets,
# spacing accents (`ƒquipe`, `cafˇ`, `Z˚rich`).
_NEVER_BY_LETTERS = frozenset("ƒ†‡•˚ˇ˘˙˛˝¸¨¯´¶§¼½¾ˆ˜")
# Opening quotes: never right after a letter (`Caf‚`, `N„mes`).
_OPENING_QUOTES = frozenset("‚„")
# Non-letters that do occur between two letters: apostrophes, hyphens, middle dot, soft hyphen.
_WORD_JOINERS = frozenset("’‘·\u00ad\u2010\u2011")
# Signs that stand for letters only in other encodings: glued to a word they are suspect
# (`µlvaro` for `Álvaro`, `ªkoda` for `Škoda`, `Pap\u00a0` for `Papá`), though a person may
# type `5 µg` or `1º`. Ordinal signs and the micro sign are not letters of words here.
_SIGNS_OF_LETTERS = frozenset("µªº¢¥¬±¹")
# What may follow a no-break space glued to a word in real text (French typography).
_AFTER_NO_BREAK = frozenset(":!?»%€")
# `œ` is followed by `u` or `i` in nearly every word that holds it (cœur, œil, manœuvre);
# before another letter it is suspect (`Mœsica` for Mac Roman `Música`).
_AFTER_OE = frozenset("ui")


@dataclass(frozen=True)
class _Reading:
    """One candidate's reading of the file and the evidence against it."""

    encoding: str
    text: str
    proof: int  # characters that cannot be inside words
    suspect: int  # signs glued to words, where another encoding may read letters
    doubt: int  # rare letters inside words

    @property
    def clean(self) -> bool:
        return self.proof == self.suspect == self.doubt == 0

    @property
    def weight(self) -> tuple[int, int, int]:
        """The evidence against this reading, strongest kind first."""
        return self.proof, self.suspect, self.doubt


@dataclass(frozen=True)
class EncodingVerdict:
    """The decoded text and its encoding, or why no encoding could be chosen."""

    encoding: str | None
    text: str | None
    why: str


def _letter(ch: str) -> bool:
    """A letter of a word: not a modifier such as `ˆ` or `˜`, nor a sign such as `µ` or `º`."""
    return ch.isalpha() and unicodedata.category(ch) != "Lm" and ch not in _SIGNS_OF_LETTERS


def _base(ch: str) -> str:
    """The letter without its accent, small: `ù` -> `u`."""
    return unicodedata.normalize("NFD", ch)[:1].casefold()


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


def _evidence(contexts: list[bytes], encoding: str) -> tuple[int, int, int]:
    """(proof, suspect, doubt): distinct non-ASCII characters where real words never put them,
    where they seldom stand, and rare letters inside words."""
    proof = suspect = doubt = 0
    for context in contexts:
        before, ch, after = tuple(context.decode(encoding))
        if _impossible(before, ch, after):
            proof += 1
        elif _unlikely(before, ch, after):
            suspect += 1
        elif _doubtful(before, ch, after):
            doubt += 1
    return proof, suspect, doubt


def _impossible(before: str, ch: str, after: str) -> bool:
    """Whether `ch` between these two characters cannot be real text."""
    return (
        ch in _NEVER
        or unicodedata.category(ch) == "Cc"  # C1 controls: ISO-8859-15 reading cp1252 bytes
        or (ch in _NEVER_BY_LETTERS and (_letter(before) or _letter(after)))
        or (ch in _OPENING_QUOTES and _letter(before))
        # `AbonnŽs`, `ZŸrich`, `CÏur`: an upper-case letter after a lower-case one, or
        # inside a word going on in lower case.
        or (ch.isupper() and (_is_lower(before) or (_letter(before) and _is_lower(after))))
        # a symbol between two letters: `N”mes`, `c½ur`
        or (
            not _letter(ch)
            and ch not in _WORD_JOINERS
            and ch != "\u00a0"
            and _letter(before)
            and _letter(after)
        )
    )


def _unlikely(before: str, ch: str, after: str) -> bool:
    """Whether `ch` between these two characters is seldom real text."""
    if ch in _SIGNS_OF_LETTERS:
        return _letter(before) or _letter(after)
    return ch in "œŒ" and _letter(after) and _base(after) not in _AFTER_OE


def _doubtful(before: str, ch: str, after: str) -> bool:
    """Whether `ch` here is real text in one language and a letter in another's encoding."""
    if ch == "\u00a0":  # a no-break space: `5\u00a0€`, `Oui\u00a0!`, but not `Pap\u00a0 y`
        return (_letter(before) and after not in _AFTER_NO_BREAK) or (
            _letter(after) and not before.isdigit() and before != "«"
        )
    return ch in _RARE_LETTERS and _letter(before) and _letter(after)


def _readings(data: bytes) -> list[_Reading]:
    readings = []
    contexts = _contexts(data)
    for encoding in CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append(_Reading(encoding, text, *_evidence(contexts, encoding)))
    return readings


def choose_8bit(data: bytes) -> EncodingVerdict:
    """Decide among :data:`CANDIDATES` for bytes that are not UTF-8 (see the module's rule)."""
    readings = _readings(data)
    first = readings[0] if readings and readings[0].encoding == "cp1252" else None
    if first is not None and first.clean:
        return EncodingVerdict(first.encoding, first.text, "")
    # Readings that differ from Windows-1252's: ISO-8859-15 mostly agrees with it.
    others = [r for r in readings if first is None or r.text != first.text]
    clean = _distinct([r for r in others if r.clean])
    if first is not None and first.proof == first.suspect == 0:
        # only rare letters: fine unless another reads it as plain words
        if clean:
            return _refuse("Windows-1252 and " + _names(clean) + " read it differently")
        return EncodingVerdict(first.encoding, first.text, "")
    if len(clean) == 1:
        return EncodingVerdict(clean[0].encoding, clean[0].text, "")
    if clean:
        return _refuse(_names(clean) + " read it differently")
    if first is not None and all(r.weight > first.weight for r in others):
        return EncodingVerdict(first.encoding, first.text, "")  # every other reads worse
    rare = _distinct([r for r in others if r.proof == r.suspect == 0])
    if len(rare) == 1:
        return EncodingVerdict(rare[0].encoding, rare[0].text, "")
    if rare:
        return _refuse(_names(rare) + " read it differently")
    return _refuse("none of " + _names(readings) + " reads it as plain words")


def _distinct(readings: list[_Reading]) -> list[_Reading]:
    """One reading per distinct text, the first candidate's."""
    seen: dict[str, _Reading] = {}
    for reading in readings:
        seen.setdefault(reading.text, reading)
    return list(seen.values())


def _names(readings: list[_Reading]) -> str:
    return ", ".join(LABELS[r.encoding] for r in readings) or "the usual 8-bit encodings"


def _refuse(why: str) -> EncodingVerdict:
    return EncodingVerdict(None, None, why)
