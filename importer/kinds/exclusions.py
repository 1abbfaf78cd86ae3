"""Exclusions: numbers never sent, because their owner opted out — in the file or a STOP list.

An opt-out is about a person's number, not a row. A number is excluded when any row of the
file marks it opted out (an opt-out column, read by `importer.rules.optout`) or when it is in
the `--exclude` STOP list; then every row with that number, in any list, is `excluded` (code
`OPTED_OUT`), before or after the row that said so, whatever else the row says (an excluded
row is never `duplicate` nor `invalid` for its list). Numbers are compared in E.164, read with
the phone rules of `importer.rules.phones`. A row whose number cannot be read is still
excluded when its cell, cleaned (spaces and punctuation dropped, `00` read as `+`), is an
excluded number or a STOP list cell cleaned the same way; otherwise it stays `invalid`.

A STOP list is a CSV, a workbook or plain text (one number a line), read by the project's
reader (encodings, delimiters, sheets); its column is found by its header (`phone`,
`numéro`, `stop`, …) or, without a header, is the first. Numbers without a country prefix are
read with `--default-country`, else with the country of the job's one list (`--list`); without
either they are refused (exit 2) rather than guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from importer.errors import ConfigError, InputError
from importer.kinds.roles import WEAK_PHONE_ALIASES, Role, is_phone_header, recognised_keys
from importer.read import WORKBOOK_SUFFIXES, MissingColumn, read_table
from importer.records import LocalCode, Outcome
from importer.rules.optout import read_opt_out
from importer.rules.phones import e164_anywhere

log = logging.getLogger("importer")

#: Headers of a STOP list's column, besides the phone's and the opt-out's own.
STOP_HEADERS: tuple[str, ...] = (
    "numbers",
    "numéros",
    "phones",
    "phone numbers",
    "téléphones",
    "stop list",
    "liste stop",
    "exclusions",
)

#: The most numbers a STOP list may hold.
MAX_STOP_ROWS = 10_000_000

_NOT_DIGITS = re.compile(r"[^0-9]")


def clean_number(raw: str) -> str:
    """A phone cell reduced to its digits, with a leading `+` (`00` read as `+`)."""
    text = raw.strip()
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


@dataclass
class StopList:
    """The numbers of a STOP list file, as read (`--exclude`)."""

    path: Path
    entries: tuple[tuple[int, str], ...]
    """(the row you see in the file, the cell) for every non-blank cell."""
    _read: dict[str | None, dict[str, str]] = field(default_factory=dict, repr=False)

    def numbers(self, region: str | None, how: str = "") -> Mapping[str, str]:
        """Excluded number (E.164, or the cleaned cell when it is not a valid number) -> why.

        `region` reads numbers without a country prefix (`how` says where it came from, for
        the message). Raises ConfigError when some need it and it is None.
        """
        if region in self._read:
            return self._read[region]
        reasons: dict[str, str] = {}
        bare = [(row, text) for row, text in self.entries if not clean_number(text).startswith("+")]
        if bare and region is None:
            row, text = bare[0]
            raise ConfigError(
                f"{self.path}: {_count(len(bare), 'number')} without a country prefix (first: "
                f"{text!r} on row {row}): give --default-country, or a --list with its country, "
                "or write them with their prefix (+33…)"
            )
        note = f"; read as {region} ({how})" if bare and how else ""
        unread = []
        for row, text in self.entries:
            cleaned = clean_number(text)
            number = e164_anywhere(text, None if cleaned.startswith("+") else region)
            said = note if not cleaned.startswith("+") else ""
            if number is None:
                unread.append((row, text))
                if cleaned:
                    reasons.setdefault(cleaned, f"in the STOP list {self.path.name} (row {row})")
                continue
            reasons.setdefault(number, f"in the STOP list {self.path.name} (row {row}){said}")
        if bare:
            log.info(
                "%s: %s without a country prefix read as %s (%s)",
                self.path,
                _count(len(bare), "number"),
                region,
                how,
            )
        if unread:
            row, text = unread[0]
            log.warning(
                "%s: not a valid phone number in %s (first: %r on row %d); each excludes only "
                "rows whose phone cell is the same once cleaned",
                self.path,
                _count(len(unread), "cell"),
                text,
                row,
            )
        self._read[region] = reasons
        return reasons


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def read_stop_list(path: Path, *, max_rows: int = 1_000_000) -> StopList:
    """Read a STOP list (CSV, workbook or plain text). InputError names the file."""
    known = recognised_keys()
    read_numbers = partial(
        read_table,
        path,
        max_rows=max_rows,
        country_required=False,
        name_role="number",
        name_option="a header such as 'phone'",
    )
    first: tuple[int, str] | None = None
    try:
        try:
            table = read_numbers(
                name_aliases=(*known[Role.PHONE], *WEAK_PHONE_ALIASES, *STOP_HEADERS),
                name_test=is_phone_header,
            )
        except MissingColumn:
            # An opt-out header (`Unsubscribed`) holds the numbers only when no column is
            # the phone's: beside one, it holds the flag of each number.
            table = read_numbers(name_aliases=tuple(known[Role.OPT_OUT]))
    except InputError as error:
        first, more = _first_cell(path)
        if first is None or len(_NOT_DIGITS.sub("", first[1])) < 6:
            raise InputError(
                f"{error} (a STOP list holds one number per row, under a header such as "
                "'phone' or none)"
            ) from None
        if not more:  # one number, alone in the file
            return StopList(Path(path), ((first[0], first[1].strip()),))
        table = read_table(
            path,
            name_column=first[1],
            max_rows=max_rows,
            country_required=False,
            name_role="number",
            name_option="--exclude",
        )
    frame = table.frame
    cells = frame["list_name"].astype(str).str.strip()
    entries = [(int(row), text) for row, text in zip(frame["row"], cells, strict=True) if text]
    if first is not None:
        entries.insert(0, (first[0], first[1].strip()))
    return StopList(Path(path), tuple(entries))


@lru_cache(maxsize=4)
def read_stop_list_once(path: Path, mtime_ns: int, size: int) -> StopList:
    """`read_stop_list`, once per file version (its modification time and size)."""
    return read_stop_list(path, max_rows=MAX_STOP_ROWS)


def _first_cell(path: Path) -> tuple[tuple[int, str] | None, bool]:
    """The first non-blank cell of a file without a header (its row, its text), or None; and
    whether another non-blank row follows it."""
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        import python_calamine

        from importer.cells import cell_text

        try:
            with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
                grid = workbook.get_sheet_by_index(0).to_python()
        except Exception:  # a damaged workbook: the reader said why already
            return None, False
        texts = [[cell_text(cell).strip() for cell in row] for row in grid[:50]]
        found = [
            (at, next(cell for cell in row if cell))
            for at, row in enumerate(texts, start=1)
            if any(row)
        ]
    else:
        try:
            text = path.read_bytes()[:4096].decode("utf-8-sig", errors="replace")
        except OSError:
            return None, False
        firsts = [
            (at, re.split(r"[,;\t|]", line)[0].strip().strip('"'))
            for at, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lower().startswith("sep=")
        ]
        found = [(at, cell) for at, cell in firsts if cell]
    return (found[0] if found else None), len(found) > 1


@dataclass(frozen=True)
class Exclusions:
    """What `mark` needs besides the frame: the opt-out column and the STOP list."""

    opt_out: pd.Series | None = None
    """The opt-out column's cells, by row position (None: no such column)."""
    opt_out_header: str = ""
    stop: StopList | None = None
    stop_region: str | None = None
    stop_region_how: str = ""
    list_unusable: np.ndarray | None = None
    """By row position, whether the row's list (its name or country) is unusable: an opt-out
    still wins there (the row is `excluded`, not `invalid`)."""


