"""The API key never leaves: not in streams, logs, results, reports, the journal, nor tracebacks.

Every run here uses a distinctive key that the sandbox accepts, then greps every file the run
produced (xlsx members unzipped, the SQLite journal and its write-ahead log included) and every
captured stream for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.api.answers import parse_nothing
from importer.api.endpoints import LIST_RETRIEVE
from importer.masking import MASK, key_forms, mask_bytes, mask_text
from importer.replies import classify_answer
from importer.sandbox import FaultPlan, SandboxServer
from importer.transport import HttpAnswer
from tests.conftest import SAMPLE_DATA, write_csv
from tests.test_client import Answer, Stub, json_answer

ACCOUNT_ID = "secrets@example.com"
#: Letters, digits and dashes only, so it reads the same form-encoded, in JSON and in HTML.
KEY = "sk-LEAKCANARY-7f3a9c1e5b2d"

#: Faults that make the run log retries, failures and "exists" rows, i.e. as many lines as it can.
NOISY = FaultPlan(error_9xx_rate=0.2, http_5xx_rate=0.1, seed=9)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A sandbox whose only account has the distinctive key; the importer pointed at it."""
    with SandboxServer(
        accounts={ACCOUNT_ID: KEY}, existing_lists=[("VIP Belgique", "BE")]
    ) as sandbox:
        monkeypatch.setenv("AVOSMS_ID", ACCOUNT_ID)
        monkeypatch.setenv("AVOSMS_KEY", KEY)
        monkeypatch.setenv("AVOSMS_BASE_URL", sandbox.url)
        yield sandbox


def contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """A file's bytes, and for a zip container (xlsx) each member's uncompressed bytes."""
    data = path.read_bytes()
    yield str(path), data
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path}!{member}", archive.read(member)


def assert_no_key_in_files(root: Path) -> list[Path]:
    """Every file under `root` is free of the key; the files checked."""
    produced = [path for path in root.rglob("*") if path.is_file()]
    for path in produced:
        for where, data in contents(path):
            assert KEY.encode() not in data, where
    return produced


def private_credentials(folder: Path, mode: int = 0o600) -> Path:
    path = folder / "credentials.yaml"
    path.write_text(f"id: {ACCOUNT_ID}\nkey: {KEY}\n", encoding="utf-8")
    path.chmod(mode)
    return path


# --------------------------------------------------------------------------- every output


@pytest.mark.parametrize(
    ("suffix", "log_format"), [(".csv", "text"), (".xlsx", "json"), (".json", "text")]
)
def test_no_file_a_run_writes_holds_the_key(cli, server, tmp_path, suffix, log_format):
    server.set_faults(NOISY)
    result = cli(
        "run",
        SAMPLE_DATA / "lists.csv",
        "-o",
        f"out{suffix}",
        "--report",
        "report.html",
        "--log-file",
        "logs/run.log",
        "--log-format",
        log_format,
        "--state",
        "state/state.db",
        "--rate",
        "0",
        "--max-attempts",
        "10",
    )
    assert result.exit_code == 1, result.stderr  # the sample holds invalid rows on purpose
    exported = cli("lists", "-o", "account.csv")
    assert exported.exit_code == 0, exported.stderr
    produced = {path.name for path in assert_no_key_in_files(tmp_path)}
    assert {f"out{suffix}", "report.html", "run.log", "state.db", "account.csv"} <= produced
    assert (tmp_path / "logs" / "run.log").stat().st_size > 0
    for invocation in (result, exported):
        assert KEY not in invocation.stdout + invocation.stderr
    assert server.stats.created.total() >= 7  # the key was really used


