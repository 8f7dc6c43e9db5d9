"""``schemaops repair``, ``baseline`` and ``fake``: record a script's real state
without running it."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from schemaops.exceptions import ScriptNotFound
from schemaops.management.subcommands.base import Subcommand
from schemaops.models import Direction, HistoryEntry, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts import adoption, baseline, state


def append(
    database: str, status: state.ScriptStatus, outcome: str, direction: str, note: str
) -> HistoryEntry:
    """A registry row for ``status`` that runs nothing."""
    return Recorder(database).record(
        tier=Tier.SQL,
        location=status.location,
        version=status.version,
        name=status.name,
        checksum=status.checksum,
        direction=direction,
        outcome=outcome,
        started_at=timezone.now(),
        duration_ms=0,
        note=note,
    )


class Repair(Subcommand):
    name = "repair"
    summary = "Resolve an interrupted, failed or changed script by recording its real state."
    description = (
        "Runs no SQL: appends a row saying the script is applied (recording the file's "
        "current checksum) or pending."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("script", metavar="LOCATION:VERSION")
        parser.add_argument("--as", dest="as_state", choices=["applied", "pending"], required=True)
        parser.add_argument("--reason", required=True, help="Why; kept in the registry.")

    def handle(self, *, database: str, script: str, as_state: str, reason: str, **_: Any) -> None:
        if not reason.strip():
            raise CommandError("--reason must say why; it is kept in the registry.")
        self.require_registry(database)
        with self.lock(database, None):
            status = state.find(state.load(database), script)
            direction = Direction.UP if as_state == "applied" else Direction.DOWN
            append(database, status, Outcome.REPAIRED, direction, reason)
        self.stdout.write(
            f"Recorded {status.id} as {as_state} (was {status.state.value}). Reason: {reason}"
        )


class Baseline(Subcommand):
    name = "baseline"
    summary = "Mark every script of a location up to VERSION as applied, without running them."
    description = (
        "For a database that already has those changes (brought over from "
        "golang-migrate, Flyway or dbmate)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "script",
            metavar="LOCATION:VERSION | LOCATION",
            help="Up to which script; with --from, the location only (the other tool says "
            "how far).",
        )
        parser.add_argument("--reason", default="", help="Kept in the registry.")
        parser.add_argument(
            "--from",
            dest="from_tool",
            choices=sorted(adoption.TOOLS),
            help="Baseline what this tool applied, read from its own history table on the "
            "same database (golang-migrate and dbmate: schema_migrations; Flyway: "
            "flyway_schema_history). Refuses when it says a migration is dirty or failed.",
        )
        parser.add_argument(
            "--table", help="The other tool's history table, if not its default name."
        )

    def handle(
        self,
        *,
        database: str,
        script: str,
        reason: str,
        from_tool: str | None,
        table: str | None,
        **_: Any,
    ) -> None:
        self.require_registry(database)
        with self.lock(database, None):
            chosen = baseline.select(state.load(database), script, from_tool, table, database)
            for status in chosen.scripts:
                append(database, status, Outcome.BASELINED, Direction.UP, reason or chosen.reason)
                self.stdout.write(f"  Baselined {status.id} {status.name}")
        self.stdout.write(
            f"Baselined {len(chosen.scripts)} script(s) of {chosen.location} {chosen.upto}."
        )


class Fake(Subcommand):
    name = "fake"
    summary = "Mark one script as applied without running it."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("script", metavar="LOCATION:VERSION")
        parser.add_argument("--reason", default="", help="Kept in the registry.")

    def handle(self, *, database: str, script: str, reason: str, **_: Any) -> None:
        self.require_registry(database)
        with self.lock(database, None):
            status = state.find(state.load(database), script)
            if status.is_applied:
                raise CommandError(f"{status.id} is already {status.state.value}.")
            if status.script is None:
                raise ScriptNotFound(f"{status.id} has no file to fake.")
            append(database, status, Outcome.FAKED, Direction.UP, reason)
        self.stdout.write(f"Marked {status.id} as applied without running it.")
