"""What every benchmark shares: timed children, sandboxes, generated inputs, figures, the machine.

Timings are wall-clock seconds of fresh processes unless a figure says otherwise; peak memory
is the child's own maximum resident set size, read from the `wait4` accounting of that one
child, so no other process of the run can inflate it.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importer.sandbox import SandboxServer

PROJECT = Path(__file__).resolve().parent.parent
#: The virtual environment's interpreter and console script (`python -m bench` runs from it).
PYTHON = Path(sys.executable)
CLI = PYTHON.with_name("avosms-import")
#: How the figures name these two, relative to the project like a reader types them.
PYTHON_SHOWN = ".venv/bin/python"
CLI_SHOWN = ".venv/bin/avosms-import"
DEMO_ID = "demo@example.com"
DEMO_KEY = "demo-key-0000"
#: No single child of a benchmark may run longer than this (seconds).
CHILD_TIMEOUT = 600.0


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Check:
    """One figure beside its target, e.g. `importer ÷ ideal = 0.93 (target ≥ 0.85)`."""

    label: str
    value: float
    op: str
    bound: float
    unit: str = ""

    @property
    def holds(self) -> bool:
        return self.value >= self.bound if self.op == "≥" else self.value <= self.bound

    @property
    def target(self) -> str:
        return f"{self.op} {self.bound:g}{self.unit}"

    @property
    def shown(self) -> str:
        whole = float(self.value).is_integer() or self.value >= 100
        return f"{self.value:.0f}{self.unit}" if whole else f"{self.value:.2f}{self.unit}"


def at_least(label: str, value: float, bound: float, unit: str = "") -> Check:
    return Check(label, value, "≥", bound, unit)


def at_most(label: str, value: float, bound: float, unit: str = "") -> Check:
    return Check(label, value, "≤", bound, unit)


@dataclass(frozen=True)
class Planned:
    """A target whose measurement is not written yet: RESULTS.md shows it as not measured."""

    key: str
    title: str
    label: str
    target: str


@dataclass
class Report:
    """What one benchmark found: raw figures, checks against targets, how to reproduce,
    and any further markdown sections (a profile, a table of candidates)."""

    key: str
    title: str
    command: str
    method: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    error: str | None = None

    def figure(self, label: str, value: str) -> None:
        """Record a figure and print it at once, so a long run shows progress."""
        self.figures.append((label, value))
        print(f"  {label:<52} {value}", flush=True)

    def check(self, check: Check) -> None:
        self.checks.append(check)
        verdict = "holds" if check.holds else "MISSED"
        print(f"  {check.label:<52} {check.shown} (target {check.target}: {verdict})", flush=True)

    def section(self, title: str, lines: list[str]) -> None:
        """A markdown section of its own under this benchmark in RESULTS.md."""
        self.sections.append((title, lines))


def seconds_text(samples: Sequence[float]) -> str:
    """`1.234 s (min of 3; median 1.301 s)`: the minimum is the figure, the median its noise."""
    if len(samples) == 1:
        return f"{samples[0]:.3f} s"
    return (
        f"{min(samples):.3f} s (min of {len(samples)}; median {statistics.median(samples):.3f} s)"
    )


# --------------------------------------------------------------------------- children


@dataclass(frozen=True)
class Timed:
    """One finished child: wall time, its peak RSS, exit code and what it wrote; and its CPU
    seconds (user + system, the whole process and the children it waited for)."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0


