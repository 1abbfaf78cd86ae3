"""The operator's own column roles: `--map HEADER=ROLE` on the command line, `columns:` in a
job file, read into header -> `Role` (they win over recognition, `importer.kinds.roles`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from importer.errors import ConfigError
from importer.kinds.roles import Role


def parse_mapping(pairs: Sequence[str] | Mapping[str, str]) -> dict[str, Role]:
    """`--map HEADER=ROLE` values (or a job's `columns:` mapping) -> header -> role.

    Raises ConfigError naming a pair without `=` or a role that does not exist.
    """
    items: list[tuple[str, str]] = []
    if isinstance(pairs, Mapping):
        items = [(str(header), str(role)) for header, role in pairs.items()]
    else:
        for pair in pairs:
            header, sep, role = pair.rpartition("=")
            if not sep or not header.strip():
                raise ConfigError(f"{pair!r}: expected HEADER=ROLE")
            items.append((header, role))
    roles = {role.value: role for role in Role}
    mapping: dict[str, Role] = {}
    for header, role in items:
        chosen = roles.get(role.strip().lower().replace("-", "_").replace(" ", "_"))
        if chosen is None:
            raise ConfigError(
                f"column {header.strip()!r}: unknown role {role.strip()!r}; "
                f"roles are {', '.join(roles)}"
            )
        mapping[header.strip()] = chosen
    return mapping
