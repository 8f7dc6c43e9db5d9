"""``schemaops history``: the registry, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from schemaops import recorder
from schemaops import status as status_module
from schemaops.management.arguments import whole_number
from schemaops.management.subcommands.base import Subcommand, format_time
from schemaops.models import HistoryEntry, Tier


class History(Subcommand):
    name = "history"
    summary = "Show the registry, newest first."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--limit", type=whole_number(0), default=50, help="Rows to show (50; 0: all)."
        )
        parser.add_argument("--tier", choices=[t.value for t in Tier], default=None)
        parser.add_argument("--location", default=None, help="Only this app or location.")

    def handle(
        self,
        *,
        database: str,
        format: str,
        limit: int,
        tier: str | None,
        location: str | None,
        **_: Any,
    ) -> None:
        if not recorder.registry_installed(database):
            self.stdout.write(
                f"No history yet: the schemaops registry is not on database {database!r}. "
                f"Run manage.py migrate schemaops --database {database} (or manage.py migrate)."
            )
            return
        rows = HistoryEntry.objects.using(database).order_by("-id")
        if tier:
            rows = rows.filter(tier=tier)
        if location:
            rows = rows.filter(location=location)
        if limit:
            rows = rows[:limit]
        entries = list(rows)
        if format == "json":
            self.stdout.write(json.dumps([_as_dict(entry) for entry in entries], indent=2))
            return
        if not entries:
            self.stdout.write("No history yet.")
        for entry in entries:
            duration = "" if entry.duration_ms is None else f" {entry.duration_ms} ms"
            line = (
                f"{format_time(entry.started_at)} {entry.tier:6} {entry.location}:"
                f"{entry.version} {entry.direction:4} {entry.outcome}{duration}"
                f"  ({entry.os_user}@{entry.host})"
            )
            self.stdout.write(line)
            if entry.error:
                self.stdout.write(f"    error: {entry.error.splitlines()[0]}")
            if entry.note:
                self.stdout.write(f"    note: {entry.note}")


def _as_dict(entry: HistoryEntry) -> dict[str, Any]:
    return {
        **status_module.entry_as_dict(entry),
        "database_user": entry.db_user,
        "os_user": entry.os_user,
        "host": entry.host,
        "note": entry.note,
    }
