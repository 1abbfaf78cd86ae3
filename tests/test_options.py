"""Job files, option precedence, base URLs and credentials.

(importer.options, importer.jobfile and importer.credentials.)
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import time
import tracemalloc
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from importer.api_address import check_base_url
from importer.credentials import load_credentials, secrets_of
from importer.errors import ConfigError, ExitCode
from importer.jobfile import load_job_file, resolve_options
from importer.options import DEFAULT_BASE_URL, JOB_KEYS, JobOptions

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "jobs"
SAMPLE_CSV = ROOT / "sample_data" / "lists.csv"
KEY = "s3cr3t-KEY-0042"


@pytest.fixture(autouse=True)
def _contract_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for client.Credentials and the sandbox's demo account while those are written."""
    try:
        importlib.import_module("importer.client")
    except ImportError:

        @dataclass(frozen=True)
        class Credentials:
            id: str
            key: str = field(repr=False)

        client = types.ModuleType("importer.client")
        client.Credentials = Credentials  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "importer.client", client)
    try:
        importlib.import_module("importer.sandbox")
    except ImportError:
        sandbox = types.ModuleType("importer.sandbox")
        sandbox.DEMO_ID = "demo@example.com"  # type: ignore[attr-defined]
        sandbox.DEMO_KEY = "demo-key-0000"  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "importer.sandbox", sandbox)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def job_error(tmp_path: Path, text: str, name: str = "job.yaml") -> str:
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError) as caught:
        load_job_file(path)
    assert caught.value.exit_code == ExitCode.USAGE
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def resolve(job: dict[str, object] | None = None, **cli: object) -> JobOptions:
    return resolve_options(job or {}, cli, environ={}, job_dir=None)


# --------------------------------------------------------------------------- schema


def test_schema_matches_the_options() -> None:
    fields = {
        item.name: item
        for item in dataclasses.fields(JobOptions)
        if item.metadata.get("job_key", True)  # `origins`: where each option came from
    }
    assert list(JOB_KEYS) == list(fields)
    for name, spec in JOB_KEYS.items():
        assert spec.default == fields[name].default, name
        assert spec.description and spec.expected and spec.type
        kind, description, default = spec[:3]
        assert (kind, description, default) == (spec.type, spec.description, spec.default)


def test_defaults() -> None:
    options = resolve(input=SAMPLE_CSV)
    assert options.base_url == DEFAULT_BASE_URL == "https://api.avosms.com"
    assert (options.max_attempts, options.timeout, options.workers, options.rate) == (5, 30, 4, 10)
    assert options.max_outage == 300 and options.max_rows == 1_000_000
    assert options.state == Path(".avosms-import/state.db")
    assert options.reconcile and options.progress and not options.quiet
    assert options.log_format == "text" and options.output is None


# --------------------------------------------------------------------------- the shipped job files


@pytest.mark.parametrize(
    "name", ["sample.yaml", "nightly.yaml", "migration.yaml", "contacts.yaml", "sync.yaml"]
)
def test_shipped_job_files_load(name: str) -> None:
    path = JOBS / name
    job = load_job_file(path)
    options = resolve_options(
        job, {"input": SAMPLE_CSV}, environ={}, job_dir=path.parent, require_input=True
    )
    assert options.input == SAMPLE_CSV
    # Paths from the job file are relative to its folder.
    for key in ("output", "report", "log_file", "state"):
        value = getattr(options, key)
        if key in job:
            assert value == Path(os.path.normpath(JOBS / str(job[key]))), key


def test_sample_job_runs_in_the_sandbox_on_the_sample_file() -> None:
    options = resolve_options(load_job_file(JOBS / "sample.yaml"), {}, environ={}, job_dir=JOBS)
    assert options.input == SAMPLE_CSV
    assert options.base_url == "sandbox"
    assert options.output == ROOT / "sample_data" / "out" / "lists.results.xlsx"
    assert options.report == ROOT / "sample_data" / "out" / "report.html"
    credentials = load_credentials(options, {})
    assert credentials.id == "demo@example.com"


