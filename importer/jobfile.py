"""Job files, read safely, and the options of one command resolved from them.

The command line wins over the job file, which wins over the environment, which wins over the
defaults. The API key is never an option: it comes from the environment or from a private
credentials file (`importer.credentials`).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importer import option_values
from importer.errors import ConfigError
from importer.options import (
    ENV_BASE_URL,
    ENV_ID,
    ENV_KEY,
    JOB_KEYS,
    OPTION_FLAGS,
    PATH_KEYS,
    SECRET_KEYS,
    JobOptions,
    check_value,
)
from importer.outputs import check_overwrites

#: Job and credentials files larger than this are refused before parsing.
MAX_JOB_FILE_BYTES = 1_048_576
#: Deeper YAML nesting than this is refused (PyYAML composes nodes recursively).
MAX_YAML_DEPTH = 20

if TYPE_CHECKING:
    import yaml


def _loader() -> Any:
    """PyYAML's C loader when built with libyaml. PyYAML is imported only to read a job or
    credentials file, not for every run (~12 ms)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def canonical_key(key: str) -> str:
    """A key as written (` Max-Rows`) as its schema name (`max_rows`)."""
    return key.strip().lower().replace("-", "_")


def _line(mark: Any) -> int:
    return int(mark.line) + 1


def read_yaml_text(path: Path, what: str) -> str:
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


