"""``manage.py schemaops``: the schemaops subcommands (each in
:mod:`schemaops.management.subcommands`), with one way of reporting errors."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from schemaops import status as status_module
from schemaops.display import for_display
from schemaops.exceptions import SchemaOpsError
from schemaops.locking.errors import first_line, original_error, server_details
from schemaops.management.arguments import known_database
from schemaops.management.subcommands import SUBCOMMANDS
from schemaops.management.subcommands.base import add_common_arguments
from schemaops.output import quiet_when_the_reader_stops


class Command(BaseCommand):
    help = (
        "schemaops: the SQL scripts beside Django's migrations, their state, history and "
        "repair. Run 'manage.py schemaops SUBCOMMAND --help' for each subcommand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(title="subcommands", dest="subcommand", required=True)
        for kind in SUBCOMMANDS:
            subcommand = kind(self)
            sub = subparsers.add_parser(
                kind.name,
                help=kind.summary,
                description=f"{kind.summary} {kind.description}".strip(),
            )
            add_common_arguments(sub)
            subcommand.add_arguments(sub)
            sub.set_defaults(subcommand_object=subcommand)

    def execute(self, *args: Any, **options: Any) -> Any:
        with quiet_when_the_reader_stops():  # | head
            return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        known_database(database)
        subcommand = options.pop("subcommand_object")
        try:
            status_module.ensure_postgresql(database)
            if subcommand.reads_database(options):
                status_module.ensure_connected(database)
            subcommand.handle(**options)
        except SchemaOpsError as exc:
            raise CommandError(for_display(str(exc))) from exc
        except DatabaseError as exc:
            # Whatever query failed, a person gets PostgreSQL's words, not a traceback.
            failure = original_error(exc)
            raise CommandError(
                f"Database {database!r} refused a query of schemaops "
                f"{options['subcommand']}: {first_line(failure)}{server_details(failure)}\n"
                "If the registry is missing or old, run manage.py migrate schemaops "
                f"--database {database}; otherwise check the database, then run the command "
                "again."
            ) from exc