def test_nightly_and_migration_jobs() -> None:
    nightly = load_job_file(JOBS / "nightly.yaml")
    assert nightly["log_format"] == "json" and nightly["quiet"] is True
    assert nightly["base_url"] == "https://api.avosms.com"
    assert nightly["kind"] == "lists"  # pinned: a phone column never changes what it imports
    assert "credentials_file" not in nightly and "key" not in nightly
    text = (JOBS / "nightly.yaml").read_text()
    assert "# 30 2 * * *" in text and "OnCalendar=" in text and "ExecStart=" in text
    migration = load_job_file(JOBS / "migration.yaml")
    assert (migration["kind"], migration["list"]) == ("contacts", "Clients migrés")
    assert migration["columns"] == {"custom1": "other"}
    assert migration["exclude"] == Path("../sample_data/stop-list.txt")
    assert (migration["default_country"], migration["workers"], migration["rate"]) == ("FR", 8, 10)


# --------------------------------------------------------------------------- YAML errors


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\nworkers: 4\nrate: 10\nsheet: [unclosed\n")
    assert ": line 5: YAML syntax error: " in message or ": line 4: YAML syntax error: " in message


def test_yaml_syntax_error_bad_indentation(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\n  workers: 4\n")
    assert message.startswith(f"{tmp_path / 'job.yaml'}: line 2: YAML syntax error: ")


def test_alias_bomb_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    path = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError) as caught:
            load_job_file(path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        f"{path}: line 1: YAML anchors and aliases (& and *) are not allowed in job or "
        "credentials files; write each value out"
    )
    assert elapsed < 5  # generous: the bomb is refused at its first anchor
    assert peak < 20_000_000


def test_alias_alone_is_refused(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\noutput: *x\n")
    assert ": line 2: YAML anchors and aliases" in message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    message = job_error(tmp_path, "sandbox_faults: " + "[" * 50 + "]" * 50 + "\n")
    assert message.endswith("line 1: nested deeper than 20 levels")
    message = job_error(tmp_path, "sandbox_faults: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "line 1: " in message


def test_big_file_is_refused(tmp_path: Path) -> None:
    message = job_error(tmp_path, "# " + "x" * 1_100_000 + "\ninput: a.csv\n")
    assert "more than 1,048,576 is refused" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the job file is empty"),
        ("# only a comment\n", "the job file is empty"),
        ("- input: a.csv\n", "line 1: the job file must be a mapping"),
        ("just words\n", "line 1: the job file must be a mapping"),
        ("input: a.csv\n---\ninput: b.csv\n", "line 2: only one YAML document is allowed"),
        ("input: !!python/object/apply:os.system [ls]\n", 'line 1: "input" has an unsupported'),
        ("workers: !!binary aGVsbG8=\n", 'line 1: "workers" has an unsupported YAML tag'),
        ("workers: !custom 3\n", 'line 1: "workers" has an unsupported YAML tag !custom'),
        ("[a]: 1\n", "line 1: keys must be plain words"),
    ],
)
def test_malformed_job_files(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in job_error(tmp_path, text)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_bytes(b"input: caf\xe9.csv\n")
    with pytest.raises(ConfigError, match=r"job\.yaml: the job file is not UTF-8 text$"):
        load_job_file(path)


def test_missing_job_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such job file$"):
        load_job_file(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- keys and values


def test_unknown_key_suggests_the_nearest(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\n\n\n\n\n\nworkerz: 4\n", name="x.yaml")
    assert (
        message == f'{tmp_path / "x.yaml"}: line 7: unknown key "workerz" (did you mean "workers"?)'
    )


def test_unknown_key_suggestion_keeps_the_dash_style(tmp_path: Path) -> None:
    message = job_error(tmp_path, "max-atempts: 3\n")
    assert message.endswith('line 1: unknown key "max-atempts" (did you mean "max-attempts"?)')


def test_unknown_key_without_a_near_match_lists_the_keys(tmp_path: Path) -> None:
    message = job_error(tmp_path, "zzzzzz: 1\n")
    assert 'line 1: unknown key "zzzzzz"; the keys are: input, output, sheet' in message


def test_wrong_type(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\nrate: 5\nworkers: four\n", name="x.yaml")
    assert message == (
        f'{tmp_path / "x.yaml"}: line 3: "workers" must be a whole number ≥ 1 and ≤ 64, not "four"'
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("workers: 0", '"workers" must be a whole number ≥ 1 and ≤ 64, not 0'),
        ("workers: 65", '"workers" must be a whole number ≥ 1 and ≤ 64, not 65'),
        ("workers: 2.5", '"workers" must be a whole number ≥ 1 and ≤ 64, not 2.5'),
        ("workers: true", '"workers" must be a whole number ≥ 1 and ≤ 64, not true'),
        ("rate: -1", '"rate" must be a number ≥ 0, not -1'),
        ("rate: fast", '"rate" must be a number ≥ 0, not "fast"'),
        ("timeout: 0", '"timeout" must be a number of seconds above 0, not 0'),
        ("timeout: .nan", '"timeout" must be a number of seconds above 0, not nan'),
        ("max_attempts: 0", '"max_attempts" must be a whole number from 1 to 20, not 0'),
        ("max-attempts: 21", '"max-attempts" must be a whole number from 1 to 20, not 21'),
        ("max_outage: 0", '"max_outage" must be a number of seconds above 0, not 0'),
        ("max_rows: 0", '"max_rows" must be a whole number ≥ 1, not 0'),
        ("log_format: xml", '"log_format" must be text or json, not "xml"'),
        ("default_country: XX", '"default_country" must be a country code such as FR, not "XX"'),
        ("reconcile: maybe", '"reconcile" must be true or false, not "maybe"'),
        ("quiet: [1]", '"quiet" must be true or false, not a list'),
        (
            "output: {a: 1}",
            '"output" must be a file path ending in .csv, .xlsx or .json, not a mapping',
        ),
        ('sheet: ""', '"sheet" must be a sheet name, not ""'),
        (
            "sandbox_faults: 3",
            '"sandbox_faults" must be a mapping such as {error_9xx_rate: 0.3}, not 3',
        ),
    ],
)
def test_bad_values_name_line_key_and_expectation(tmp_path: Path, line: str, expected: str) -> None:
    message = job_error(tmp_path, f"input: a.csv\n{line}\n")
    assert message == f"{tmp_path / 'job.yaml'}: line 2: {expected}"


def test_dash_and_underscore_keys_are_the_same(tmp_path: Path) -> None:
    dashed = load_job_file(write(tmp_path / "a.yaml", "max-attempts: 3\nlog-format: JSON\n"))
    underscored = load_job_file(write(tmp_path / "b.yaml", "max_attempts: 3\nlog_format: json\n"))
    assert dict(dashed) == dict(underscored) == {"max_attempts": 3, "log_format": "json"}


def test_same_key_twice_is_refused(tmp_path: Path) -> None:
    message = job_error(tmp_path, "max_attempts: 3\nworkers: 2\nmax-attempts: 4\n")
    assert message.endswith('line 3: "max-attempts" is given twice (first on line 1)')


def test_text_values_stay_as_written(tmp_path: Path) -> None:
    job = load_job_file(
        write(
            tmp_path / "job.yaml",
            "sheet: 2024\nname_column: 007\ncountry_column: 2024-01-15\ndefault_country: NO\n",
        )
    )
    assert job == {
        "sheet": "2024",
        "name_column": "007",
        "country_column": "2024-01-15",
        "default_country": "NO",  # Norway, not YAML's false
    }


def test_empty_value_leaves_the_default(tmp_path: Path) -> None:
    job = load_job_file(write(tmp_path / "job.yaml", "input: a.csv\noutput:\nworkers: ~\n"))
    assert dict(job) == {"input": Path("a.csv")}


def test_default_country_accepts_a_country_name(tmp_path: Path) -> None:
    pytest.importorskip("importer.normalize")
    job = load_job_file(write(tmp_path / "job.yaml", "default_country: fr\n"))
    assert job["default_country"] == "FR"


def test_sandbox_faults(tmp_path: Path) -> None:
    job = load_job_file(
        write(
            tmp_path / "job.yaml",
            "base_url: sandbox\nsandbox_faults:\n  error_9xx_rate: 0.3\n  latency: 0.05\n"
            "  seed: 7\n  fail_everything: false\n",
        )
    )
    assert job["sandbox_faults"] == {
        "error_9xx_rate": 0.3,
        "latency": 0.05,
        "seed": 7,
        "fail_everything": False,
    }


def test_sandbox_faults_with_another_api_are_refused(tmp_path: Path) -> None:
    # Faults asked of an API that is not the sandbox would be silently ignored: refused.
    path = write(
        tmp_path / "job.yaml",
        "input: in.csv\nbase_url: http://127.0.0.1:9\nsandbox_faults:\n  error_9xx_rate: 0.3\n",
    )
    write(tmp_path / "in.csv", "Nom de la liste,Pays\nA,FR\n")
    job = load_job_file(path)
    with pytest.raises(ConfigError) as caught:
        resolve_options(job, {}, environ={}, job_dir=tmp_path)
    assert str(caught.value).startswith(f"{path}: line 3: sandbox_faults applies to the built-in")
    offline = resolve_options(job, {}, environ={}, job_dir=tmp_path, uses_api=False)
    assert offline.sandbox_faults == {"error_9xx_rate": 0.3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  error_rate: 0.3\n", 'line 3: sandbox_faults: unknown key "error_rate" (did you mean'),
        ("  error_9xx_rate: 3\n", 'line 3: "error_9xx_rate" must be a number from 0 to 1, not 3'),
        ("  seed: x\n", 'line 3: "seed" must be a whole number ≥ 0, not "x"'),
        (
            "  error_9xx_rate: 0.7\n  drop_rate: 0.6\n",
            'line 3: "sandbox_faults": sandbox fault rates add up to 1.3',
        ),
    ],
)
def test_sandbox_fault_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in job_error(tmp_path, f"base_url: sandbox\nsandbox_faults:\n{text}")


# --------------------------------------------------------------------------- the key


@pytest.mark.parametrize("key", ["key", "api-key", "password", "id"])
def test_key_in_job_file_is_refused_and_never_shown(tmp_path: Path, key: str) -> None:
    message = job_error(tmp_path, f"input: a.csv\n{key}: {KEY}\n")
    assert f'line 2: "{key}"' in message
    assert "AVOSMS_KEY" in message and "credentials_file" in message
    assert KEY not in message


@pytest.mark.parametrize("key", ["key", "id"])
def test_key_on_the_command_line_is_refused(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_options({}, {"input": SAMPLE_CSV, key: KEY}, environ={}, job_dir=None)
    assert "never taken from the command line" in str(caught.value)
    assert "AVOSMS_KEY" in str(caught.value)
    assert KEY not in str(caught.value)


def test_unknown_command_line_option_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="workerz"):
        resolve(input=SAMPLE_CSV, workerz=3)


# --------------------------------------------------------------------------- resolving


def test_precedence_for_base_url(tmp_path: Path) -> None:
    job = load_job_file(write(tmp_path / "job.yaml", "base_url: https://job.example.com/v1/\n"))
    environ = {"AVOSMS_BASE_URL": "https://env.example.com"}

    def url(
        job: Mapping[str, object], cli: Mapping[str, object], environ: Mapping[str, str]
    ) -> str:
        options = resolve_options(
            job, {"input": SAMPLE_CSV, **cli}, environ=environ, job_dir=tmp_path
        )
        return options.base_url

    cli = {"base_url": "http://127.0.0.1:8765"}
    assert url(job, cli, environ) == "http://127.0.0.1:8765"
    assert url(job, {}, environ) == "https://job.example.com"
    assert url({}, {}, environ) == "https://env.example.com"
    assert url({}, {}, {}) == DEFAULT_BASE_URL
    assert url({}, {}, {"AVOSMS_BASE_URL": "sandbox"}) == "sandbox"


def test_cli_wins_over_job_file(tmp_path: Path) -> None:
    job = load_job_file(write(tmp_path / "job.yaml", "workers: 8\nrate: 5\nreconcile: true\n"))
    options = resolve_options(
        job,
        {"input": SAMPLE_CSV, "workers": 2, "reconcile": False, "rate": None},
        environ={},
        job_dir=tmp_path,
    )
    assert (options.workers, options.rate, options.reconcile) == (2, 5, False)


def test_bad_environment_url_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_options(
            {}, {"input": SAMPLE_CSV}, environ={"AVOSMS_BASE_URL": "http://x.org"}, job_dir=None
        )
    assert str(caught.value) == (
        "AVOSMS_BASE_URL: refusing to send the API key over plain HTTP to x.org; use https://"
    )


def test_bad_command_line_values_name_the_option() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(input=SAMPLE_CSV, workers=100)
    assert str(caught.value) == "--workers must be a whole number ≥ 1 and ≤ 64, not 100"
    with pytest.raises(ConfigError, match=r"^--base-url: refusing to send the API key"):
        resolve(input=SAMPLE_CSV, base_url="http://api.avosms.com")
    with pytest.raises(ConfigError, match=r"^--default-country must be a country code"):
        resolve(input=SAMPLE_CSV, default_country="ZZ")


def test_paths_in_the_job_file_are_relative_to_its_folder(tmp_path: Path) -> None:
    data = write(tmp_path / "data" / "lists.csv", "name,country\nA,FR\n")
    job_path = write(
        tmp_path / "jobs" / "job.yaml",
        "input: ../data/lists.csv\noutput: out/r.xlsx\nstate: /abs/state.db\n"
        "credentials_file: creds.yaml\n",
    )
    options = resolve_options(load_job_file(job_path), {}, environ={}, job_dir=job_path.parent)
    assert options.input == data
    assert options.output == tmp_path / "jobs" / "out" / "r.xlsx"
    assert options.state == Path("/abs/state.db")
    assert options.credentials_file == tmp_path / "jobs" / "creds.yaml"
    # job_dir defaults to the job file's own folder.
    assert resolve_options(load_job_file(job_path), {}, environ={}, job_dir=None) == options


def test_paths_on_the_command_line_stay_relative_to_the_working_directory(tmp_path: Path) -> None:
    job_path = write(tmp_path / "jobs" / "job.yaml", "output: out.csv\n")
    options = resolve_options(
        load_job_file(job_path),
        {"input": SAMPLE_CSV, "output": Path("here.csv")},
        environ={},
        job_dir=job_path.parent,
    )
    assert options.output == Path("here.csv")


def test_plain_dict_job_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'^job file: "workers" must be a whole number'):
        resolve_options({"workers": "four"}, {"input": SAMPLE_CSV}, environ={}, job_dir=tmp_path)
    options = resolve_options(
        {"max-attempts": 2, "input": "lists.csv"}, {}, environ={}, job_dir=SAMPLE_CSV.parent
    )
    assert options.max_attempts == 2 and options.input == SAMPLE_CSV


def test_no_input_anywhere() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve()
    assert str(caught.value) == "no input file: give INPUT or `input:` in the job file"
    assert resolve_options({}, {}, environ={}, job_dir=None, require_input=False).input is None


def test_input_that_does_not_exist_names_the_job_file(tmp_path: Path) -> None:
    job_path = write(tmp_path / "job.yaml", "workers: 2\ninput: missing.csv\n")
    with pytest.raises(ConfigError) as caught:
        resolve_options(load_job_file(job_path), {}, environ={}, job_dir=tmp_path)
    assert str(caught.value) == (
        f"{job_path}: line 2: input file not found: {tmp_path / 'missing.csv'}"
    )


def test_input_from_the_command_line_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(input=tmp_path / "gone.csv")
    assert str(caught.value) == f"input file not found: {tmp_path / 'gone.csv'}"
    with pytest.raises(ConfigError, match="input is not a file"):
        resolve(input=tmp_path)


def test_output_may_not_overwrite_the_input() -> None:
    with pytest.raises(ConfigError, match="would overwrite the input file"):
        resolve(input=SAMPLE_CSV, output=SAMPLE_CSV)


def test_parameters_never_hold_a_key() -> None:
    options = resolve(input=SAMPLE_CSV, credentials_file=Path("c.yaml"))
    parameters = options.as_parameters()
    assert parameters["input"] == str(SAMPLE_CSV)
    assert parameters["reconcile"] == "true"
    assert "key" not in parameters and "output" not in parameters


# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sandbox", "sandbox"),
        (" SANDBOX ", "sandbox"),
        ("https://api.avosms.com", "https://api.avosms.com"),
        ("https://api.avosms.com/", "https://api.avosms.com"),
        ("https://api.avosms.com/v1", "https://api.avosms.com"),
        ("https://api.avosms.com/v1/", "https://api.avosms.com"),
        ("HTTPS://proxy.example.com:8443/avosms/v1", "https://proxy.example.com:8443/avosms"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.3.4.5:80/", "http://127.3.4.5:80"),
        ("http://localhost:8765/v1", "http://localhost:8765"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_base_urls_accepted(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://api.avosms.com",
            "refusing to send the API key over plain HTTP to api.avosms.com; use https://",
        ),
        (
            "http://10.0.0.5:8080/",
            "refusing to send the API key over plain HTTP to 10.0.0.5:8080; use https://",
        ),
        (
            "http://localhost.evil.com",
            "refusing to send the API key over plain HTTP to localhost.evil.com; use https://",
        ),
        (
            "api.avosms.com",
            'not a valid API address: "api.avosms.com"; give https://HOST or sandbox',
        ),
        ("ftp://api.avosms.com", "not a valid API address"),
        ("https://", "not a valid API address"),
        ("https://host:99999", "not a valid API address: check the host and port"),
        ("https://me:pw@host:99999", "not a valid API address"),
        ("https://me:pw@api.avosms.com", "must not hold a user name or password"),
        ("https://api.avosms.com/?x=1", "must not have ? or # parts"),
    ],
)
def test_base_urls_refused(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_base_url(url)
    assert expected in str(caught.value)
    assert "pw" not in str(caught.value) and "x=1" not in str(caught.value)


def test_plain_http_in_a_job_file_gives_the_line(tmp_path: Path) -> None:
    message = job_error(tmp_path, "input: a.csv\nbase_url: http://api.example.com\n")
    assert message.endswith(
        'line 2: "base_url": refusing to send the API key over plain HTTP to api.example.com; '
        "use https://"
    )


# --------------------------------------------------------------------------- credentials


def creds_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = write(tmp_path / "avosms.yaml", text)
    path.chmod(mode)
    return path


def test_credentials_from_the_environment() -> None:
    options = JobOptions(input=SAMPLE_CSV)
    credentials = load_credentials(options, {"AVOSMS_ID": "me@example.com", "AVOSMS_KEY": KEY})
    assert (credentials.id, credentials.key) == ("me@example.com", KEY)
    assert KEY not in repr(credentials)


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = creds_file(tmp_path, "id: file@example.com\nkey: file-key\n")
    options = JobOptions(credentials_file=path)
    credentials = load_credentials(options, {"AVOSMS_ID": "env@example.com", "AVOSMS_KEY": KEY})
    assert credentials.id == "env@example.com"


def test_credentials_from_a_private_file(tmp_path: Path) -> None:
    path = creds_file(tmp_path, "id: me@example.com\nkey: 0012345678\n")
    credentials = load_credentials(JobOptions(credentials_file=path), {})
    assert (credentials.id, credentials.key) == ("me@example.com", "0012345678")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_credentials_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = creds_file(tmp_path, f"id: me@example.com\nkey: {KEY}\n", mode)
    with pytest.raises(ConfigError) as caught:
        load_credentials(JobOptions(credentials_file=path), {})
    assert str(caught.value) == f"{path} is readable by other users; run: chmod 600 {path}"
    path.chmod(0o600)
    assert load_credentials(JobOptions(credentials_file=path), {}).key == KEY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id: me@example.com\n", "the credentials file has no `key:`"),
        ("key: abc\n", "the credentials file has no `id:`"),
        ("# nothing\n", "the credentials file is empty"),
        ("id: me@example.com\nkey: abc\nsecret: x\n", 'line 3: unknown key "secret"'),
        ("id: me@example.com\nkey: [a, b]\n", 'line 2: "key" must be text'),
        ("id: me\nkey: &k abc\n", "line 2: YAML anchors and aliases"),
        ("id: me\nkey: 'abc\n", "YAML syntax error"),
    ],
)
def test_bad_credentials_files(tmp_path: Path, text: str, expected: str) -> None:
    path = creds_file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_credentials(JobOptions(credentials_file=path), {})
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize("account_id", ["demo-key-0000", "me@example", "me @example.com", "@x.fr"])
def test_an_id_that_is_not_an_e_mail_is_refused_without_quoting_it(account_id: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_credentials(JobOptions(), {"AVOSMS_ID": account_id, "AVOSMS_KEY": KEY})
    assert str(caught.value) == (
        "AVOSMS_ID is not an e-mail address: the API id is the account's e-mail "
        "(were the id and the key swapped?)"
    )


def test_an_id_equal_to_the_key_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = creds_file(tmp_path, "id: me@example.com\nkey: me@example.com\n")
    with pytest.raises(ConfigError) as caught:
        load_credentials(JobOptions(credentials_file=path), {})
    assert str(caught.value) == f"{path}: `id:` is the key: the API id is the account's e-mail"


def test_missing_credentials_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such credentials file$"):
        load_credentials(JobOptions(credentials_file=tmp_path / "nope.yaml"), {})


def test_no_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        load_credentials(JobOptions(), {})
    assert str(caught.value) == (
        "no credentials: set AVOSMS_ID and AVOSMS_KEY, or credentials_file: in the job file"
    )
    with pytest.raises(ConfigError, match="AVOSMS_ID is set but AVOSMS_KEY is not"):
        load_credentials(JobOptions(), {"AVOSMS_ID": "me@example.com", "AVOSMS_KEY": " "})


def test_sandbox_uses_its_demo_account_not_the_environment() -> None:
    from importer.sandbox import DEMO_ID, DEMO_KEY

    environ = {"AVOSMS_ID": "real@example.com", "AVOSMS_KEY": KEY}
    credentials = load_credentials(JobOptions(base_url="sandbox"), environ)
    assert (credentials.id, credentials.key) == (DEMO_ID, DEMO_KEY)


def test_secrets_of_collects_every_key_without_raising(tmp_path: Path) -> None:
    path = creds_file(tmp_path, "id: me\nkey: file-key-123\n", 0o644)
    options = JobOptions(credentials_file=path)
    assert secrets_of(options, {"AVOSMS_KEY": KEY}) == [KEY, "file-key-123"]
    assert secrets_of(JobOptions(credentials_file=tmp_path / "gone.yaml"), {}) == []
