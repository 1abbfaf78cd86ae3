"""The second process of the contacts checks: the same results as in-process, a fallback when it
fails, and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from importer.kinds import contacts_checks
from importer.kinds.contacts import ContactOptions, prepare
from importer.kinds.contacts_parallel import Pending, check_numbers, numbers_share
from importer.rules import fields
from importer.rules.phones import DEFAULT_NUMBER_TYPES, NumberFormat

ADDRESSES = [
    "marie@example.fr",
    "Jean.Dupont@EXAMPLE.COM",
    "pas une adresse",
    "a@b",
    "élodie@exemple.fr",
    "x@ツ.life",
    "",
    "two@@example.fr",
]
NUMBERS = [
    ("06 12 34 56 78", "FR"),
    ("0690 12 34 56", "FR"),  # Guadeloupe, typed in French national form
    ("0701234567", "FR"),  # a Monaco mobile in national form
    ("04 70 12 34 56", "BE"),
    ("0612345678", "BE"),  # a French mobile in a Belgian list
    ("01 23 45 67 89", "FR"),  # a landline
    ("3.3612345678E+10", "FR"),
    ("06 12 34 56 78 poste 12", "FR"),
    ("n'importe quoi", "FR"),
    ("", "FR"),
]


def calls() -> list[tuple[object, tuple[object, ...]]]:
    cells, regions = [c for c, _ in NUMBERS], [r for _, r in NUMBERS]
    return [
        (fields.emails, (ADDRESSES,)),
        (check_numbers, (cells, regions, DEFAULT_NUMBER_TYPES, NumberFormat.E164)),
    ]


def test_the_second_process_gives_the_in_process_results() -> None:
    here = Pending(calls(), second_process=False).results()  # type: ignore[arg-type]
    with Pending(calls(), second_process=True) as pending:  # type: ignore[arg-type]
        assert pending.results() == here
    values, problems = here[0]
    assert values[1] == "Jean.Dupont@example.com" and "not valid" in problems[2]
    e164, _, codes, _ = here[1]
    assert e164[0] == "+33612345678" and codes[1:3] == ["ERR_107", "ERR_107"]


@pytest.mark.parametrize("executable", ["/nonexistent/python", "false"])
def test_a_second_process_that_fails_leaves_the_work_to_this_one(
    monkeypatch: pytest.MonkeyPatch, executable: str
) -> None:
    expected = Pending(calls(), second_process=False).results()  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "executable", executable)
    assert Pending(calls(), second_process=True).results() == expected  # type: ignore[arg-type]


def test_prepare_gives_the_same_frame_with_a_second_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        (f"Liste {i % 3}", region, phone, ADDRESSES[i % len(ADDRESSES)], "Mme", "12/03/1985")
        for i, (phone, region) in enumerate(NUMBERS * 3)
    ]
    columns = ["list_name", "country", "phone", "email", "civility", "birthday"]
    source = pd.DataFrame(rows, columns=columns)
    source.insert(0, "row", range(2, len(rows) + 2))
    options = ContactOptions()
    alone = prepare(source, options)
    monkeypatch.setattr(contacts_checks, "SECOND_PROCESS_FROM", 0)
    started: list[bool] = []
    real = Pending.__init__

    def spy(self: Pending, work: list, *, second_process: bool) -> None:  # type: ignore[type-arg]
        started.append(second_process)
        real(self, work, second_process=second_process)

    monkeypatch.setattr(Pending, "__init__", spy)
    pd.testing.assert_frame_equal(prepare(source, options), alone)
    assert started == [True]
    assert set(alone["outcome"]) >= {"planned", "invalid", "duplicate"}


def test_the_shares_balance_numbers_against_addresses() -> None:
    assert numbers_share(1000, 0) == 500
    assert numbers_share(100, 1000) == 0  # the e-mails alone outweigh this process's share
    assert 0 < numbers_share(990_000, 666_666) < 990_000 // 2


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split(")")[-1].split()[0] == "Z":
                    return True  # a zombie: ended, waiting for its parent to reap it
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


SLOW = """
import sys, time
from importer.kinds.contacts_parallel import Pending
pending = Pending([(time.sleep, (60,))], second_process=True)
print(pending.pid, flush=True)
{then}
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(
    ("then", "how"),
    [
        ("pending.close(); print('closed', flush=True); time.sleep(60)", None),
        ("raise SystemExit(3)", None),  # an error: the process ends, the child with it
        ("time.sleep(60)", signal.SIGTERM),
        ("time.sleep(60)", signal.SIGKILL),
        ("time.sleep(60)", signal.SIGINT),
    ],
)
def test_the_second_process_never_outlives_its_work(then: str, how: signal.Signals | None) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SLOW.format(then=then)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        if how is None:
            parent.stdout.readline()  # closed, or the end of the process
        else:
            os.kill(parent.pid, how)
        assert _gone(child)
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_ctrl_c_is_left_to_the_parent() -> None:
    # A terminal's Ctrl-C reaches the whole process group: the child goes on with its work.
    with Pending([(time.sleep, (1,)), (sum, ([1, 2],))], second_process=True) as pending:
        child = pending.pid
        assert child is not None
        time.sleep(0.5)  # past its start: the handler is set before the work is read
        os.kill(child, signal.SIGINT)
        assert not _gone(child, within=0.3)
        assert pending.results() == [None, 3]
        assert _gone(child)


def test_the_second_process_runs_no_code_of_the_working_folder_and_holds_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A downloads folder holding a file named like a library the checks load.
    marker = tmp_path / "ran.txt"
    (tmp_path / "email_validator.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVOSMS_ID", "someone@example.com")
    monkeypatch.setenv("AVOSMS_KEY", "a-secret-key-of-the-account")
    work = [(os.getpid, ()), (os.getenv, ("AVOSMS_KEY",)), (fields.emails, (ADDRESSES,))]
    with Pending(work, second_process=True) as pending:  # type: ignore[arg-type]
        child_pid, key, checked = pending.results()
    assert child_pid != os.getpid()  # done by the second process, not the fallback
    assert key is None
    assert checked == fields.emails(ADDRESSES)
    assert not marker.exists()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_sigterm_while_a_big_file_is_checked_is_one_line_exit_3(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    rows = (f"Clients,FR,06{n:08d},p{n}@example.com" for n in range(30_000))
    source.write_text("liste,pays,téléphone,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "importer", "validate", str(source), "-o", "out.csv"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (children := _children(process.pid)) and process.poll() is None:
            assert time.monotonic() < deadline, "the second process never started"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 3, stderr
    assert stderr.strip().splitlines()[-1] == "avosms-import: interrupted"
    assert all(_gone(child) for child in children)
