"""``schemaops rollback``: down sections, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from schemaops.management.arguments import whole_number
from schemaops.management.subcommands.base import Subcommand, add_lock_wait_argument
from schemaops.scripts import rollback, state
from schemaops.scripts.executor import ScriptExecutor


class Rollback(Subcommand):
    name = "rollback"
    summary = "Run the down sections of applied scripts, newest first."
    description = (
        "Without --to, rolls back --steps scripts (1). Refuses, before running anything, "
        "when a selected script has no down section."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("location", nargs="?", help="Only scripts of this location.")
        how_far = parser.add_mutually_exclusive_group()
        how_far.add_argument(
            "--to", metavar="VERSION", help="Roll back every script newer than VERSION."
        )
        how_far.add_argument(
            "--steps", type=whole_number(1), default=None, help="How many scripts (1)."
        )
        add_lock_wait_argument(parser)

    def handle(
        self,
        *,
        database: str,
        location: str | None,
        to: str | None,
        steps: int | None,
        lock_wait: float | None,
        **_: Any,
    ) -> None:
        with self.lock(database, lock_wait):
            selected = rollback.select(state.load(database), location, to, steps)
            if not selected:
                self.stdout.write("Nothing to roll back.")
                return
            executor = ScriptExecutor(database, self.progress)
            for status in selected:
                assert status.script is not None
                self.progress(f"  Reverting {status.id} {status.name}...")
                entry = executor.revert(status.script)
                self.progress(f"  Reverted {status.id} in {entry.duration_ms} ms")