def timed_run(
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ok_codes: Sequence[int] = (0,),
    shell: bool = False,
) -> Timed:
    """Run one fresh child to the end; its wall time from spawn to exit and its own peak RSS.

    stdout/stderr go to temporary files (no pipe to drain while we wait), and `os.wait4` reaps
    the child with the resource usage of that child alone (and of the children it waited for).
    Linux counts in a child's peak RSS the memory of this process when it spawned the child,
    so this process keeps its own memory small (big inputs are built in forked children).
    """
    args: str | list[str] = str(command[0]) if shell else [str(part) for part in command]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd or PROJECT,
            shell=shell,
        )
        watchdog = threading.Timer(CHILD_TIMEOUT, child.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # Ctrl-C: take the child down with us
            child.kill()
            child.wait()
            raise
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        timed = Timed(
            seconds=seconds,
            peak_rss_mb=usage.ru_maxrss * 1024 / 1e6,  # KiB on Linux; figures in MB
            returncode=child.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )
    if timed.returncode not in ok_codes:
        shown = " ".join(str(part) for part in command)
        raise RuntimeError(
            f"`{shown}` exited {timed.returncode}:\n{_tail(timed.stderr or timed.stdout)}"
        )
    return timed


def interleaved(rounds: int, contenders: dict[str, Callable[[], Timed]]) -> dict[str, list[Timed]]:
    """Each contender `rounds` times, taking turns, so a burst of noise hits both sides."""
    timings: dict[str, list[Timed]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, contender in contenders.items():
            timings[name].append(contender())
    return timings


_TURNS = """\
import json, sys, time
exec(sys.argv[1])
calls = json.loads(sys.argv[2])
times = {name: [] for name in calls}
for _ in range(int(sys.argv[3])):
    for name, call in calls.items():
        started = time.perf_counter()
        exec(call)
        times[name].append(time.perf_counter() - started)
print("BENCH-TIMES " + json.dumps(times))
"""


def in_process(
    setup: str, calls: dict[str, str], rounds: int, *, env: dict[str, str] | None = None
) -> dict[str, list[float]]:
    """Seconds of each of `calls`, taking turns `rounds` times in one fresh interpreter, after
    `setup` (untimed): a burst of other work on the machine hits every side alike.

    The first turn still pays what each call imports lazily; the later ones are warm.
    """
    script: list[str | Path] = [PYTHON, "-c", _TURNS, setup, json.dumps(calls), str(rounds)]
    line = next(
        line
        for line in timed_run(script, env=env).stdout.splitlines()
        if line.startswith("BENCH-TIMES ")
    )
    times: dict[str, list[float]] = json.loads(line.removeprefix("BENCH-TIMES "))
    return times


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def importer_env(base_url: str | None = None) -> dict[str, str]:
    """The environment of an importer child: demo credentials, and the API address if given."""
    env = dict(os.environ, AVOSMS_ID=DEMO_ID, AVOSMS_KEY=DEMO_KEY)
    if base_url is not None:
        env["AVOSMS_BASE_URL"] = base_url
    return env


@dataclass(frozen=True)
class Summary:
    """The importer's summary line: `5000 rows in 16.8 s: 5000 created; results in out.csv`."""

    rows: int
    elapsed: float
    counts: dict[str, int]


_SUMMARY = re.compile(r"(\d+) rows? in ([^:;]+?)(?:: ([^;]*))?; results in ")
_DURATION = re.compile(r"(?:(\d+) h ?)?(?:(\d+) min ?)?(?:([\d.]+) s)?$")


def parse_summary(stderr: str) -> Summary:
    """The last summary line the importer logged (its elapsed time has 0.1-s resolution)."""
    found = _SUMMARY.findall(stderr)
    if not found:
        raise RuntimeError(f"no summary line in the importer's output:\n{_tail(stderr)}")
    rows, duration, counts = found[-1]
    hours, minutes, secs = _DURATION.match(duration.strip()).groups()  # type: ignore[union-attr]
    elapsed = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)
    parsed = {}
    for part in counts.split(", ") if counts else []:
        number, _, outcome = part.partition(" ")
        if number.isdigit():
            # A contacts run says `1 duplicate (4 lists created for them)`: the count is its own.
            parsed[outcome.partition(" (")[0]] = int(number)
    return Summary(int(rows), elapsed, parsed)


# --------------------------------------------------------------------------- sandboxes


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def sandbox_process(workdir: Path, *, latency: float) -> Iterator[str]:
    """`python -m importer sandbox` in its own process (its own GIL); yields its base URL."""
    port = free_port()
    faults = ("--latency", str(latency))
    log_path = workdir / f"sandbox-{port}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(PYTHON), "-m", "importer", "sandbox", "--port", str(port), *faults],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the sandbox exited at start:\n{log_path.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox does not listen on port {port} after 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def sandbox_thread(**faults: Any) -> Iterator[tuple[SandboxServer, list[float]]]:
    """The sandbox in a thread of this process, and the monotonic arrival time of each request.

    The arrival log wraps the server's own `stats.arrive` hook, so it sees exactly the
    requests (and instants) the sandbox's counters see.
    """
    from importer.sandbox import FaultPlan, SandboxServer

    server = SandboxServer(faults=FaultPlan(**faults))
    arrivals: list[float] = []
    counted = server.stats.arrive

    def arrive(path: str, key: Hashable | None, rate_limit: float, now: float) -> bool:
        arrivals.append(now)
        return counted(path, key, rate_limit, now)

    server.stats.arrive = arrive  # type: ignore[method-assign]
    with server:
        yield server, arrivals


# --------------------------------------------------------------------------- inputs

_SEGMENTS = (
    "Clients", "Prospects", "Newsletter", "Abonnés", "Fidélité", "Partenaires", "Salon",
    "Webinar", "Promo", "Soldes", "VIP", "Relance", "Customers", "Leads", "Members", "Event",
    "Rentrée", "Noël", "Black Friday", "Été", "Donateurs", "Bénévoles", "Parents d'élèves",
    "Patients", "Adhérents", "Livraison", "Support", "Retail", "Boutique", "Anciens élèves",
)  # fmt: skip
_PLACES = (
    "Paris", "Lyon", "Marseille", "Lille", "Bordeaux", "Nantes", "Toulouse", "Strasbourg",
    "London", "Manchester", "Bruxelles", "Genève", "Montréal", "Dakar", "Abidjan", "Casablanca",
    "Berlin", "Madrid", "Roma", "Île-de-France", "Côte d'Azur", "Nord", "Sud-Ouest", "Bretagne",
    "Online", "Export", "Québec", "Liège", "Tunis", "Alger",
)  # fmt: skip
#: Valid country cells as operators write them: ISO2 in any case, ISO3, English, French, aliases.
_COUNTRIES = (
    ("FR", 30), ("fr", 4), ("DE", 6), ("BE", 5), ("CH", 4), ("GB", 4), ("US", 4), ("CA", 3),
    ("SN", 2), ("CI", 2), ("MA", 2), ("ES", 2), ("IT", 2), ("FRA", 2), ("DEU", 1),
    ("France", 6), ("Germany", 2), ("United States", 1), ("Belgium", 1), ("Allemagne", 2),
    ("États-Unis", 1), ("Royaume-Uni", 1), ("Belgique", 2), ("Suisse", 2), ("Sénégal", 1),
    ("UK", 2), ("USA", 1), ("Côte d'Ivoire", 1), ("Maroc", 1),
)  # fmt: skip
_ISO2 = ("FR", "DE", "BE", "CH", "GB", "US", "CA", "SN", "CI", "MA", "ES", "IT")
_BAD_COUNTRIES = ("Atlantis", "XX", "Narnia", "Frnace", "ZZ", "Europe", "Gaule", "??")


def unique_names(count: int, seed: int = 0) -> list[str]:
    """`count` distinct, plausible list names (`Clients Lyon 2021 #12`) in shuffled order."""
    a, b = len(_SEGMENTS), len(_PLACES)
    names = [
        f"{_SEGMENTS[i % a]} {_PLACES[i // a % b]} {2019 + i // (a * b) % 8} #{i // (a * b * 8)}"
        for i in range(count)
    ]
    random.Random(seed).shuffle(names)
    return names


def clean_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Rows that are all valid and distinct, with ISO2 countries: every one becomes a create."""
    rng = random.Random(seed)
    return [(name, rng.choice(_ISO2)) for name in unique_names(count, seed)]


def messy_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Rows like a real export: ~5% case-varied duplicates, ~2% unknown countries, ~1% empty
    cells (a few whole rows), ~1% names holding a comma, countries as codes or names."""
    rng = random.Random(seed)
    names = unique_names(count, seed)
    countries = rng.choices(
        [code for code, _ in _COUNTRIES], weights=[weight for _, weight in _COUNTRIES], k=count
    )
    variants = (str.upper, str.lower, str.title, lambda text: f" {text}  ")
    for i in range(count):
        draw = rng.random()
        if draw < 0.05 and i:
            names[i] = rng.choice(variants)(names[rng.randrange(i)])
        elif draw < 0.06:
            names[i] = names[i].replace(" ", ", ", 1)
        elif draw < 0.065:
            names[i] = ""
        draw = rng.random()
        if draw < 0.02:
            countries[i] = rng.choice(_BAD_COUNTRIES)
        elif draw < 0.025:
            countries[i] = ""
        if rng.random() > 0.999:
            names[i] = countries[i] = ""
    return list(zip(names, countries, strict=True))


def write_csv(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """A UTF-8 CSV with the headers operators use, quoting only where needed (like Excel)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Nom de la liste", "Pays"])
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """An .xlsx of the same two columns, written in openpyxl's streaming mode."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Listes")
    sheet.append(["Nom de la liste", "Pays"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


class Workspace:
    """A temporary folder for one run of the benchmarks; big inputs are built once and shared."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fresh_dir(self, name: str) -> Path:
        """An empty folder (a journal or outputs of its own for one measurement)."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        return path

    def cached(self, name: str, build: Callable[[Path], Path]) -> Path:
        """`name` in the workspace, built by `build(path)` the first time it is asked for.

        Built in a forked child: a child's peak RSS (`wait4`) counts its parent's memory at
        spawn, so this process must stay small for the children's peaks to be their own.
        """
        path = self.root / name
        if not path.exists():
            started = time.perf_counter()
            print(f"  (generating {name} ...", end="", flush=True)
            child = multiprocessing.get_context("fork").Process(target=build, args=(path,))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise RuntimeError(f"generating {name} failed (exit code {child.exitcode})")
            size = path.stat().st_size / 1e6
            print(f" {size:.1f} MB in {time.perf_counter() - started:.1f} s)", flush=True)
        return path

    def messy_csv(self, count: int) -> Path:
        return self.cached(f"messy-{count}.csv", lambda p: write_csv(p, messy_rows(count)))

    def messy_xlsx(self, count: int) -> Path:
        return self.cached(f"messy-{count}.xlsx", lambda p: write_xlsx(p, messy_rows(count)))

    def clean_csv(self, count: int) -> Path:
        return self.cached(f"clean-{count}.csv", lambda p: write_csv(p, clean_rows(count)))


@contextlib.contextmanager
def workspace() -> Iterator[Workspace]:
    compile_package()
    with tempfile.TemporaryDirectory(prefix="avosms-bench-") as root:
        yield Workspace(Path(root))


def compile_package() -> None:
    """Byte-compile the importer's modules, as installing a package does.

    A working copy installed in editable mode compiles its modules on first use and caches
    them, unless the environment forbids writing the cache (PYTHONDONTWRITEBYTECODE): then
    every child would compile some forty modules again, about 0.3 s of CPU that no installed
    importer spends. `compileall` writes the cache whatever that setting says.
    """
    import compileall

    compileall.compile_dir(PROJECT / "importer", quiet=1)


# --------------------------------------------------------------------------- the machine


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on, without anything naming the host or its paths."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    facts = [
        ("CPU", cpu),
        ("Cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("Memory", memory),
        ("OS", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("Python", platform.python_version()),
    ]
    packages = ("pandas", "pyarrow", "python-calamine", "rustpy-xlsxwriter", "openpyxl")
    for package in (*packages, "requests", "click"):
        try:
            facts.append((package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            facts.append((package, "not installed"))
    facts.append(("curl", curl_version()))
    facts.append(("Load average at start (1, 5, 15 min)", load))
    return facts


def curl_version() -> str:
    curl = shutil.which("curl")
    if curl is None:
        return "not installed"
    first = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout
    return " ".join(first.split()[:2]) or "unknown"
