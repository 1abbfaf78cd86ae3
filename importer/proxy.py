"""Which requests may go through a proxy, and which proxy: the rule that keeps the key private.

Plain `http://` (which the options allow only to this machine) and every loopback address go
straight to the server, whatever the environment says: a proxy would see the form, key
included, in clear, and a proxy elsewhere cannot reach this machine's loopback anyway.
`https://` honours `HTTPS_PROXY`/`ALL_PROXY` (and `NO_PROXY`) like curl: the proxy only relays
an encrypted tunnel (HTTP `CONNECT`), so the key stays encrypted end to end.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from importer.errors import ConfigError

#: The environment variables that name a proxy for HTTPS, in the order they are looked up
#: (lower case first, as curl and the standard library do).
HTTPS_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (`localhost`, 127.0.0.0/8, ::1): the one definition."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that relays a TLS tunnel: where it listens and the CONNECT headers."""

    host: str
    port: int
    headers: Mapping[str, str]

    def __repr__(self) -> str:  # the headers may hold the proxy's password
        return f"Proxy({self.host}:{self.port})"


def proxy_for(base_url: str, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy a request to `base_url` goes through, or None for a direct connection.

    None for `http://` and for loopback hosts, whatever the environment says; for `https://`,
    the first of HTTPS_PROXY_VARIABLES that is set, unless NO_PROXY covers the host. Raises
    ConfigError for a proxy address we cannot use (only `http://` proxies relay a tunnel).
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "https" or is_loopback(host):
        return None
    value = next((environ[name] for name in HTTPS_PROXY_VARIABLES if environ.get(name)), "")
    if not value.strip():
        return None
    no_proxy = next((environ[name] for name in NO_PROXY_VARIABLES if environ.get(name)), "")
    if no_proxy and bypasses_proxy(host, parts.port or 443, no_proxy):
        return None
    return _parse_proxy(value.strip())


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Whether NO_PROXY (`example.com,.corp,10.0.0.0/8,api.test:8443,*`) covers host:port.

    A name covers itself and its subdomains (a leading `.` or `*.` changes nothing); an
    address or network covers the addresses in it; `*` covers everything. Case is ignored.
    """
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    for entry in (part.strip().lower() for part in no_proxy.split(",")):
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".").strip("[]")
        if not name:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _parse_proxy(value: str) -> Proxy:
    text = value if "://" in value else "http://" + value
    try:
        proxy = urlsplit(text)
        port = proxy.port or 80
    except ValueError:
        raise ConfigError("the proxy in HTTPS_PROXY/ALL_PROXY is not a valid address") from None
    if proxy.scheme.lower() != "http" or not proxy.hostname:
        raise ConfigError(
            f"the proxy in HTTPS_PROXY/ALL_PROXY uses {proxy.scheme or 'no'}://; only "
            "http:// proxies are supported (they relay the encrypted tunnel)"
        )
    headers = {}
    if proxy.username is not None:
        user_pass = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        token = base64.b64encode(user_pass.encode()).decode("ascii")
        headers["Proxy-Authorization"] = f"Basic {token}"
    return Proxy(proxy.hostname, port, headers)
