"""``manage.py demo_story``: give the demo a history with every state in it.

Applies both tiers up to ``demo:0003``, adds accounts (two of them differ only
in their email's case), runs ``schemaops migrate`` so that ``demo:0004``'s
unique index fails on them, merges the two accounts, repairs the script as
pending with the reason, and migrates again. Runs once: with ``demo:0004`` in
the registry it does nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from project.demo.models import Account, ActivityLog
from schemaops.models import HistoryEntry


class Command(BaseCommand):
    help = "Walk the demo through a failed script and its repair (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", "schemaops", verbosity=0)  # the registry first
        if HistoryEntry.objects.filter(location="demo", version="0004").exists():
            self.stdout.write("demo_story: already told (demo:0004 is in the history).")
            return
        call_command("schemaops", "migrate", "--target", "demo:0003", verbosity=0)
        self.seed()
        self.stdout.write("demo_story: migrate, with two accounts that differ only in case:")
        try:
            call_command("schemaops", "migrate", stdout=self.stdout, stderr=self.stderr)
        except CommandError as exc:
            self.stdout.write(f"  ... failed as expected:\n{exc}")
        else:
            raise CommandError("demo_story: demo:0004 was expected to fail and did not.")
        self.merge_duplicates()
        call_command(
            "schemaops",
            "repair",
            "demo:0004",
            "--as",
            "pending",
            "--reason",
            "merged the accounts whose emails differed only in case",
            stdout=self.stdout,
        )
        call_command("schemaops", "migrate", stdout=self.stdout)

    def seed(self) -> None:
        with transaction.atomic():
            for email, name in [
                ("ada@example.com", "Ada Lovelace"),
                ("Ada@Example.com", "Ada L."),
                ("grace@example.com", "Grace Hopper"),
                ("edsger@example.com", "Edsger Dijkstra"),
            ]:
                account, _ = Account.objects.get_or_create(
                    email=email, defaults={"display_name": name}
                )
                ActivityLog.objects.create(
                    account=account, action="login", details={"ip": "192.0.2.7"}
                )

    def merge_duplicates(self) -> None:
        with transaction.atomic():
            keep = Account.objects.get(email="ada@example.com")
            for duplicate in Account.objects.filter(email__iexact=keep.email).exclude(pk=keep.pk):
                ActivityLog.objects.filter(account=duplicate).update(account=keep)
                duplicate.delete()