def mark(frame: pd.DataFrame, regions: np.ndarray, how: Exclusions) -> None:
    """Make every row whose number is excluded `excluded` (code `OPTED_OUT`), in place.

    In: `kinds.contacts.prepare`'s frame (`row`, `phone`, `e164`, outcome columns), each row's
    country for reading its number when it has none in E.164 (the list's, else the file's).
    An opted-out row whose number cannot be read at all stays `invalid`, its message saying
    it opted out, unless only its list is unusable (`Exclusions.list_unusable`): opt-outs win.
    """
    excluded: dict[str, str] = (
        dict(how.stop.numbers(how.stop_region, how.stop_region_how))
        if (how.stop is not None)
        else {}
    )
    count = len(frame)
    rows = frame["row"].to_numpy()
    raw = frame["phone"].astype(str).to_numpy(dtype=object)
    e164 = frame["e164"].astype(str).to_numpy(dtype=object)
    opted = np.zeros(count, dtype=bool)
    notes = np.full(count, "", dtype=object)
    if how.opt_out is not None:
        codes, uniques = pd.factorize(how.opt_out.fillna("").astype(str), use_na_sentinel=False)
        said = [read_opt_out(str(value)) for value in uniques]
        opted = np.array([r.opted_out for r in said], dtype=bool)[codes]
        notes = np.array([r.note for r in said], dtype=object)[codes]
        cells = how.opt_out.astype(str).to_numpy(dtype=object)
        for i in np.flatnonzero(opted).tolist():
            number = e164[i] or e164_anywhere(raw[i], regions[i] or None)
            if number:
                excluded.setdefault(
                    number,
                    f"opted out on row {rows[i]} ({how.opt_out_header}: {cells[i].strip()!r})",
                )
    listless = opted & (how.list_unusable if how.list_unusable is not None else False)
    if not excluded and not listless.any():
        return
    reasons = pd.Series(e164).map(excluded).to_numpy(dtype=object)
    for i in np.flatnonzero(e164 == "").tolist():
        number = e164_anywhere(raw[i], regions[i] or None)
        cleaned = clean_number(raw[i])
        reasons[i] = excluded.get(number or "") or (excluded.get(cleaned) if cleaned else None)
        if reasons[i] is None and listless[i] and how.opt_out is not None:
            cell = str(how.opt_out.iloc[i]).strip()
            reasons[i] = f"opted out on row {rows[i]} ({how.opt_out_header}: {cell!r})"
    hit = pd.notna(reasons)
    if not hit.any():
        return
    numbers = np.where(e164 != "", e164, raw)
    messages = [
        f"not sent: {numbers[i]} {reasons[i]}" + (f"; {notes[i]}" if notes[i] else "")
        for i in np.flatnonzero(hit).tolist()
    ]
    frame.loc[hit, "outcome"] = Outcome.EXCLUDED.value
    frame.loc[hit, "code"] = LocalCode.OPTED_OUT.value
    frame.loc[hit, "message"] = messages
    lost = pd.Series(opted & ~hit, index=frame.index)
    if lost.any():
        before = frame.loc[lost, "message"].astype(str)
        frame.loc[lost, "message"] = before + "; the row opted out: not sent anyway"


