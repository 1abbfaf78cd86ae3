"""Options of a job: the YAML job file, the command line, the environment, and credentials.

One table, `JOB_KEYS`, is the job file's schema: it validates job files and command-line values
alike and is what the README's job file reference is rendered from. The command line wins over
the job file, which wins over the environment, which wins over the defaults. The API key is never
an option: it comes from the environment or from a private credentials file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import ipaddress
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import yaml

from importer.errors import ConfigError

if TYPE_CHECKING:
    from importer.client import Credentials

DEFAULT_BASE_URL = "https://api.avosms.com"
SANDBOX = "sandbox"
#: Job and credentials files larger than this are refused before parsing.
MAX_JOB_FILE_BYTES = 1_048_576
#: Deeper YAML nesting than this is refused (PyYAML composes nodes recursively).
MAX_YAML_DEPTH = 20
MAX_WORKERS = 64
MAX_ATTEMPTS_LIMIT = 20
ENV_BASE_URL = "AVOSMS_BASE_URL"
ENV_ID = "AVOSMS_ID"
ENV_KEY = "AVOSMS_KEY"

#: Keys that look like a secret: refused in job files and on the command line, value never shown.
SECRET_KEYS = frozenset({"key", "api_key", "apikey", "secret", "password", "token"})

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Invalid(Exception):
    """A value does not fit its key; the caller builds the message from the key's `expected`."""


# --------------------------------------------------------------------------- value checks


def _whole(low: int, high: int | None = None) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid
        if value < low or (high is not None and value > high):
            raise _Invalid
        return value

    return check


def _number(low: float, *, low_inclusive: bool) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise _Invalid
        if number < low or (number == low and not low_inclusive):
            raise _Invalid
        return number

    return check


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid
    return value


def _text(value: object) -> str:
    # A header or sheet named 2024 is text; the loader hands such scalars over as written.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid
    text = str(value).strip()
    if not text:
        raise _Invalid
    return text


def _path(value: object) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise _Invalid
    return Path(str(value).strip())


