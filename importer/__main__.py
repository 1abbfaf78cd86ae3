"""``python -m importer`` runs the command line."""

from __future__ import annotations

from importer.cli import main

main(prog_name="avosms-import")
