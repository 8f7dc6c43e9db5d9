"""``schemaops validate``: every problem, one line each (or JSON); exit 1 if any."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from schemaops.display import for_display
from schemaops.exceptions import ScriptError
from schemaops.management.subcommands.base import Subcommand
from schemaops.schema import compare, drift
from schemaops.scripts import problems, state


class Validate(Subcommand):
    name = "validate"
    summary = (
        "Check the scripts against the registry and the database against the models; "
        "exit 1 with one line per problem."
    )
    description = (
        "Reports malformed files, changed checksums (both values), missing files, "
        "out-of-order pending scripts and interrupted or failed scripts, then drift: "
        "tables, columns, types, nullability, indexes and constraints the models imply "
        "but the database lacks, and INVALID indexes; with --snapshot, each object that "
        "differs from the schema file. Exit 0 when clean. --format json prints one JSON "
        "object (keys in docs/commands/validate.md)."
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
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(
        self,
        *,
        database: str,
        format: str,
        snapshot: str | None = None,
        verbosity: int = 1,
        **_: Any,
    ) -> None:
        try:
            found = state.load(database)
        except ScriptError as exc:
            if format == "json":
                malformed = [{"kind": "malformed", "script": "", "message": line, "fix": ""}
                             for line in str(exc).splitlines()]  # fmt: skip
                self._json(database, 0, malformed, [], None, None)
            else:
                for line in str(exc).splitlines():
                    self.stderr.write(for_display(line))
            raise CommandError("Validation failed: malformed script files.") from exc
        script_problems: list[dict[str, str]] = []
        for status in found:
            if status.script is not None and status.state in state.RUNNABLE_STATES:
                try:
                    status.script.parsed  # noqa: B018
                except ScriptError as exc:
                    script_problems.append(
                        {"kind": "malformed", "script": status.id, "message": str(exc), "fix": ""}
                    )
        script_problems.extend(
            {"kind": p.kind, "script": p.status.id, "message": p.message, "fix": p.fix}
            for p in problems.validation_problems(found)
        )
        running = [s.id for s in found if s.state == state.State.RUNNING]
        found_drift = drift.check(database)
        schema = None
        if snapshot is not None:
            schema = compare.compare(Path(snapshot) if snapshot else None, database)
        count = len(script_problems) + len(found_drift.findings)
        count += len(schema.differences) if schema is not None else 0
        if format == "json":
            self._json(database, len(found), script_problems, running, found_drift, schema)
        else:
            self._text(script_problems, found_drift, schema, verbosity)
        if count:
            raise CommandError(f"Validation failed: {count} problem(s).")
        if format == "json":
            return
        for script_id in running:
            self.stdout.write(f"{script_id}: running now; not a problem while its run lives.")
        if schema is not None:
            self.stdout.write(
                f"{schema.path}: {schema.objects} object(s), the same in database {database!r}."
            )
        self.stdout.write(self.style.SUCCESS(f"OK: {len(found)} script(s), no problems."))

    def _text(
        self,
        script_problems: list[dict[str, str]],
        found: drift.Drift,
        schema: compare.Comparison | None,
        verbosity: int,
    ) -> None:
        for problem in script_problems:
            if problem["kind"] == "malformed":  # the message names the file
                self.stderr.write(for_display(problem["message"]))
            else:  # as problems.Problem reads
                line = f"{problem['script']}: {problem['message']} {problem['fix']}"
                self.stderr.write(for_display(line))
        for finding in found.findings:
            self.stderr.write(for_display(str(finding)))
        for difference in schema.differences if schema is not None else []:
            self.stderr.write(for_display(str(difference)))
        if found.pending_apps:
            self.stdout.write(
                "Drift not compared for app(s) with migrations to apply: "
                f"{', '.join(found.pending_apps)} (run manage.py migrate)."
            )
        if found.unmigrated_apps and verbosity >= 2:
            self.stdout.write(
                "Drift not compared for app(s) without migrations: "
                f"{', '.join(found.unmigrated_apps)}."
            )

    def _json(
        self,
        database: str,
        scripts: int,
        script_problems: list[dict[str, str]],
        running: list[str],
        found: drift.Drift | None,
        schema: compare.Comparison | None,
    ) -> None:
        document = {
            "database": database,
            "scripts": scripts,
            "problems": script_problems,
            "running": running,
            "drift": None if found is None else found.as_dict(),
            "snapshot": None
            if schema is None
            else {
                "path": schema.path,
                "objects": schema.objects,
                "differences": [str(difference) for difference in schema.differences],
            },
        }
        self.stdout.write(json.dumps(document, indent=2))
