"""``schemaops status``: both tiers, text or JSON."""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

from schemaops import status as status_module
from schemaops.display import for_display
from schemaops.management.subcommands.base import Subcommand, format_time, when
from schemaops.scripts import state


class Status(Subcommand):
    name = "status"
    summary = "Show both tiers: Django migrations and SQL scripts, applied or pending."
    description = (
        "Pending migrations and every script are listed; applied migrations and the "
        "registry's latest rows with -v 2. --format json prints one JSON object (keys in "
        "docs/commands/status.md)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *, database: str, format: str, verbosity: int, **_: Any) -> None:
        status = status_module.collect(database)
        if format == "json":
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
            return
        self._migrations(status, verbosity)
        self._scripts(status)
        self._registry(status, verbosity)

    def _migrations(self, status: status_module.Status, verbosity: int) -> None:
        pending = status.pending_migrations
        self.stdout.write(self.style.MIGRATE_HEADING(f"Django migrations ({status.database})"))
        for app, group in itertools.groupby(status.migrations, key=lambda m: m.app):
            states = list(group)
            app_pending = [m for m in states if not m.applied]
            summary = f"{len(states) - len(app_pending)} applied"
            if app_pending:
                summary += ", " + self.style.WARNING(f"{len(app_pending)} pending")
            self.stdout.write(f"  {app}: {summary}")
            for migration in states:
                if not migration.applied:
                    self.stdout.write(f"    [ ] {migration.name}")
                elif verbosity >= 2:
                    self.stdout.write(f"    [X] {migration.name}")
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(pending)} Django migration(s) pending: run manage.py migrate."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("All Django migrations are applied."))

    def _scripts(self, status: status_module.Status) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"SQL scripts ({status.database})"))
        for error in status.script_errors:
            self.stdout.write(self.style.ERROR(f"  {for_display(error)}"))
        if not status.scripts and not status.script_errors:
            self.stdout.write("  No scripts: add .sql files to an app's sqlmigrations/ folder.")
        width = max((len(s.id) + len(s.name) for s in status.scripts), default=0) + 1
        for script in status.scripts:
            label = f"{script.id} {script.name}".ljust(width)
            shown = script.state.value.ljust(11)
            if script.state in (state.State.PENDING, state.State.REVERTED, state.State.RUNNING):
                shown = self.style.WARNING(shown)
            elif script.state not in (state.State.APPLIED, state.State.BASELINED):
                shown = self.style.ERROR(shown)
            self.stdout.write(f"  {label} {shown} {self._since(script)}".rstrip())
            if script.state == state.State.INTERRUPTED:
                how_far = script.how_far()
                self.stdout.write(f"    {how_far[0].upper()}{how_far[1:]}")
        counts: dict[str, int] = {}
        for script in status.scripts:
            counts[script.state.value] = counts.get(script.state.value, 0) + 1
        if status.scripts:
            summary = ", ".join(f"{n} {value}" for value, n in sorted(counts.items()))
            self.stdout.write(f"{len(status.scripts)} script(s): {summary}.")

    @staticmethod
    def _since(script: state.ScriptStatus) -> str:
        if script.latest is not None and script.is_applied:
            return when(script.latest)
        if script.latest is not None and script.state == state.State.RUNNING:
            return (
                f"since {format_time(script.latest.started_at)} "
                f"(backend pid {script.latest.backend_pid})"
            )
        return ""

    def _registry(self, status: status_module.Status, verbosity: int) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Registry (latest row of each change)"))
        if not status.registry_installed:
            self.stdout.write(
                self.style.WARNING(
                    "  The registry table does not exist yet: run manage.py migrate schemaops."
                )
            )
        elif not status.registry:
            self.stdout.write("  No changes recorded yet.")
        elif verbosity < 2:
            newest = max(status.registry, key=lambda e: e.pk)
            self.stdout.write(
                f"  {len(status.registry)} change(s) recorded; newest: {newest.location}:"
                f"{newest.version} {newest.outcome} at {when(newest)} "
                "(-v 2 lists them; 'schemaops history' shows every row)."
            )
        else:
            for entry in status.registry:
                duration = "" if entry.duration_ms is None else f" {entry.duration_ms} ms"
                self.stdout.write(
                    f"  {when(entry)} {entry.tier:6} "
                    f"{entry.location}:{entry.version} {entry.direction} "
                    f"{entry.outcome}{duration}"
                )
