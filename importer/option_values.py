"""The checks of job-file and command-line values: each takes what YAML or click gave and
returns the value to use, or raises `Invalid` (or ValueError) for a value that does not fit,
or ConfigError with a message of its own. `importer.options` names one per key."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from importer.api_address import check_base_url
from importer.errors import ConfigError


class Invalid(Exception):
    """A value does not fit its key; the caller builds the message from the key's `expected`."""


def whole(low: int, high: int | None = None) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid
        if value < low or (high is not None and value > high):
            raise Invalid
        return value

    return check


def number(low: float, *, low_inclusive: bool) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise Invalid
        if number < low or (number == low and not low_inclusive):
            raise Invalid
        return number

    return check


def flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid
    return value


def text(value: object) -> str:
    # A header or sheet named 2024 is text; the loader hands such scalars over as written.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid
    text = str(value).strip()
    if not text:
        raise Invalid
    return text


def path(value: object) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise Invalid
    return Path(str(value).strip())


def log_format(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("text", "json"):
        raise Invalid
    return value.strip().lower()


def country(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid
    # Imported here: normalize brings pandas, and options is loaded by `--help`.
    from importer.countries import country_code_for

    code = country_code_for(value)
    if not code:
        raise Invalid
    return code


def choice(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise Invalid
        return value.strip().lower()

    return check


def columns(value: object) -> dict[str, str]:
    """`{HEADER: ROLE}` from a job file, or `("HEADER=ROLE", ...)` from repeated `--map`."""
    from importer.kinds.column_map import parse_mapping

    if isinstance(value, Mapping):
        pairs: Mapping[str, str] | list[str] = {str(k): str(v) for k, v in value.items()}
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        pairs = list(value)
    else:
        raise Invalid
    return {header: role.value for header, role in parse_mapping(pairs).items()}


def preset(value: object) -> str:
    from importer.kinds.roles import check_preset

    return check_preset(text(value))


def number_types(value: object) -> str:
    from importer.rules.phones import parse_number_types

    if not isinstance(value, str):
        raise Invalid
    try:
        return ",".join(sorted(parse_number_types(value)))
    except ValueError as error:
        raise ConfigError(str(error)) from None


def birthday_format(value: object) -> str:
    from importer.rules.fields import BirthdayFormat

    if not isinstance(value, str) or value.strip().upper() not in set(BirthdayFormat):
        raise Invalid
    return value.strip().upper()


def base_url(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid
    return check_base_url(value)


def max_delete(value: object) -> str:
    from importer.kinds.contacts_sync import MaxDelete

    return str(MaxDelete.parse(value))


def faults(value: object) -> dict[str, object]:
    # Sub-keys are checked by `_check_faults`, which knows their lines; here only the shape.
    if not isinstance(value, Mapping):
        raise Invalid
    return dict(value)


def show(value: object) -> str:
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
