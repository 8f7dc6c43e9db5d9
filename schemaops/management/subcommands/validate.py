"""``schemaops validate``: every problem, one line each; exit 1 if any."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from schemaops.display import for_display
from schemaops.exceptions import ScriptError
from schemaops.management.subcommands.base import Subcommand
from schemaops.schema import compare
from schemaops.scripts import problems, state


class Validate(Subcommand):
    name = "validate"
    summary = "Check the scripts against the registry; exit 1 with one line per problem."
    description = (
        "Reports malformed files, changed checksums (both values), missing files, "
        "out-of-order pending scripts and interrupted or failed scripts. Exit 0 when clean."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--snapshot",
            nargs="?",
            const="",
            default=None,
            metavar="FILE",
            help="Also report, object by object, how the database differs from the schema "
            "file (default SCHEMAOPS['SNAPSHOT']; see 'schemaops snapshot').",
        )

    def handle(self, *, database: str, snapshot: str | None = None, **_: Any) -> None:
        try:
            found = state.load(database)
        except ScriptError as exc:
            for line in str(exc).splitlines():
                self.stderr.write(for_display(line))
            raise CommandError("Validation failed: malformed script files.") from exc
        lines: list[str] = []
        for status in found:
            if status.script is not None and status.state in state.RUNNABLE_STATES:
                try:
                    status.script.parsed  # noqa: B018
                except ScriptError as exc:
                    lines.append(str(exc))
        lines.extend(str(p) for p in problems.validation_problems(found))
        schema = None
        if snapshot is not None:
            schema = compare.compare(Path(snapshot) if snapshot else None, database)
            lines.extend(str(difference) for difference in schema.differences)
        for line in lines:
            self.stderr.write(for_display(line))
        if lines:
            raise CommandError(f"Validation failed: {len(lines)} problem(s).")
        for status in found:
            if status.state == state.State.RUNNING:
                self.stdout.write(f"{status.id}: running now; not a problem while its run lives.")
        if schema is not None:
            self.stdout.write(
                f"{schema.path}: {schema.objects} object(s), the same in database {database!r}."
            )
        self.stdout.write(self.style.SUCCESS(f"OK: {len(found)} script(s), no problems."))