def compose_yaml(text: str, path: Path) -> yaml.Node | None:
    """The document's node tree; anchors, aliases, deep nesting and several documents refused.

    The events are scanned before anything is composed, so a "billion laughs" file is refused at
    its first anchor, in constant memory.
    """
    import yaml

    try:
        depth = 0
        documents = 0
        for event in yaml.parse(text, Loader=_loader()):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ConfigError(
                    f"{path}: line {_line(event.start_mark)}: YAML anchors and aliases "
                    "(& and *) are not allowed in job or credentials files; write each value out"
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
        return yaml.compose(text, Loader=_loader())
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
    import yaml

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


def scalar_text(node: yaml.Node) -> str | None:
    """The text of a plain or quoted scalar as written (`007` stays `007`, `NO` stays `NO`)."""
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag in (
        _STANDARD_TAG + "str",
        _STANDARD_TAG + "int",
        _STANDARD_TAG + "float",
        _STANDARD_TAG + "bool",
        _STANDARD_TAG + "timestamp",
    ):
        return str(node.value)
    return None


def mapping_pairs(root: yaml.Node, path: Path, what: str) -> list[tuple[str, int, yaml.Node]]:
    """(key as written, line, value node) for each key of a mapping; duplicates refused."""
    import yaml

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
        name = canonical_key(written)
        if name in seen:
            raise ConfigError(
                f'{path}: line {line}: "{written}" is given twice (first on line {seen[name]})'
            )
        seen[name] = line
        pairs.append((written, line, value_node))
    return pairs


def unknown_key(written: str, known: list[str]) -> str:
    """The message for a key not among `known`: the nearest one suggested, or all listed."""
    name = canonical_key(written)
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if match:
        suggestion = match[0].replace("_", "-") if "-" in written else match[0]
        return f'unknown key "{written}" (did you mean "{suggestion}"?)'
    return f'unknown key "{written}"; the keys are: {", ".join(known)}'


def _secret_refusal(written: str) -> str:
    if canonical_key(written) == "id":
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
    import yaml

    path = Path(path)
    text = read_yaml_text(path, "job file")
    root = compose_yaml(text, path)
    if root is None:
        raise ConfigError(f"{path}: the job file is empty; it needs at least `input: FILE`")
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    for written, line, node in mapping_pairs(root, path, "job file"):
        name = canonical_key(written)
        if name in SECRET_KEYS or name == "id":
            raise ConfigError(f"{path}: line {line}: {_secret_refusal(written)}")
        spec = JOB_KEYS.get(name)
        if spec is None:
            raise ConfigError(f"{path}: line {line}: {unknown_key(written, list(JOB_KEYS))}")
        if isinstance(node, yaml.ScalarNode) and node.tag == _STANDARD_TAG + "null":
            continue  # `key:` with nothing after it leaves the default
        if spec.type in ("path", "text", "country"):
            raw: object = scalar_text(node)
            if raw is None:
                raw = _construct(node, path, written)
        else:
            raw = _construct(node, path, written)
        value = check_value(name, raw, f"{path}: line {line}: ", f'"{written}"')
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
    for written, line, node in mapping_pairs(root, path, f'"{parent}" value'):
        name = canonical_key(written)
        if name not in defaults:
            raise ConfigError(
                f"{path}: line {line}: {parent}: {unknown_key(written, list(defaults))}"
            )
        default = defaults[name]
        value = _construct(node, path, written)
        check: Callable[[object], object]
        if isinstance(default, bool):
            check, expected = option_values.flag, "true or false"
        elif isinstance(default, int):
            check, expected = option_values.whole(0), "a whole number ≥ 0"
        elif name.endswith("_rate") and name != "rate_limit":
            check, expected = _fraction, "a number from 0 to 1"
        elif isinstance(default, float):
            check, expected = option_values.number(0, low_inclusive=True), "a number ≥ 0"
        else:
            check, expected = _retry_after, "a number of seconds or an HTTP date"
        try:
            faults[name] = check(value)
        except option_values.Invalid:
            shown = option_values.show(value)
            raise ConfigError(
                f'{path}: line {line}: "{written}" must be {expected}, not {shown}'
            ) from None
    try:
        FaultPlan(**faults)  # type: ignore[arg-type]
    except ConfigError as error:  # settings fine one by one, not together (rates above 1)
        raise ConfigError(f'{path}: line {_line(root.start_mark)}: "{parent}": {error}') from None
    return faults


def _fraction(value: object) -> float:
    number = option_values.number(0, low_inclusive=True)(value)
    if number > 1:
        raise option_values.Invalid
    return number


def _retry_after(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise option_values.Invalid
    return str(value)


# --------------------------------------------------------------------------- resolving


def resolve_options(
    job: Mapping[str, object],
    cli: Mapping[str, object],
    *,
    environ: Mapping[str, str],
    job_dir: Path | None,
    require_input: bool = True,
    uses_api: bool = True,
) -> JobOptions:
    """The options of one command: command line > job file > environment > defaults.

    `cli` holds option names (the `JobOptions` fields; `None` = not given). Paths from the job
    file are taken relative to `job_dir` (by default the job file's folder); paths from the
    command line stay relative to the working directory. `require_input=False` is for commands
    without an input (`lists`). The environment's base URL is read (and checked) only when it
    is the value in force: not when the job file or the command line gives one, and never for
    a command that does not talk to the API (`uses_api=False`: `runs`, `results`).
    """
    job_file = job if isinstance(job, JobFile) else None
    if job_dir is None and job_file is not None:
        job_dir = job_file.source.parent
    values: dict[str, object] = {}
    origins: dict[str, str] = {}

    for raw_key, value in job.items():
        name = canonical_key(raw_key)
        where = f"{job_file.where(name)}: " if job_file else "job file: "
        if name in SECRET_KEYS or name == "id":
            raise ConfigError(f"{where}{_secret_refusal(raw_key)}")
        if name not in JOB_KEYS:
            raise ConfigError(f"{where}{unknown_key(raw_key, list(JOB_KEYS))}")
        if value is None:
            continue
        if job_file is None:
            value = check_value(name, value, where, f'"{raw_key}"')
        if name in PATH_KEYS:
            value = _job_path(Path(str(value)), job_dir)
        values[name] = value
        origins[name] = job_file.where(name) if job_file else "the job file"

    for raw_key, value in cli.items():
        name = canonical_key(raw_key)
        flag = OPTION_FLAGS.get(name, "--" + name.replace("_", "-"))
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
        values[name] = check_value(name, value, "", flag)
        origins[name] = flag

    env_url = environ.get(ENV_BASE_URL, "").strip()
    if uses_api and env_url and "base_url" not in values:
        values["base_url"] = check_value("base_url", env_url, "", ENV_BASE_URL)
        origins["base_url"] = ENV_BASE_URL

    options = JobOptions(**values, origins=origins)  # type: ignore[arg-type]
    job_source = job_file.source if job_file else None
    if uses_api and options.sandbox_faults and options.base_url != "sandbox":
        raise ConfigError(
            f"{origins.get('sandbox_faults', 'sandbox_faults')}: sandbox_faults applies to the "
            f"built-in sandbox only (base_url: sandbox), and the API here is {options.base_url}"
        )
    if require_input:
        _check_input(options, origins.get("input"), job_source)
    check_overwrites(options, Path.cwd(), job_source)
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
