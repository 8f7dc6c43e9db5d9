"""The registry: an append-only history of schema changes in both tiers."""

from __future__ import annotations

import pgtrigger
from django.db import models


class Tier(models.TextChoices):
    SQL = "sql", "SQL script"
    DJANGO = "django", "Django migration"
    BACKUP = "backup", "backup"


class Direction(models.TextChoices):
    UP = "up", "up"
    DOWN = "down", "down"


class Outcome(models.TextChoices):
    STARTED = "started", "started"
    APPLIED = "applied", "applied"
    FAILED = "failed", "failed"
    INTERRUPTED = "interrupted", "interrupted"
    REVERTED = "reverted", "reverted"
    REPAIRED = "repaired", "repaired"
    BASELINED = "baselined", "baselined"
    FAKED = "faked", "faked"
    BACKED_UP = "backed-up", "backed up"


def _append_only() -> list[pgtrigger.Trigger]:
    """The triggers that keep a registry table append-only: UPDATE and DELETE are
    refused, and TRUNCATE too except in a test database (schemaops.allow_truncate,
    set when Django's test runner creates one, so that TransactionTestCase's
    flush keeps working)."""
    return [
        pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        pgtrigger.Trigger(
            name="no_truncate",
            operation=pgtrigger.Truncate,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            condition=pgtrigger.Condition(
                "current_setting('schemaops.allow_truncate', true) IS DISTINCT FROM 'on'"
            ),
            func=(
                "RAISE EXCEPTION 'schemaops: % is append-only: TRUNCATE would erase the "
                "history of every schema change', TG_TABLE_NAME USING HINT = 'Rows are only "
                "ever added (docs/registry.md). A test database allows it: "
                "schemaops.allow_truncate = on.'; RETURN NULL;"
            ),
        ),
    ]


class HistoryEntryQuerySet(models.QuerySet["HistoryEntry"]):
    def latest_per_change(self) -> HistoryEntryQuerySet:
        """Return the newest row of each (tier, location, version): its current state.

        One ``DISTINCT ON`` query served by the ``schemaops_history_latest`` index.
        """
        return self.order_by("tier", "location", "version", "-id").distinct(
            "tier", "location", "version"
        )


class HistoryEntry(models.Model):
    """One event in the life of a schema change: a Django migration or an SQL script.

    Rows are only ever inserted. Database triggers reject ``UPDATE`` and
    ``DELETE`` from the ORM and from raw SQL alike, so a correction (repair,
    baseline, fake) is a new row, and the current state of a change is its
    newest row.
    """

    tier = models.CharField(max_length=8, choices=Tier.choices)
    location = models.CharField(
        max_length=255,
        help_text="App label or script location (a named script folder); for a backup, "
        "the PostgreSQL database dumped.",
    )
    version = models.CharField(
        max_length=255,
        help_text="Script version, or the Django migration's name; for a backup, when it "
        "was taken (UTC, YYYYmmdd-HHMMSS).",
    )
    name = models.CharField(
        max_length=255,
        blank=True,
        help_text="Script slug or migration name; for a backup, the file's name.",
    )
    checksum = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the script (normalised line endings), or of the backup file.",
    )
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.UP)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    database = models.CharField(max_length=100, help_text="Django database alias.")
    db_user = models.CharField(max_length=150, blank=True)
    os_user = models.CharField(max_length=150, blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    backend_pid = models.IntegerField(
        null=True,
        blank=True,
        help_text="The PostgreSQL backend that wrote the row: a started row whose backend "
        "still runs is a live run, not an interrupted one.",
    )
    attempts = models.IntegerField(
        null=True, blank=True, help_text="How many attempts it took (1 = no retry)."
    )
    waited_ms = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Time spent waiting for locks: backing off after lock_timeout and waiting "
        "for long transactions to end.",
    )
    schemaops_version = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    failed_statement = models.TextField(blank=True)
    failed_line = models.IntegerField(null=True, blank=True)
    sql = models.TextField(blank=True, help_text="The SQL that ran (scripts only).")
    note = models.TextField(
        blank=True,
        help_text="Reason given for a repair, baseline or fake; for a backup, its file, size "
        "and contents.",
    )

    objects = HistoryEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "history entry"
        verbose_name_plural = "history"
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["tier", "location", "version", "-id"], name="schemaops_history_latest"
            ),
            models.Index(fields=["-started_at"], name="schemaops_history_started"),
        ]
        triggers = _append_only()

    def __str__(self) -> str:
        return f"{self.location}:{self.version} {self.direction} {self.outcome}"


class FinishedStatement(models.Model):
    """A statement of a non-atomic run that finished (committed), written right
    after it, so that an interrupted run says how far it got.

    It belongs to the run's ``started`` row. Like the history, rows are only
    ever inserted.
    """

    entry = models.ForeignKey(
        HistoryEntry,
        # Rows of both tables are never deleted: their triggers refuse it.
        on_delete=models.DO_NOTHING,
        related_name="finished_statements",
        help_text="The started row of the run.",
    )
    number = models.PositiveIntegerField(help_text="The statement's place in its section, from 1.")
    line = models.PositiveIntegerField(help_text="The line of the file the statement starts on.")
    finished_at = models.DateTimeField()
    duration_ms = models.BigIntegerField()

    class Meta:
        verbose_name = "finished statement"
        ordering = ["entry", "number"]
        triggers = _append_only()

    def __str__(self) -> str:
        return f"{self.entry_id} statement {self.number} (line {self.line})"