def _log_format(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("text", "json"):
        raise _Invalid
    return value.strip().lower()


def _country(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid
    try:
        from importer.normalize import country_code_for
    except ImportError:  # pragma: no cover - normalize is part of the package
        text = value.strip().upper()
        if len(text) == 2 and text.isascii() and text.isalpha():
            return text
        raise _Invalid from None
    code = country_code_for(value)
    if not code:
        raise _Invalid
    return code


def _base_url(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid
    return check_base_url(value)


def _faults(value: object) -> dict[str, object]:
    # Sub-keys are checked by `_check_faults`, which knows their lines; here only the shape.
    if not isinstance(value, Mapping):
        raise _Invalid
    return dict(value)


class KeySpec(NamedTuple):
    """One job-file key: what it holds, what it means, its default, and how it is checked."""

    type: str
    """The kind of value, in the words of the job file reference."""
    description: str
    default: object
    expected: str
    """Completes "must be …" in error messages."""
    check: Callable[[object], object]
    """Returns the value to use, or raises `_Invalid`."""


#: The job file's schema, in the order of the reference. Paths are relative to the job file's
#: folder (on the command line: to the working directory).
JOB_KEYS: dict[str, KeySpec] = {
    "input": KeySpec(
        "path",
        "The spreadsheet to import (.csv, .xlsx, .xlsm, .xls, .ods). The command line's INPUT "
        "wins.",
        None,
        "a file path",
        _path,
    ),
    "output": KeySpec(
        "path",
        "The results file; its extension picks the format (.csv, .xlsx, .json). Default: "
        "`<input name>.results.csv` in the working directory.",
        None,
        "a file path ending in .csv, .xlsx or .json",
        _path,
    ),
    "sheet": KeySpec(
        "text",
        "The sheet to read in an Excel or ODS workbook. Default: the first sheet.",
        None,
        "a sheet name",
        _text,
    ),
    "name_column": KeySpec(
        "text",
        "The header of the column holding list names, when it is not recognised on its own.",
        None,
        "a column header",
        _text,
    ),
    "country_column": KeySpec(
        "text",
        "The header of the column holding countries, when it is not recognised on its own.",
        None,
        "a column header",
        _text,
    ),
    "default_country": KeySpec(
        "country",
        "The country (ISO 3166 alpha-2 code such as FR) for rows whose country cell is empty, "
        "or for files without a country column.",
        None,
        "a country code such as FR",
        _country,
    ),
    "base_url": KeySpec(
        "URL",
        "The AvoSMS API address, without /v1; `sandbox` runs the built-in test server instead. "
        f"Plain http:// only to this machine. Also set by the environment variable {ENV_BASE_URL}.",
        DEFAULT_BASE_URL,
        "an https:// address or sandbox",
        _base_url,
    ),
    "max_attempts": KeySpec(
        "whole number",
        "How many times one request is tried before its row is `failed` (server errors, "
        "timeouts and lost connections are retried; rejected names never are).",
        5,
        f"a whole number from 1 to {MAX_ATTEMPTS_LIMIT}",
        _whole(1, MAX_ATTEMPTS_LIMIT),
    ),
    "backoff_initial": KeySpec(
        "seconds",
        "The first wait before a retry; each later wait may double, with random jitter.",
        0.5,
        "a number of seconds ≥ 0",
        _number(0, low_inclusive=True),
    ),
    "backoff_max": KeySpec(
        "seconds",
        "The longest wait between two retries of one request (a Retry-After from the API may "
        "ask for longer, and is obeyed).",
        30.0,
        "a number of seconds ≥ 0",
        _number(0, low_inclusive=True),
    ),
    "timeout": KeySpec(
        "seconds",
        "How long to wait for one answer from the API.",
        30.0,
        "a number of seconds above 0",
        _number(0, low_inclusive=False),
    ),
    "workers": KeySpec(
        "whole number",
        "How many requests are in flight at once.",
        4,
        f"a whole number ≥ 1 and ≤ {MAX_WORKERS}",
        _whole(1, MAX_WORKERS),
    ),
    "rate": KeySpec(
        "requests per second",
        "The most requests started per second, all workers and retries together; 0 = no limit.",
        10.0,
        "a number ≥ 0",
        _number(0, low_inclusive=True),
    ),
    "max_outage": KeySpec(
        "seconds",
        "Stop the run (rows left `pending`, resumable) when every request has failed for this "
        "long.",
        300.0,
        "a number of seconds above 0",
        _number(0, low_inclusive=False),
    ),
    "state": KeySpec(
        "path",
        "The journal (SQLite) that makes re-runs safe and resumable.",
        Path(".avosms-import/state.db"),
        "a file path",
        _path,
    ),
    "reconcile": KeySpec(
        "true/false",
        "Fetch the account's lists first, so lists that already exist come back `exists` "
        "instead of being sent.",
        True,
        "true or false",
        _flag,
    ),
    "check_account": KeySpec(
        "true/false",
        "For `validate`: fetch the account's lists (read-only) and mark rows that would come "
        "back `exists`.",
        False,
        "true or false",
        _flag,
    ),
    "max_rows": KeySpec(
        "whole number",
        "Inputs with more data rows than this are refused before anything is sent.",
        1_000_000,
        "a whole number ≥ 1",
        _whole(1),
    ),
    "log_format": KeySpec(
        "text | json",
        "The log's format: `text` for people, `json` (one object per line) for schedulers.",
        "text",
        "text or json",
        _log_format,
    ),
    "log_file": KeySpec(
        "path",
        "Write the log to this file instead of stderr.",
        None,
        "a file path",
        _path,
    ),
    "quiet": KeySpec(
        "true/false",
        "Log only the summary line and errors.",
        False,
        "true or false",
        _flag,
    ),
    "progress": KeySpec(
        "true/false",
        "Show a progress bar while sending (only ever on a terminal).",
        True,
        "true or false",
        _flag,
    ),
    "report": KeySpec(
        "path",
        "Also write a self-contained HTML report of the run.",
        None,
        "a file path ending in .html",
        _path,
    ),
    "credentials_file": KeySpec(
        "path",
        "A YAML file with `id:` and `key:`, readable by its owner only (chmod 600); used when "
        f"{ENV_ID} and {ENV_KEY} are not set.",
        None,
        "a file path",
        _path,
    ),
    "sandbox_faults": KeySpec(
        "mapping",
        "With `base_url: sandbox`: faults the built-in sandbox injects, e.g. "
        "`{error_9xx_rate: 0.3, latency: 0.05, seed: 1}` (for demos and drills).",
        None,
        "a mapping such as {error_9xx_rate: 0.3}",
        _faults,
    ),
}

_PATH_KEYS = frozenset(name for name, spec in JOB_KEYS.items() if spec.type == "path")


@dataclass(frozen=True)
class JobOptions:
    """Every option of the run, validate and lists commands, resolved; never holds the key."""

    input: Path | None = None
    output: Path | None = None
    sheet: str | None = None
    name_column: str | None = None
    country_column: str | None = None
    default_country: str | None = None
    base_url: str = DEFAULT_BASE_URL
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 30.0
    workers: int = 4
    rate: float = 10.0
    max_outage: float = 300.0
    state: Path = Path(".avosms-import/state.db")
    reconcile: bool = True
    check_account: bool = False
    max_rows: int = 1_000_000
    log_format: str = "text"
    log_file: Path | None = None
    quiet: bool = False
    progress: bool = True
    report: Path | None = None
    credentials_file: Path | None = None
    sandbox_faults: Mapping[str, object] | None = field(default=None, hash=False)

    def as_parameters(self) -> dict[str, str]:
        """The options as text, for the journal and the results' Summary sheet."""
        shown: dict[str, str] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool):
                shown[item.name] = "true" if value else "false"
            elif isinstance(value, Mapping):
                shown[item.name] = ", ".join(f"{k}={v}" for k, v in value.items())
            else:
                shown[item.name] = str(value)
        return shown


class JobFile(dict[str, object]):
    """A job file's checked values, remembering the file and each key's line for messages."""

    def __init__(self, source: Path, values: Mapping[str, object], lines: Mapping[str, int]):
        super().__init__(values)
        self.source = source
        self.lines = dict(lines)

    def where(self, name: str) -> str:
        """`jobs/x.yaml: line 4` for a key, for messages about its value."""
        line = self.lines.get(name)
        return f"{self.source}: line {line}" if line else str(self.source)


# --------------------------------------------------------------------------- YAML, safely


def _canonical(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _show(value: object) -> str:
    """A value as quoted in an error message (short; never used for secrets)."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f'"{text}"'
    return str(value)


def _line(mark: Any) -> int:
    return int(mark.line) + 1


def _read_yaml(path: Path, what: str) -> str:
    """The file's text, refused when missing, too big or not UTF-8."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if not path.is_file():
        raise ConfigError(f"{path}: the {what} is not a file")
    if size > MAX_JOB_FILE_BYTES:
        raise ConfigError(
            f"{path}: the {what} is {size:,} bytes; more than {MAX_JOB_FILE_BYTES:,} is refused"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_JOB_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text") from None


def _compose(text: str, path: Path) -> yaml.Node | None:
    """The document's node tree; anchors, aliases, deep nesting and several documents refused.

    The events are scanned before anything is composed, so a "billion laughs" file is refused at
    its first anchor, in constant memory.
    """
    try:
        depth = 0
        documents = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ConfigError(
                    f"{path}: line {_line(event.start_mark)}: YAML anchors and aliases "
                    "(& and *) are not allowed in job files; write each value out"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise ConfigError(
                        f"{path}: line {_line(event.start_mark)}: nested deeper than "
                        f"{MAX_YAML_DEPTH} levels"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError(
                        f"{path}: line {_line(event.start_mark)}: only one YAML document is "
                        "allowed (remove the second ---)"
                    )
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}: line {_line(mark)}" if mark is not None else str(path)
        problem = error.problem or error.context or "not valid YAML"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: YAML syntax error: {error}") from None


_STANDARD_TAG = "tag:yaml.org,2002:"
#: Plain data only: `!!python/...`, `!!binary`, `!!set` and custom tags are refused.
_ALLOWED_TAGS = frozenset(
    _STANDARD_TAG + name
    for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)


def _construct(node: yaml.Node, path: Path, shown_key: str) -> object:
    """A value node as Python data; scalars meant as text keep the text exactly as written."""
    if node.tag not in _ALLOWED_TAGS:
        raise ConfigError(
            f'{path}: line {_line(node.start_mark)}: "{shown_key}" has an unsupported YAML '
            f"tag {node.tag}"
        )
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or node.start_mark
        raise ConfigError(
            f'{path}: line {_line(mark)}: "{shown_key}": {error.problem or "cannot be read"}'
        ) from None
    finally:
        loader.dispose()


def _scalar_text(node: yaml.Node) -> str | None:
    """The text of a plain or quoted scalar as written (`007` stays `007`, `NO` stays `NO`)."""
    if isinstance(node, yaml.ScalarNode) and node.tag in (
        _STANDARD_TAG + "str",
        _STANDARD_TAG + "int",
        _STANDARD_TAG + "float",
        _STANDARD_TAG + "bool",
        _STANDARD_TAG + "timestamp",
    ):
        return str(node.value)
    return None


def _pairs(root: yaml.Node, path: Path, what: str) -> list[tuple[str, int, yaml.Node]]:
    """(key as written, line, value node) for each top-level key; duplicates refused."""
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            f"{path}: line {_line(root.start_mark)}: the {what} must be a mapping of "
            "`key: value` lines"
        )
    pairs: list[tuple[str, int, yaml.Node]] = []
    seen: dict[str, int] = {}
    for key_node, value_node in root.value:
        line = _line(key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode) or not str(key_node.value).strip():
            raise ConfigError(f"{path}: line {line}: keys must be plain words such as `input`")
        written = str(key_node.value).strip()
        name = _canonical(written)
        if name in seen:
            raise ConfigError(
                f'{path}: line {line}: "{written}" is given twice (first on line {seen[name]})'
            )
        seen[name] = line
        pairs.append((written, line, value_node))
    return pairs


def _unknown_key(written: str, known: list[str]) -> str:
    name = _canonical(written)
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if match:
        suggestion = match[0].replace("_", "-") if "-" in written else match[0]
        return f'unknown key "{written}" (did you mean "{suggestion}"?)'
    return f'unknown key "{written}"; the keys are: {", ".join(known)}'


def _secret_refusal(written: str) -> str:
    if _canonical(written) == "id":
        return (
            f'"{written}" does not belong in a job file: set {ENV_ID} and {ENV_KEY} in the '
            "environment, or use credentials_file:"
        )
    return (
        f'"{written}": the API key does not belong in a job file: set {ENV_KEY} (and {ENV_ID}) '
        "in the environment, or use credentials_file: pointing to a file only you can read"
    )


def load_job_file(path: Path) -> dict[str, object]:
    """A job file's keys (canonical `snake_case` names) with checked values.

    Paths are returned as written; `resolve_options` makes them relative to the job file's
    folder. Every problem is a `ConfigError` naming the file, the line and the key.
    """
    path = Path(path)
    text = _read_yaml(path, "job file")
    root = _compose(text, path)
    if root is None:
        raise ConfigError(f"{path}: the job file is empty; it needs at least `input: FILE`")
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    for written, line, node in _pairs(root, path, "job file"):
        name = _canonical(written)
        if name in SECRET_KEYS or name == "id":
            raise ConfigError(f"{path}: line {line}: {_secret_refusal(written)}")
        spec = JOB_KEYS.get(name)
        if spec is None:
            raise ConfigError(f"{path}: line {line}: {_unknown_key(written, list(JOB_KEYS))}")
        if isinstance(node, yaml.ScalarNode) and node.tag == _STANDARD_TAG + "null":
            continue  # `key:` with nothing after it leaves the default
        if spec.type in ("path", "text", "country"):
            raw: object = _scalar_text(node)
            if raw is None:
                raw = _construct(node, path, written)
        else:
            raw = _construct(node, path, written)
        value = _check_value(name, raw, f"{path}: line {line}: ", f'"{written}"')
        if name == "sandbox_faults":
            assert isinstance(node, yaml.MappingNode)
            value = _check_faults(node, path, written)
        values[name] = value
        lines[name] = line
    return JobFile(path, values, lines)


def _check_faults(root: yaml.MappingNode, path: Path, parent: str) -> dict[str, object]:
    """The `sandbox_faults` mapping: the sandbox's `FaultPlan` settings, each of its type."""
    from importer.sandbox import FaultPlan

    defaults = {item.name: item.default for item in dataclasses.fields(FaultPlan)}
    faults: dict[str, object] = {}
    for written, line, node in _pairs(root, path, f'"{parent}" value'):
        name = _canonical(written)
        if name not in defaults:
            raise ConfigError(
                f"{path}: line {line}: {parent}: {_unknown_key(written, list(defaults))}"
            )
        default = defaults[name]
        value = _construct(node, path, written)
        check: Callable[[object], object]
        if isinstance(default, bool):
            check, expected = _flag, "true or false"
        elif isinstance(default, int):
            check, expected = _whole(0), "a whole number ≥ 0"
        elif name.endswith("_rate") and name != "rate_limit":
            check, expected = _fraction, "a number from 0 to 1"
        elif isinstance(default, float):
            check, expected = _number(0, low_inclusive=True), "a number ≥ 0"
        else:
            check, expected = _retry_after, "a number of seconds or an HTTP date"
        try:
            faults[name] = check(value)
        except _Invalid:
            raise ConfigError(
                f'{path}: line {line}: "{written}" must be {expected}, not {_show(value)}'
            ) from None
    try:
        FaultPlan(**faults)  # type: ignore[arg-type]
    except ConfigError as error:  # settings fine one by one, not together (rates above 1)
        raise ConfigError(f'{path}: line {_line(root.start_mark)}: "{parent}": {error}') from None
    return faults


def _fraction(value: object) -> float:
    number = _number(0, low_inclusive=True)(value)
    if number > 1:
        raise _Invalid
    return number


def _retry_after(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid
    return str(value)


# --------------------------------------------------------------------------- resolving


def _check_value(name: str, value: object, where: str, shown_key: str) -> object:
    spec = JOB_KEYS[name]
    try:
        return spec.check(value)
    except _Invalid:
        raise ConfigError(
            f"{where}{shown_key} must be {spec.expected}, not {_show(value)}"
        ) from None
    except ConfigError as error:
        raise ConfigError(f"{where}{shown_key}: {error}") from None


def resolve_options(
    job: Mapping[str, object],
    cli: Mapping[str, object],
    *,
    environ: Mapping[str, str],
    job_dir: Path | None,
    require_input: bool = True,
) -> JobOptions:
    """The options of one command: command line > job file > environment > defaults.

    `cli` holds option names (the `JobOptions` fields; `None` = not given). Paths from the job
    file are taken relative to `job_dir` (by default the job file's folder); paths from the
    command line stay relative to the working directory. `require_input=False` is for commands
    without an input (`lists`).
    """
    job_file = job if isinstance(job, JobFile) else None
    if job_dir is None and job_file is not None:
        job_dir = job_file.source.parent
    values: dict[str, object] = {}
    origins: dict[str, str] = {}

    env_url = environ.get(ENV_BASE_URL, "").strip()
    if env_url:
        values["base_url"] = _check_value("base_url", env_url, "", ENV_BASE_URL)
        origins["base_url"] = ENV_BASE_URL

    for raw_key, value in job.items():
        name = _canonical(raw_key)
        where = f"{job_file.where(name)}: " if job_file else "job file: "
        if name in SECRET_KEYS or name == "id":
            raise ConfigError(f"{where}{_secret_refusal(raw_key)}")
        if name not in JOB_KEYS:
            raise ConfigError(f"{where}{_unknown_key(raw_key, list(JOB_KEYS))}")
        if value is None:
            continue
        if job_file is None:
            value = _check_value(name, value, where, f'"{raw_key}"')
        if name in _PATH_KEYS:
            value = _job_path(Path(str(value)), job_dir)
        values[name] = value
        origins[name] = job_file.where(name) if job_file else "the job file"

    for raw_key, value in cli.items():
        name = _canonical(raw_key)
        flag = "--" + name.replace("_", "-")
        if name in SECRET_KEYS or name == "id":
            raise ConfigError(
                f"the API {'id' if name == 'id' else 'key'} is never taken from the command "
                f"line: set {ENV_ID} and {ENV_KEY} in the environment, or use credentials_file: "
                "in the job file"
            )
        if name not in JOB_KEYS:
            raise TypeError(f"resolve_options: unknown option {raw_key!r}")
        if value is None:
            continue
        values[name] = _check_value(name, value, "", flag)
        origins[name] = flag

    options = JobOptions(**values)  # type: ignore[arg-type]
    if require_input:
        _check_input(options, origins.get("input"), job_file.source if job_file else None)
    return options


def _job_path(path: Path, job_dir: Path | None) -> Path:
    path = path.expanduser()
    if path.is_absolute() or job_dir is None:
        return path
    return Path(os.path.normpath(job_dir / path))


def _check_input(options: JobOptions, origin: str | None, job_source: Path | None) -> None:
    if options.input is None:
        if job_source is not None:
            raise ConfigError(f"{job_source}: no input file: give INPUT or add `input: FILE`")
        raise ConfigError("no input file: give INPUT or `input:` in the job file")
    prefix = f"{origin}: " if origin and not origin.startswith("--") else ""
    if not options.input.exists():
        raise ConfigError(f"{prefix}input file not found: {options.input}")
    if not options.input.is_file():
        raise ConfigError(f"{prefix}input is not a file: {options.input}")
    if options.output is not None and _same_file(options.input, options.output):
        raise ConfigError(
            f"the results file would overwrite the input file {options.input}; "
            "choose another --output"
        )


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


# --------------------------------------------------------------------------- base URL


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_base_url(url: str) -> str:
    """The API address as the client wants it (no trailing `/`, no `/v1`), or `sandbox`.

    Plain HTTP would send the key in clear text, so it is allowed only to this machine.
    """
    text = url.strip()
    if text.lower() == SANDBOX:
        return SANDBOX
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ConfigError("not a valid API address: check the host and port") from None
    # The address is only quoted back when it cannot hold a secret (user:password@ or ?key=).
    shown = f" {_show(text)}" if "@" not in text and "?" not in text else ""
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or "://" not in text:
        raise ConfigError(f"not a valid API address:{shown}; give https://HOST or {SANDBOX}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("the API address must not hold a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError("the API address must not have ? or # parts: remove them")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(f"refusing to send the API key over plain HTTP to {netloc}; use https://")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v1"):
        path = path[:-3].rstrip("/")
    return f"{scheme}://{netloc}{path}"


# --------------------------------------------------------------------------- credentials


def load_credentials(options: JobOptions, environ: Mapping[str, str]) -> Credentials:
    """The account's id and key: environment first, then the credentials file.

    With `base_url: sandbox` the built-in sandbox's demo account is used unless a credentials
    file is given: real credentials from the environment are never sent to a test server.
    """
    from importer.client import Credentials

    env_id = environ.get(ENV_ID, "").strip()
    env_key = environ.get(ENV_KEY, "").strip()
    if options.base_url == SANDBOX:
        if options.credentials_file is not None:
            return _credentials_from_file(options.credentials_file)
        from importer.sandbox import DEMO_ID, DEMO_KEY

        return Credentials(DEMO_ID, DEMO_KEY)
    if env_id and env_key:
        return Credentials(env_id, env_key)
    if options.credentials_file is not None:
        return _credentials_from_file(options.credentials_file)
    if env_id or env_key:
        missing = ENV_KEY if env_id else ENV_ID
        present = ENV_ID if env_id else ENV_KEY
        raise ConfigError(f"{present} is set but {missing} is not: set both")
    raise ConfigError(
        f"no credentials: set {ENV_ID} and {ENV_KEY}, or credentials_file: in the job file"
    )


def secrets_of(options: JobOptions, environ: Mapping[str, str]) -> list[str]:
    """Every key this job could know, for masking in logs and messages; never raises.

    A credentials file that would be refused is still read here: its key must be masked too.
    """
    secrets = [environ.get(ENV_KEY, "").strip()]
    if options.credentials_file is not None:
        with contextlib.suppress(ConfigError, OSError, ImportError):
            secrets.append(_credentials_from_file(options.credentials_file, private=False).key)
    return [secret for secret in dict.fromkeys(secrets) if secret]


def _credentials_from_file(path: Path, *, private: bool = True) -> Credentials:
    """`id:` and `key:` from a YAML file that only its owner can read."""
    from importer.client import Credentials

    text = _read_yaml(path, "credentials file")
    if private and os.name == "posix":
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
    root = _compose(text, path)
    if root is None:
        raise ConfigError(f"{path}: the credentials file is empty; it needs `id:` and `key:`")
    found: dict[str, str] = {}
    for written, line, node in _pairs(root, path, "credentials file"):
        name = _canonical(written)
        if name not in ("id", "key"):
            raise ConfigError(
                f"{path}: line {line}: {_unknown_key(written, ['id', 'key'])}; "
                "a credentials file holds only id: and key:"
            )
        value = _scalar_text(node)  # as written: a key of digits keeps its leading zeros
        if value is None or not value.strip():
            raise ConfigError(f'{path}: line {line}: "{written}" must be text')
        found[name] = value.strip()
    missing = [name for name in ("id", "key") if name not in found]
    if missing:
        names = " and ".join(f"`{name}:`" for name in missing)
        raise ConfigError(f"{path}: the credentials file has no {names}")
    return Credentials(found["id"], found["key"])
