"""The API address a run may talk to: the key never travels in clear.

`check_base_url` is the one rule for `--base-url`, the job file's `base_url` and
`AVOSMS_BASE_URL`: HTTPS anywhere, plain HTTP only to this machine (loopback), or the built-in
sandbox.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from importer.errors import ConfigError
from importer.proxy import is_loopback

#: `base_url: sandbox`: the built-in sandbox, started for the length of the run.
SANDBOX = "sandbox"


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
    shown = (
        f' "{text if len(text) <= 40 else text[:37] + "..."}"'
        if "@" not in text and "?" not in text
        else ""
    )
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
    if scheme == "http" and not is_loopback(host):
        raise ConfigError(f"refusing to send the API key over plain HTTP to {netloc}; use https://")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v1"):
        path = path[:-3].rstrip("/")
    return f"{scheme}://{netloc}{path}"
