"""Contacts: `validate` on a million-contact CSV beside a bare phonenumbers loop on its numbers."""

from __future__ import annotations

import csv
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    CLI,
    CLI_SHOWN,
    PYTHON,
    Report,
    Timed,
    Workspace,
    at_most,
    interleaved,
    parse_summary,
    seconds_text,
    timed_run,
)

KEY = "contacts"
TITLE = "Contacts validate (1,000,000-contact CSV)"
ROWS = 1_000_000
DISTINCT = 950_000
ROUNDS = 2
MAX_RSS_MB = 1000
MAX_RATIO = 1.5

#: The reference: parse, validate and format the phone column with phonenumbers, each distinct
#: (raw number, region) once — what any correct importer must at least do.
BARE_LOOP = """\
import sys
import pyarrow.csv as pacsv
import phonenumbers
from phonenumbers import PhoneNumberFormat

table = pacsv.read_csv(sys.argv[1], parse_options=pacsv.ParseOptions(delimiter=";"))
phones = table.column("Téléphone").to_pylist()
countries = table.column("Pays").to_pylist()
seen = {}
for raw, region in zip(phones, countries):
    key = (raw, region)
    if key in seen:
        continue
    try:
        number = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        seen[key] = None
        continue
    valid = phonenumbers.is_valid_number(number)
    seen[key] = phonenumbers.format_number(number, PhoneNumberFormat.E164) if valid else None
print(sum(1 for value in seen.values() if value))
"""

METHOD = f"""\
A generated {ROWS:,}-row contacts CSV (`Liste;Pays;Civilité;Nom;Prénom;Téléphone;Email`, 100
French lists, {DISTINCT:,} distinct mobile numbers, the other rows repeats written another way:
`06 12 34 56 78`, `+33 6…`, `0033…`, `612345678`). Both sides are fresh processes, timed from
spawn to exit (imports included), taking turns {ROUNDS} times; the figure is the minimum.

- **Importer**: `{CLI_SHOWN} validate contacts.csv -o out.csv` (read every column, normalize and
  check the numbers and the fields, dedupe, write the 16-column results CSV).
- **Bare loop**: a Python process that reads the CSV with pyarrow and parses, validates and
  formats the phone column with `phonenumbers`, each distinct (raw number, region) once.

### Where the time goes (profiles of the importer on this benchmark)

Before this round's work (cProfile of `validate` on the million rows, cumulative seconds under
the profiler, 360 s in all): the phone column 215 s (`normalize_phone` × 989,856 distinct
(cell, region): `phonenumbers.parse` 97 s, `number_type` 73 s, the overseas-territory check
35 s for the 188,714 numbers valid nowhere in France); the optional fields 126 s, of which
`email_validator.validate_email` × 666,666 = 106 s (68 s of it the host name's Unicode rules);
reading 4 s (one parse of the file per role). Peak RSS was set while the results frame was
built from ~20 object arrays (a Python string per cell).

Changed: a territory's calling code is tried only when the number fits one of its regions'
general patterns (phonenumbers' own metadata: 35 s -> ~1 s); numbers checked per distinct
(cell, region) found by integer codes, results kept as string lists, list keys/names/countries
one string per distinct value, names in Arrow (peak 2.0 GB -> ~1.0 GB); duplicates keyed the
same way. After, by stage (load average ~4): read 2.2 s, list stage 0.8 s, numbers 64 s (the
`phonenumbers` calls the bare loop also makes, plus ~10 % of our own checks), duplicates
1.2 s, messages and frame ~10 s, results CSV 2 s, e-mails ~44 s of CPU (below).

**E-mails are why the wall-time target is out of reach as written.** Every distinct address
goes through `email-validator` once (~66 µs each here): ~44 s of CPU on this file, about as
much as the whole bare loop. A hand-written shortcut taking the everyday addresses without
the library (held to the library's verdict by a property test) brought the ratio to 1.24 on a
loaded machine; it was taken out again, because outside its own job this project lets a
well-kept library, even a slower one, be the judge. What would meet the target without it:
checking the e-mail column in a second process while the first checks the numbers (this
machine has 2 cores), not built this round.
"""