def opted_out_results(outcomes: pd.Series, codes: pd.Series) -> pd.Series:
    """A results file of ours read back (the undo of a sync): which rows say their number
    opted out. One rule: an `excluded` row, or any row with code `OPTED_OUT` (a sync's removal
    of an excluded number is `deleted` with that code), so the undo never puts it back."""
    excluded = outcomes.str.strip().str.casefold() == Outcome.EXCLUDED.value
    return excluded | (codes.str.strip().str.upper() == LocalCode.OPTED_OUT.value)


def excluded_numbers(frame: pd.DataFrame, how: Exclusions) -> frozenset[str]:
    """Every excluded number in E.164: the excluded rows' and the STOP list's."""
    rows = frame.loc[frame["outcome"] == Outcome.EXCLUDED, "e164"].astype(str)
    numbers = {number for number in rows if number}
    if how.stop is not None:
        stop = how.stop.numbers(how.stop_region, how.stop_region_how)
        numbers |= {number for number in stop if number.startswith("+")}
    return frozenset(numbers)


def present_in_lists(
    frame: pd.DataFrame,
    numbers: frozenset[str],
    lists: Mapping[str, Mapping[str, object]],
    *,
    sync: bool = False,
) -> dict[str, list[str]]:
    """List key -> the excluded numbers (E.164) that list already holds on the account.

    In: the prepared frame (for the lists' names in messages), the excluded numbers and each
    target list's contacts by E.164, by list key (`ListOnAccount.contacts`). Keyed like the
    frame's `list_key`, so `--sync` can remove them. Each list found is logged as a warning,
    saying what becomes of them (`sync`: this `--sync` removes them).
    """
    if not numbers:
        return {}
    names = frame.drop_duplicates("list_key").set_index("list_key")["list_name"]
    present: dict[str, list[str]] = {}
    for key, contacts in lists.items():
        found = sorted(numbers & contacts.keys())
        if found:
            name = str(names.get(key, key))
            present[key] = found
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            log.warning(
                "list %r already holds %s (%s): %s",
                name,
                _count(len(found), "excluded number"),
                shown,
                "--sync removes them (within --max-delete)"
                if sync
                else "an import leaves them there; --sync removes them",
            )
    return present
