"""The account's id and key: from the environment or from a private credentials file.

The API key is never an option: it is never taken from a job file or the command line.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from importer import jobfile
from importer.api_address import SANDBOX
from importer.errors import ConfigError
from importer.masking import key_forms
from importer.options import ENV_ID, ENV_KEY

if TYPE_CHECKING:
    from importer.client import Credentials
    from importer.options import JobOptions


# --------------------------------------------------------------------------- credentials

#: Shorter keys are refused before anything is sent: no real key is this short, and masking a
#: key of a letter or two in every message would garble them (`countr[REDACTED]`).
MIN_KEY_LENGTH = 8

#: An e-mail address, loosely: one `@`, no space, a dot in the domain (`me@example.com`).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def load_credentials(options: JobOptions, environ: Mapping[str, str]) -> Credentials:
    """The account's id and key: environment first, then the credentials file.

    With `base_url: sandbox` the built-in sandbox's demo account is always used: real
    credentials, from the environment or a credentials file, are never sent to a test server.
    """
    from importer.client import Credentials

    env_id = environ.get(ENV_ID, "").strip()
    env_key = environ.get(ENV_KEY, "").strip()
    if options.base_url == SANDBOX:
        from importer.sandbox import DEMO_ID, DEMO_KEY

        return Credentials(DEMO_ID, DEMO_KEY)
    if env_id and env_key:
        return _plausible(Credentials(env_id, env_key), ENV_ID, ENV_KEY)
    if options.credentials_file is not None:
        path = options.credentials_file
        return _plausible(_credentials_from_file(path), f"{path}: `id:`", f"the key of {path}")
    if env_id or env_key:
        missing = ENV_KEY if env_id else ENV_ID
        present = ENV_ID if env_id else ENV_KEY
        raise ConfigError(f"{present} is set but {missing} is not: set both")
    raise ConfigError(
        f"no credentials: set {ENV_ID} and {ENV_KEY}, or credentials_file: in the job file"
    )


def _plausible(credentials: Credentials, id_from: str, key_from: str) -> Credentials:
    """The credentials, unless the id is not an e-mail address (the API reference: the id is
    the account's e-mail; most often the id and the key were swapped) or the key is too short
    to be real (`MIN_KEY_LENGTH`). Neither value is ever quoted: the id may be the key."""
    if not _EMAIL.fullmatch(credentials.id):
        raise ConfigError(
            f"{id_from} is not an e-mail address: the API id is the account's e-mail "
            "(were the id and the key swapped?)"
        )
    if credentials.id == credentials.key:
        raise ConfigError(f"{id_from} is the key: the API id is the account's e-mail")
    length = len(credentials.key)
    if length < MIN_KEY_LENGTH:
        plural = "character" if length == 1 else "characters"
        raise ConfigError(
            f"{key_from}: the API key is {length} {plural} long, too short to be an AvoSMS key "
            f"(at least {MIN_KEY_LENGTH}); copy it again from the customer area"
        )
    return credentials


def secrets_of(options: JobOptions, environ: Mapping[str, str]) -> list[str]:
    """Every key this job could know, in every form it travels in (`masking.key_forms`), for
    masking in logs and messages; never raises.

    A credentials file that would be refused is still read here: its key must be masked too.
    A key shorter than `MIN_KEY_LENGTH` is not masked (masking it would garble every message):
    it is refused before anything is sent, so it never travels.
    """
    keys = [environ.get(ENV_KEY, "").strip()]
    if options.credentials_file is not None:
        with contextlib.suppress(ConfigError, OSError, ImportError):
            keys.append(_credentials_from_file(options.credentials_file, private=False).key)
    plausible = [key for key in keys if len(key) >= MIN_KEY_LENGTH]
    return list(dict.fromkeys(form for key in plausible for form in key_forms(key)))


def _credentials_from_file(path: Path, *, private: bool = True) -> Credentials:
    """`id:` and `key:` from a YAML file that only its owner can read."""
    from importer.client import Credentials

    text = jobfile.read_yaml_text(path, "credentials file")
    if private and os.name == "posix":
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
    root = jobfile.compose_yaml(text, path)
    if root is None:
        raise ConfigError(f"{path}: the credentials file is empty; it needs `id:` and `key:`")
    found: dict[str, str] = {}
    for written, line, node in jobfile.mapping_pairs(root, path, "credentials file"):
        name = jobfile.canonical_key(written)
        if name not in ("id", "key"):
            raise ConfigError(
                f"{path}: line {line}: {jobfile.unknown_key(written, ['id', 'key'])}; "
                "a credentials file holds only id: and key:"
            )
        value = jobfile.scalar_text(node)  # as written: a key of digits keeps its leading zeros
        if value is None or not value.strip():
            raise ConfigError(f'{path}: line {line}: "{written}" must be text')
        found[name] = value.strip()
    missing = [name for name in ("id", "key") if name not in found]
    if missing:
        names = " and ".join(f"`{name}:`" for name in missing)
        raise ConfigError(f"{path}: the credentials file has no {names}")
    return Credentials(found["id"], found["key"])