def _spellings(national: str, rng: random.Random) -> str:
    """One way people write the French mobile `0XXXXXXXXX`."""
    digits = national[1:]
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return rng.choice((national, spaced, f"+33 {digits}", f"0033{digits}", digits))


def write_contacts(path: Path, rows: int = ROWS, distinct: int = DISTINCT) -> Path:
    """The benchmark's input: `distinct` numbers, the rest repeats written otherwise."""
    rng = random.Random(11)
    numbers = rng.sample(range(600_000_000, 800_000_000), distinct)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Liste", "Pays", "Civilité", "Nom", "Prénom", "Téléphone", "Email"])
        for index in range(rows):
            number = numbers[index] if index < distinct else rng.choice(numbers)
            person = f"p{index}"
            writer.writerow(
                [
                    f"Liste {number % 100}",
                    "FR",
                    rng.choice(("M.", "Mme", "Madame", "")),
                    f"Nom{person}",
                    f"Prénom{person}",
                    _spellings(f"0{number}", rng),
                    f"{person}@example.fr" if index % 3 else "",
                ]
            )
    return path


def measure(report: Report, workspace: Workspace) -> None:
    source = workspace.cached(f"contacts-{ROWS}.csv", write_contacts)
    work = workspace.fresh_dir(KEY)
    together: list[float] = []
    timings = interleaved(
        ROUNDS,
        {
            "importer": lambda: _summed(
                lambda: timed_run(
                    [CLI, "validate", source, "-o", work / "out.csv", "-q"], ok_codes=(0, 1)
                ),
                together,
            ),
            "bare": lambda: timed_run([PYTHON, "-c", BARE_LOOP, source]),
        },
    )
    importer, bare = timings["importer"], timings["bare"]
    summary = parse_summary(importer[-1].stderr)
    outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in summary.counts.items())
    report.figure("importer: outcomes", outcomes)
    report.figure("importer: wall time", seconds_text([run.seconds for run in importer]))
    report.figure("bare loop: wall time", seconds_text([run.seconds for run in bare]))
    # wait4 gives the largest of the importer and its second process, not their sum: the sum
    # is sampled (every 50 ms) beside it, and the target holds for the larger of the two.
    report.figure("importer: peak RSS, largest process (wait4)", f"{_peak(importer):.0f} MB")
    report.figure("importer: peak RSS, both processes (sampled sum)", f"{max(together):.0f} MB")
    # CPU seconds shift less than wall time when the machine is shared: a figure beside it.
    # The importer's include its second process's (wait4 counts the children waited for).
    cpu = min(run.cpu_seconds for run in importer) / min(run.cpu_seconds for run in bare)
    report.figure("importer ÷ bare loop (CPU seconds, min of each)", f"{cpu:.2f}")
    ratio = min(run.seconds for run in importer) / min(run.seconds for run in bare)
    report.check(at_most("importer ÷ bare phonenumbers loop (wall time)", ratio, MAX_RATIO))
    peak = max(_peak(importer), *together)
    report.check(at_most("importer peak RSS (both processes)", peak, MAX_RSS_MB, " MB"))


def _peak(runs: list[Timed]) -> float:
    return max(run.peak_rss_mb for run in runs)


def _summed(run: Callable[[], Timed], peaks: list[float]) -> Timed:
    """`run`, while a thread samples the summed RSS of this process's children and theirs
    (Linux `/proc`); the peak, in MB, is appended to `peaks`."""
    done = threading.Event()
    peak = [0]

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], sum(_rss_kib(pid) for pid in _tree(os.getpid())[1:]))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return run()
    finally:
        done.set()
        sampler.join()
        peaks.append(peak[0] * 1024 / 1e6)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                for child in handle.read().split():
                    found += _tree(int(child))
    except OSError:  # gone meanwhile
        pass
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