def test_a_scheduled_run_leaks_nothing_to_its_streams_its_journal_or_its_wal(server, tmp_path):
    rows = [(f"Nightly {number}", "FR") for number in range(120)] + [("", "FR"), ("X", "ZZ")]
    source = write_csv(tmp_path / "in.csv", rows)
    server.set_faults(FaultPlan(latency=0.01, error_9xx_rate=0.2, seed=4))
    command = [sys.executable, "-m", "importer", "run", str(source), "-o", "out.json"]
    command += ["--state", "state.db", "--log-format", "json", "--workers", "2", "--rate", "0"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=os.environ | {"PYTHONWARNINGS": "always"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wal_seen = False
    # While the run writes, its journal's write-ahead log exists: read it as it grows.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(process.kill)
        deadline = time.monotonic() + 120
        while process.poll() is None:
            assert time.monotonic() < deadline, "the run did not finish"
            for wal in tmp_path.rglob("*-wal"):
                with contextlib.suppress(FileNotFoundError):
                    assert KEY.encode() not in wal.read_bytes(), wal
                    wal_seen = True
            time.sleep(0.05)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr.decode()
    assert wal_seen
    assert KEY.encode() not in stdout + stderr
    assert b'"level": "WARNING"' in stderr  # the JSON log did go to stderr
    assert_no_key_in_files(tmp_path)


def test_a_key_from_a_private_credentials_file_is_masked_too(cli, server, tmp_path, monkeypatch):
    monkeypatch.delenv("AVOSMS_KEY")
    monkeypatch.delenv("AVOSMS_ID")
    private_credentials(tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text("credentials_file: credentials.yaml\nlog_file: run.log\n", encoding="utf-8")
    result = cli("run", SAMPLE_DATA / "lists.csv", "--job", job, "-o", "out.csv", "--rate", "0")
    assert result.exit_code == 1, result.stderr
    assert server.stats.created.total() >= 7
    assert KEY not in result.stdout + result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "credentials.yaml":
            assert KEY.encode() not in path.read_bytes(), path


# --------------------------------------------------------------------------- crashes


def fail_writing_results(*args: object, **kwargs: object) -> None:
    raise RuntimeError("the disk refused " + os.environ["AVOSMS_KEY"])


def fail_in_a_worker(*args: object, **kwargs: object) -> None:
    raise ValueError("a worker choked on " + os.environ["AVOSMS_KEY"])


@pytest.mark.parametrize(
    ("target", "crash", "words"),
    [
        ("importer.results.write_results", fail_writing_results, "RuntimeError: the disk refused"),
        (
            "importer.kinds.lists_send.row_update",
            fail_in_a_worker,
            "ValueError: a worker choked on",
        ),
    ],
    ids=["in-the-main-thread", "in-a-worker-thread"],
)
@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_a_crash_quoting_the_key_is_masked_with_and_without_debug(
    cli, server, tmp_path, monkeypatch, target, crash, words, debug
):
    monkeypatch.setattr(target, crash)
    source = write_csv(tmp_path / "in.csv", [("Crash A", "FR"), ("Crash B", "DE")])
    args = ["run", source, "-o", "out.csv", "--log-file", "run.log"]
    result = cli(*args, *(["--debug"] if debug else []))
    assert result.exit_code == 4
    assert KEY not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("avosms-import: internal error: ")
    assert f"{words} [REDACTED]" in lines[-1]
    assert ("Traceback (most recent call last)" in result.stderr) is debug
    if debug:
        assert crash.__name__ in result.stderr  # the real traceback, only masked
    else:
        assert len(lines) == 1
    assert_no_key_in_files(tmp_path)


def test_a_debug_traceback_in_a_subprocess_masks_the_key(server, tmp_path):
    # An operator's path that happens to hold the key ends up in the error and its traceback.
    (tmp_path / KEY).write_bytes(b"")
    source = write_csv(tmp_path / "in.csv", [("Debug", "FR")])
    finished = subprocess.run(
        [sys.executable, "-m", "importer", "run", str(source), "-o", f"{KEY}/out.csv", "--debug"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert "Traceback (most recent call last)" in finished.stderr
    assert finished.stderr.splitlines()[-1] == (
        "avosms-import: [REDACTED]/out.csv: cannot create its folder: File exists"
    )
    assert KEY not in finished.stdout + finished.stderr
    assert server.stats.requests_total == 0


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_credentials_file_others_can_read_is_refused(cli, server, tmp_path, monkeypatch, mode):
    monkeypatch.delenv("AVOSMS_KEY")
    monkeypatch.delenv("AVOSMS_ID")
    credentials = private_credentials(tmp_path, mode)
    job = tmp_path / "job.yaml"
    job.write_text("credentials_file: credentials.yaml\n", encoding="utf-8")
    result = cli("run", SAMPLE_DATA / "lists.csv", "--job", job, "-o", "out.csv")
    assert result.exit_code == 2
    assert result.stderr == (
        f"avosms-import: {credentials} is readable by other users; run: chmod 600 {credentials}\n"
    )
    assert KEY not in result.stdout + result.stderr
    assert server.stats.requests_total == 0
    credentials.chmod(0o600)
    assert cli("run", SAMPLE_DATA / "lists.csv", "--job", job, "-o", "out.csv").exit_code == 1


@pytest.mark.parametrize("where", ["environment", "credentials file"])
def test_swapped_id_and_key_are_refused_without_showing_either(
    cli, server, tmp_path, monkeypatch, where
):
    source = write_csv(tmp_path / "in.csv", [("Swapped", "FR")])
    args = ["run", source, "-o", "out.csv", "--log-file", "run.log", "--state", "state.db"]
    if where == "environment":
        monkeypatch.setenv("AVOSMS_ID", KEY)
        monkeypatch.setenv("AVOSMS_KEY", ACCOUNT_ID)
        named = "AVOSMS_ID"
    else:
        monkeypatch.delenv("AVOSMS_KEY")
        monkeypatch.delenv("AVOSMS_ID")
        credentials = tmp_path / "credentials.yaml"
        credentials.write_text(f"id: {KEY}\nkey: {ACCOUNT_ID}\n", encoding="utf-8")
        credentials.chmod(0o600)
        (tmp_path / "job.yaml").write_text("credentials_file: credentials.yaml\n", encoding="utf-8")
        args += ["--job", tmp_path / "job.yaml"]
        named = f"{credentials}: `id:`"
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"avosms-import: {named} is not an e-mail address: the API id is the account's e-mail "
        "(were the id and the key swapped?)\n"
    )
    assert server.stats.requests_total == 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "credentials.yaml":
            assert KEY.encode() not in path.read_bytes(), path


def routable_address() -> str | None:
    """This machine's address on its network (not loopback), found without sending a packet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: routed, never reached
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize("where", ["option", "environment"])
def test_plain_http_to_another_host_is_refused_before_any_request(
    cli, tmp_path, monkeypatch, where
):
    address = routable_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    source = write_csv(tmp_path / "in.csv", [("Clear text", "FR")])
    # A sandbox that would answer on that address: refusing must not depend on it being down.
    with SandboxServer(host="0.0.0.0", accounts={ACCOUNT_ID: KEY}) as reachable:
        url = f"http://{address}:{reachable.port}"
        monkeypatch.setenv("AVOSMS_ID", ACCOUNT_ID)
        monkeypatch.setenv("AVOSMS_KEY", KEY)
        if where == "environment":
            monkeypatch.setenv("AVOSMS_BASE_URL", url)
            result = cli("run", source, "-o", "out.csv")
        else:
            result = cli("run", source, "-o", "out.csv", "--base-url", url)
        assert result.exit_code == 2
        assert result.stderr == (
            f"avosms-import: {'AVOSMS_BASE_URL' if where == 'environment' else '--base-url'}: "
            f"refusing to send the API key over plain HTTP to {address}:{reachable.port}; "
            "use https://\n"
        )
        assert reachable.stats.requests_total == 0
        assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_this_machine_is_allowed(cli, server, tmp_path, host):
    source = write_csv(tmp_path / "in.csv", [("Loopback", "FR")])
    url = f"http://{host}:{server.port}"
    result = cli("run", source, "-o", "out.csv", "--base-url", url, "--rate", "0")
    assert result.exit_code == 0, result.stderr
    assert server.stats.created["loopback"] == 1


@pytest.mark.parametrize("option", ["--key", "--api-key", "--id"])
def test_the_credentials_are_never_a_command_line_option(cli, server, tmp_path, option):
    source = write_csv(tmp_path / "in.csv", [("Never", "FR")])
    result = cli("run", source, option, KEY)
    assert result.exit_code == 2
    assert f"No such option '{option}'" in result.stderr
    assert KEY not in result.stdout + result.stderr
    assert server.stats.requests_total == 0


# --------------------------------------------------------------------------- echoing servers

#: Long, and holding every character that URL-encoding changes (`+ / = &` and a space).
ECHO_KEY = "Zq9+long/secret=key&with spaces-0123456789~QxWvTyUi"


def escaped_json(text: str) -> bytes:
    """`{"code": text}` as some servers write it: `/` and `&` escaped, which JSON allows."""
    inner = json.dumps(text)[1:-1].replace("/", "\\/").replace("&", "\\u0026")
    return ('{"code": "' + inner + '"}').encode()


#: How a server may quote the request back: the key decoded, the form body as sent, the key
#: encoded by `quote` or with lower-case hex, the body lower-cased, and the key in JSON escapes
#: that hide it from the bytes.
ECHOES: dict[str, Callable[[dict[str, str]], Answer]] = {
    "decoded": lambda form: json_answer({"code": form["key"]}),
    "form-body": lambda form: json_answer({"code": urlencode(form)}),
    "quote": lambda form: json_answer({"code": quote(form["key"])}),
    # Re-encoded with lower-case hex (`%2b`), as .NET's HttpUtility.UrlEncode writes it.
    "lower-case-hex": lambda form: json_answer(
        {"code": re.sub(r"%[0-9A-F]{2}", lambda hexa: hexa[0].lower(), quote_plus(form["key"]))}
    ),
    "lower-cased": lambda form: json_answer({"code": urlencode(form).lower()}),
    "json-escapes": lambda form: (
        200,
        {"Content-Type": "application/json"},
        escaped_json(form["key"]),
    ),
}


def leaks(text: str) -> list[str]:
    """Every form of `ECHO_KEY`, or 8 characters of one, that `text` holds, in any case."""
    found, folded = [], text.lower()
    for form in key_forms(ECHO_KEY):
        slices = {form[at : at + 8].lower() for at in range(len(form) - 7)}
        found += [piece for piece in slices if piece in folded]
    return found


@pytest.mark.parametrize("echo", list(ECHOES))
@pytest.mark.parametrize("request_echoed", ["lists-fetch", "create"])
def test_a_server_echoing_the_request_never_makes_the_key_show(
    cli, tmp_path, monkeypatch, request, echo, request_echoed
):
    def script(number: int, path: str, form: dict[str, str]) -> Answer:
        if path.endswith(LIST_RETRIEVE.path) and request_echoed == "create":
            return json_answer({"code": "ERR_101"})  # an empty account
        return ECHOES[echo](form)

    server = Stub(script)
    request.addfinalizer(server.close)
    monkeypatch.setenv("AVOSMS_ID", ACCOUNT_ID)
    monkeypatch.setenv("AVOSMS_KEY", ECHO_KEY)
    source = write_csv(tmp_path / "in.csv", [("Echo A", "FR"), ("Echo B", "DE")])
    options = ["--max-attempts", "2", "--backoff-initial", "0", "--timeout", "2", "--rate", "0"]
    outputs = ["-o", "out.csv", "--log-file", "run.log", "--state", "state.db"]
    # Reading the account first is what fetches its lists; without it, creates go first.
    reconcile = "--reconcile" if request_echoed == "lists-fetch" else "--no-reconcile"
    result = cli("run", source, "--base-url", server.url, *options, *outputs, reconcile)
    assert result.exit_code != 0
    assert any(form.get("key") == ECHO_KEY for _, _, form in server.requests)
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert "unknown code" in log and MASK in log  # the echo was read, and masked
    with contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as journal:
        dump = "\n".join(journal.iterdump())
    if request_echoed == "create":
        assert MASK in (tmp_path / "out.csv").read_text(encoding="utf-8")
        assert MASK in dump
    else:
        assert "could not fetch the account's lists" in result.stderr
        assert all(path.endswith(LIST_RETRIEVE.path) for _, path, _ in server.requests)
    texts = {"streams": result.stdout + result.stderr, "journal dump": dump}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != source:
            texts[path.name] = path.read_bytes().decode("utf-8", "replace")
    assert {"run.log", "state.db"} <= texts.keys()
    assert {where: leaks(text) for where, text in texts.items() if leaks(text)} == {}


def test_the_key_is_masked_in_an_answers_payload_before_it_is_read():
    forms = key_forms(ECHO_KEY)
    named = {"code": "OK", "lists": [{"name": ECHO_KEY, ECHO_KEY: quote(ECHO_KEY)}]}
    for body in (json.dumps(named).encode(), escaped_json(ECHO_KEY)):
        reply = classify_answer(HttpAnswer(200, {}, body), parse_nothing, forms)
        assert not leaks(reply.message + json.dumps(reply.payload)), body
    masked = classify_answer(HttpAnswer(200, {}, json.dumps(named).encode()), parse_nothing, forms)
    assert masked.payload == {"code": "OK", "lists": [{"name": MASK, MASK: MASK}]}


@settings(max_examples=200, deadline=None)
@given(
    key=st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=8, max_size=24),
    order=st.randoms(use_true_random=False),
    around=st.tuples(st.text(max_size=8), st.text(max_size=8)),
)
def test_every_form_of_a_key_is_masked_whole_in_whatever_order_the_forms_come(
    key: str, order: Any, around: tuple[str, str]
) -> None:
    """The longest form wins wherever the forms come from (the log, stderr and the client
    each pass their own list): a form inside a longer one never leaves the rest showing."""
    forms = list(key_forms(key))
    order.shuffle(forms)
    before, after = around
    for form in key_forms(key):
        for shown in (form, form.upper(), form.lower()):
            masked = mask_text(before + shown + after, forms)
            assert masked == mask_text(before + shown + after, sorted(forms, key=len))
            assert MASK in masked
            assert not any(f in masked for f in key_forms(key) if len(f) >= 8), (shown, masked)
            data = (before + shown + after).encode("utf-8")
            assert MASK.encode() in mask_bytes(data, forms)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        # `str.lower` writes a final capital sigma as ς, one inside a word as σ.
        ("KEYabcdefΣ", "x KEYabcdefΣtail"),
        ("KEYabcdefΣ", "x keyabcdefσtail"),
        ("KEYabcdefΣ", "x KEYABCDEFΣ."),
        ("kéy-accentué+X", "K KÉY-ACCENTUÉ+X and"),
    ],
)
def test_a_key_beyond_ascii_is_masked_in_text_and_in_answers_whatever_its_case(
    key: str, shown: str
) -> None:
    forms = key_forms(key)
    assert MASK in mask_text(shown, forms)
    body = mask_bytes(shown.encode("utf-8"), forms).decode("utf-8")
    assert MASK in body
    assert key.casefold() not in body.casefold()


def test_forms_given_once_as_an_iterator_still_mask_a_key_beyond_ascii() -> None:
    """`mask_bytes` takes any iterable: a key beyond ASCII is searched in the decoded text with
    the forms already compiled, not with an iterator the first look used up."""
    forms = key_forms("kéy-accentué+X")
    shown = "K KÉY-ACCENTUÉ+X and".encode()
    assert MASK.encode() in mask_bytes(shown, iter(forms))
    assert MASK in mask_text("x kéy-accentué+X", iter(forms))
