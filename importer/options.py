"""Options of a job: the schema of job-file keys, and the resolved options object.

One table, `JOB_KEYS`, is the job file's schema: it validates job files and command-line values
alike and is what the README's job file reference is rendered from. Reading job files and
resolving them with the command line and the environment is `importer.jobfile`; the account's
id and key are `importer.credentials`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from importer import option_values as check
from importer.errors import ConfigError
from importer.kinds.roles import Role

DEFAULT_BASE_URL = "https://api.avosms.com"
MAX_WORKERS = 64
MAX_ATTEMPTS_LIMIT = 20
ENV_BASE_URL = "AVOSMS_BASE_URL"
ENV_ID = "AVOSMS_ID"
ENV_KEY = "AVOSMS_KEY"

#: Keys that look like a secret: refused in job files and on the command line, value never shown.
SECRET_KEYS = frozenset({"key", "api_key", "apikey", "secret", "password", "token"})


# --------------------------------------------------------------------------- the schema


class KeySpec(NamedTuple):
    """One job-file key: what it holds, what it means, its default, and how it is checked."""

    type: str
    """The kind of value, in the words of the job file reference."""
    description: str
    default: object
    expected: str
    """Completes "must be …" in error messages."""
    check: Callable[[object], object]
    """Returns the value to use, or raises `check.Invalid` (or ValueError)."""


#: Command-line flags not spelled like their job key (`--` + the key with `-` for `_`).
OPTION_FLAGS: Mapping[str, str] = {"columns": "--map"}

#: The job file's schema, in the order of the reference. Paths are relative to the job file's
#: folder (on the command line: to the working directory).
JOB_KEYS: dict[str, KeySpec] = {
    "input": KeySpec(
        "path",
        "The spreadsheet to import (.csv, .xlsx, .xlsm, .xls, .ods). The command line's INPUT "
        "wins.",
        None,
        "a file path",
        check.path,
    ),
    "output": KeySpec(
        "path",
        "The results file; its extension picks the format (.csv, .xlsx, .json). Default: "
        "`<input name>.results.csv` in the working directory.",
        None,
        "a file path ending in .csv, .xlsx or .json",
        check.path,
    ),
    "sheet": KeySpec(
        "text",
        "The sheet to read in an Excel or ODS workbook. Default: the first sheet.",
        None,
        "a sheet name",
        check.text,
    ),
    "name_column": KeySpec(
        "text",
        "The header of the column holding list names, when it is not recognised on its own.",
        None,
        "a column header",
        check.text,
    ),
    "country_column": KeySpec(
        "text",
        "The header of the column holding countries, when it is not recognised on its own.",
        None,
        "a column header",
        check.text,
    ),
    "kind": KeySpec(
        "lists | contacts",
        "What the file imports: `lists`, or `contacts` into their lists. Default: contacts when "
        "a phone column is recognised (or `list` is given), else lists.",
        None,
        "lists or contacts",
        check.choice("lists", "contacts"),
    ),
    "list": KeySpec(
        "text",
        "Contacts: the list every row goes into (a list column, if any, is then ignored).",
        None,
        "a list name",
        check.text,
    ),
    "columns": KeySpec(
        "mapping",
        "Contacts: `{HEADER: ROLE}` for columns not recognised on their own (on the command "
        f"line `--map HEADER=ROLE`, repeated); roles: {', '.join(Role)}.",
        None,
        "a mapping such as {Portable perso: phone}",
        check.columns,
    ),
    "preset": KeySpec(
        "provider",
        "Contacts: read another provider's export by that provider's table where tables "
        "disagree (octopush, smsfactor, smspartner, brevo, textmagic, clicksend, messagebird).",
        None,
        "a provider such as smsfactor",
        check.preset,
    ),
    "exclude": KeySpec(
        "path",
        "Contacts: a STOP list (CSV, workbook or text, one number a row) whose numbers are "
        "never sent: their rows are `excluded`.",
        None,
        "a file path",
        check.path,
    ),
    "number_types": KeySpec(
        "text",
        "Contacts: the number types accepted, comma-separated (mobile, fixed-line-or-mobile, "
        "fixed-line, voip, toll-free, premium-rate, shared-cost, ...); others are `invalid` "
        "ERR_108.",
        "fixed-line-or-mobile,mobile",
        "number types such as mobile,fixed-line",
        check.number_types,
    ),
    "number_format": KeySpec(
        "e164 | national | international",
        "Contacts: how numbers are sent: `e164` (+33612345678), `national` (06 12 34 56 78) "
        "or `international` (+33 6 12 34 56 78).",
        "e164",
        "e164, national or international",
        check.choice("e164", "national", "international"),
    ),
    "month_first": KeySpec(
        "true/false",
        "Contacts: read birthdays like 03/12/1985 month first (default: day first).",
        False,
        "true or false",
        check.flag,
    ),
    "birthday_format": KeySpec(
        "DD/MM/YYYY | YYYY-MM-DD | MM/DD/YYYY",
        "Contacts: how birthdays are sent.",
        "DD/MM/YYYY",
        "DD/MM/YYYY, YYYY-MM-DD or MM/DD/YYYY",
        check.birthday_format,
    ),
    "update": KeySpec(
        "true/false",
        "Contacts: update a contact already in its list whose fields differ, with its full "
        "merged record (an empty cell keeps the account's value); else it stays `exists`.",
        False,
        "true or false",
        check.flag,
    ),
    "clear_empty": KeySpec(
        "true/false",
        "Contacts, with `update`: an empty cell blanks that field on the account.",
        False,
        "true or false",
        check.flag,
    ),
    "sync": KeySpec(
        "true/false",
        "Contacts: make each target list hold exactly the file's contacts; others are deleted.",
        False,
        "true or false",
        check.flag,
    ),
    "max_delete": KeySpec(
        "N or P%",
        "Contacts, with `sync`: the most one list may lose, a number or a share of the list "
        "(never rounded up); more, and the run stops before sending anything (exit 2).",
        "10%",
        "a number of contacts such as 50, or a share such as 10%",
        check.max_delete,
    ),
    "default_country": KeySpec(
        "country",
        "The country (ISO 3166 alpha-2 code such as FR) for rows whose country cell is empty, "
        "or for files without a country column.",
        None,
        "a country code such as FR",
        check.country,
    ),
    "base_url": KeySpec(
        "URL",
        "The AvoSMS API address, without /v1; `sandbox` runs the built-in test server instead. "
        f"Plain http:// only to this machine. Also set by the environment variable {ENV_BASE_URL}.",
        DEFAULT_BASE_URL,
        "an https:// address or sandbox",
        check.base_url,
    ),
    "max_attempts": KeySpec(
        "whole number",
        "How many times one request is tried before its row is `failed` (server errors, "
        "timeouts and lost connections are retried; rejected names never are).",
        5,
        f"a whole number from 1 to {MAX_ATTEMPTS_LIMIT}",
        check.whole(1, MAX_ATTEMPTS_LIMIT),
    ),
    "backoff_initial": KeySpec(
        "seconds",
        "The first wait before a retry; each later wait may double, with random jitter.",
        0.5,
        "a number of seconds ≥ 0",
        check.number(0, low_inclusive=True),
    ),
    "backoff_max": KeySpec(
        "seconds",
        "The longest wait between two retries of one request (a Retry-After from the API may "
        "ask for longer, and is obeyed).",
        30.0,
        "a number of seconds ≥ 0",
        check.number(0, low_inclusive=True),
    ),
    "timeout": KeySpec(
        "seconds",
        "The longest one request to the API may take, the whole answer included.",
        30.0,
        "a number of seconds above 0",
        check.number(0, low_inclusive=False),
    ),
    "workers": KeySpec(
        "whole number",
        "How many requests are in flight at once.",
        4,
        f"a whole number ≥ 1 and ≤ {MAX_WORKERS}",
        check.whole(1, MAX_WORKERS),
    ),
    "rate": KeySpec(
        "requests per second",
        "The most requests started per second, all workers and retries together; 0 = no limit.",
        10.0,
        "a number ≥ 0",
        check.number(0, low_inclusive=True),
    ),
    "max_outage": KeySpec(
        "seconds",
        "Stop the run (rows left `pending`, resumable) when every request has failed for this "
        "long.",
        300.0,
        "a number of seconds above 0",
        check.number(0, low_inclusive=False),
    ),
    "state": KeySpec(
        "path",
        "The journal (SQLite) that makes re-runs safe and resumable.",
        Path(".avosms-import/state.db"),
        "a file path",
        check.path,
    ),
    "keep_runs": KeySpec(
        "whole number",
        "How many of the newest runs keep their rows in the journal (older runs stay listed "
        "with their counts); 0 keeps everything.",
        30,
        "a whole number ≥ 0",
        check.whole(0),
    ),
    "reconcile": KeySpec(
        "true/false",
        "Fetch the account's lists first, so lists that already exist come back `exists` "
        "instead of being sent.",
        True,
        "true or false",
        check.flag,
    ),
    "check_account": KeySpec(
        "true/false",
        "For `validate`: fetch the account's lists (read-only) and mark rows that would come "
        "back `exists`.",
        False,
        "true or false",
        check.flag,
    ),
    "max_rows": KeySpec(
        "whole number",
        "Inputs with more data rows than this are refused before anything is sent.",
        1_000_000,
        "a whole number ≥ 1",
        check.whole(1),
    ),
    "log_format": KeySpec(
        "text | json",
        "The log's format: `text` for people, `json` (one object per line) for schedulers.",
        "text",
        "text or json",
        check.log_format,
    ),
    "log_file": KeySpec(
        "path",
        "Write the log to this file instead of stderr.",
        None,
        "a file path",
        check.path,
    ),
    "quiet": KeySpec(
        "true/false",
        "Only the summary line and errors on stderr; a log file still gets every line.",
        False,
        "true or false",
        check.flag,
    ),
    "progress": KeySpec(
        "true/false",
        "Show a progress bar while sending (only ever on a terminal).",
        True,
        "true or false",
        check.flag,
    ),
    "report": KeySpec(
        "path",
        "Also write a self-contained HTML report of the run.",
        None,
        "a file path ending in .html",
        check.path,
    ),
    "credentials_file": KeySpec(
        "path",
        "A YAML file with `id:` and `key:`, readable by its owner only (chmod 600); used when "
        f"{ENV_ID} and {ENV_KEY} are not set.",
        None,
        "a file path",
        check.path,
    ),
    "sandbox_faults": KeySpec(
        "mapping",
        "With `base_url: sandbox`: faults the built-in sandbox injects, e.g. "
        "`{error_9xx_rate: 0.3, latency: 0.05, seed: 1}` (for demos and drills).",
        None,
        "a mapping such as {error_9xx_rate: 0.3}",
        check.faults,
    ),
}

#: The job keys holding a file path (taken relative to the job file's folder when read from it).
PATH_KEYS = frozenset(name for name, spec in JOB_KEYS.items() if spec.type == "path")


@dataclass(frozen=True)
class JobOptions:
    """Every option of the run, validate and lists commands, resolved; never holds the key."""

    input: Path | None = None
    output: Path | None = None
    sheet: str | None = None
    name_column: str | None = None
    country_column: str | None = None
    kind: str | None = None
    list: str | None = None
    columns: Mapping[str, str] | None = field(default=None, hash=False)
    preset: str | None = None
    exclude: Path | None = None
    number_types: str = "fixed-line-or-mobile,mobile"
    number_format: str = "e164"
    month_first: bool = False
    birthday_format: str = "DD/MM/YYYY"
    update: bool = False
    clear_empty: bool = False
    sync: bool = False
    max_delete: str = "10%"
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
    keep_runs: int = 30
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
    #: Where each option given came from, for messages: its flag, or the job file and line.
    #: Not an option itself (no job key, not among the run's parameters).
    origins: Mapping[str, str] = field(
        default_factory=dict, hash=False, compare=False, metadata={"job_key": False}
    )

    def as_parameters(self) -> dict[str, str]:
        """The options as text, for the journal and the results' Summary sheet."""
        shown: dict[str, str] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None or not item.metadata.get("job_key", True):
                continue
            if isinstance(value, bool):
                shown[item.name] = "true" if value else "false"
            elif isinstance(value, Mapping):
                shown[item.name] = ", ".join(f"{k}={v}" for k, v in value.items())
            else:
                shown[item.name] = str(value)
        return shown


# --------------------------------------------------------------------------- checking a value


def check_value(name: str, value: object, where: str, shown_key: str) -> object:
    """`value` as `JOB_KEYS[name]` checks it; a bad one is a `ConfigError` led by `where` + key."""
    spec = JOB_KEYS[name]
    try:
        return spec.check(value)
    except (check.Invalid, ValueError):
        raise ConfigError(
            f"{where}{shown_key} must be {spec.expected}, not {check.show(value)}"
        ) from None
    except ConfigError as error:
        raise ConfigError(f"{where}{shown_key}: {error}") from None
