"""A two-tier application in miniature: accounts and their activity logs.

The ORM owns these tables; the hand-written SQL scripts in ``sqlmigrations/``
add what the ORM should not do under a lock (concurrent GIN indexes,
backfills, NOT NULL through a validated check).
"""

from __future__ import annotations

from django.db import models


class Account(models.Model):
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=150)
    preferences = models.JSONField(default=dict, blank=True)
    # Added nullable (migration 0004); sqlmigrations/0003 makes it NOT NULL the
    # safe way (a validated CHECK first), as a two-tier project would, and
    # migration 0005 tells Django's state so (state only).
    timezone = models.CharField(max_length=64, default="UTC", blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts"
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class ActivityLog(models.Model):
    class Severity(models.TextChoices):
        DEBUG = "debug"
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"
        CRITICAL = "critical"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="activity")
    action = models.CharField(max_length=100)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The "smart fields", added in a later migration as real projects do.
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    expires_at = models.DateTimeField(null=True, blank=True)
    is_anomaly = models.BooleanField(default=False)

    class Meta:
        db_table = "activity_logs"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.action}"
