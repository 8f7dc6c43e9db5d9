"""``schemaops new``: write the next script file."""

from __future__ import annotations

import argparse
from typing import Any

from schemaops.display import display
from schemaops.management.subcommands.base import Subcommand
from schemaops.scripts import authoring


class New(Subcommand):
    name = "new"
    summary = "Write the next script file, with its header and both sections."
    description = (
        "The version follows the location's newest one (a sequence, or a UTC timestamp "
        "when the location uses timestamps)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name", help="What the script does, e.g. 'add gin index to logs'.")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--app", metavar="LABEL", help="Write into this app's sqlmigrations/.")
        where.add_argument("--location", metavar="NAME", help="Write into this location.")
        parser.add_argument("--author", default=None, help="Author for the header (OS user).")

    def reads_database(self, options: dict[str, Any]) -> bool:
        return False  # it writes a file only

    def handle(
        self, *, name: str, app: str | None, location: str | None, author: str | None, **_: Any
    ) -> None:
        script = authoring.next_script(authoring.location_for(app, location), name, author)
        authoring.write(script)
        for path in script.files:
            self.stdout.write(f"Created {display(path)}")
        self.stdout.write(f"Refer to it as {script.id}.")
