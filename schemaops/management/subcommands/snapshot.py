"""``schemaops snapshot``: write the database's schema file, or check it (``--check``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from schemaops import conf
from schemaops.display import display
from schemaops.management.subcommands.base import Subcommand
from schemaops.schema import catalog, snapshot


class Snapshot(Subcommand):
    name = "snapshot"
    summary = "Write the database's schema, read from the catalog, as a deterministic file."
    description = (
        "Extensions, schemas, functions, sequences, tables, constraints, indexes, views, "
        "materialized views and triggers, with their comments, sorted by name: the same "
        "schema always gives the same bytes. --check exits 1 with a diff when the file "
        "differs from the database. Needs no pg_dump."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            metavar="FILE",
            help="The schema file (SCHEMAOPS['SNAPSHOT'], default schema.sql in BASE_DIR); "
            "'-' writes to stdout.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit 1 with a unified diff when the file differs from "
            "the database.",
        )

    def handle(self, *, database: str, output: Path | None, check: bool, **_: Any) -> None:
        path = conf.snapshot() if output is None else output
        to_stdout = str(path) == "-"
        if check and to_stdout:
            raise CommandError("--check compares a file: give --output FILE, not -.", returncode=2)
        objects = catalog.read(database)
        text = snapshot.render(objects)
        if to_stdout:
            self.stdout.write(text, ending="")
            return
        shown = display(path.absolute())
        summary = f"{len(objects)} objects ({snapshot.counts(objects)})"
        if check:
            self._check(path, shown, database, text, summary)
        elif snapshot.write_file(path, text):
            self.stdout.write(self.style.SUCCESS(f"Wrote {shown}: {summary}."))
        else:
            self.stdout.write(f"{shown} is up to date: {summary}.")

    def _check(self, path: Path, shown: str, database: str, text: str, summary: str) -> None:
        lines = snapshot.diff(snapshot.read_file(path), text, shown, database)
        if not lines:
            matches = f"{shown} matches database {database!r}: {summary}."
            self.stdout.write(self.style.SUCCESS(matches))
            return
        for line in lines:
            if line.startswith("-") and not line.startswith("---"):
                line = self.style.ERROR(line)
            elif line.startswith("+") and not line.startswith("+++"):
                line = self.style.SUCCESS(line)
            self.stdout.write(line)
        raise CommandError(
            f"{shown} differs from database {database!r} (the diff above: - the file, "
            "+ the database). If the database is right, run manage.py schemaops snapshot "
            f"and commit {shown}; otherwise migrate the database or undo the change."
        )
