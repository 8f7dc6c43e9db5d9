"""``manage.py schemaops``: the schemaops subcommands."""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from schemaops import status as status_module
from schemaops.exceptions import SchemaOpsError


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a subcommand ``--database``, and ``-v`` after the subcommand's name."""
    parser.add_argument(
        "--database",
        default=DEFAULT_DB_ALIAS,
        help='Nominates a database to use. Defaults to the "default" database.',
    )
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        # SUPPRESS keeps the value given before the subcommand's name.
        default=argparse.SUPPRESS,
        help="Verbosity level; 0=minimal output, 1=normal output, 2=verbose output.",
    )


class Command(BaseCommand):
    help = "schemaops: the state, history and safety of both migration tiers."

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(title="subcommands", dest="subcommand", required=True)

        status_parser = subparsers.add_parser(
            "status",
            help="Show Django migrations (applied or pending) and the registry's latest rows.",
            description=(
                "Show every app's Django migrations, applied or pending, and the latest "
                "registry row of each change. Pending migrations are always listed; "
                "applied ones with -v 2. --format json prints one JSON object (see "
                "docs/commands/status.md for its keys)."
            ),
        )
        _add_common_arguments(status_parser)
        status_parser.add_argument(
            "--format", choices=["text", "json"], default="text", help="Output format."
        )
        status_parser.set_defaults(handler=self.handle_status)

    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        if database not in connections:
            choices = ", ".join(repr(alias) for alias in connections)
            raise CommandError(f"Unknown database {database!r}. Choose one of: {choices}.")
        try:
            options["handler"](**options)
        except SchemaOpsError as exc:
            raise CommandError(str(exc)) from exc

    def handle_status(self, *, database: str, format: str, verbosity: int, **_: Any) -> None:
        status = status_module.collect(database)
        if format == "json":
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
            return

        pending = status.pending_migrations
        self.stdout.write(self.style.MIGRATE_HEADING(f"Django migrations ({database})"))
        for app, group in itertools.groupby(status.migrations, key=lambda m: m.app):
            states = list(group)
            app_pending = [m for m in states if not m.applied]
            summary = f"{len(states) - len(app_pending)} applied"
            if app_pending:
                summary += ", " + self.style.WARNING(f"{len(app_pending)} pending")
            self.stdout.write(f"  {app}: {summary}")
            for state in states:
                if not state.applied:
                    self.stdout.write(f"    [ ] {state.name}")
                elif verbosity >= 2:
                    self.stdout.write(f"    [X] {state.name}")
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(pending)} Django migration(s) pending: run manage.py migrate."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("All Django migrations are applied."))

        self.stdout.write(self.style.MIGRATE_HEADING("Registry (latest row of each change)"))
        if not status.registry_installed:
            self.stdout.write(
                self.style.WARNING(
                    "  The registry table does not exist yet: run manage.py migrate schemaops."
                )
            )
        elif not status.registry:
            self.stdout.write("  No changes recorded yet.")
        for entry in status.registry:
            duration = "" if entry.duration_ms is None else f" {entry.duration_ms} ms"
            self.stdout.write(
                f"  {entry.started_at:%Y-%m-%d %H:%M:%S} {entry.tier:6} "
                f"{entry.location}:{entry.version} {entry.direction} {entry.outcome}{duration}"
            )
