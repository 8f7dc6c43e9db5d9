"""What the cases share: the initial migration, and the check constraint."""

from __future__ import annotations

import django
from django.db import migrations, models
from django.utils import timezone


class InitialMigration(migrations.Migration):
    """``orders`` as ``bench/stall.py`` creates it; faked on the template database."""

    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("customer_id", models.BigIntegerField()),
                ("amount", models.IntegerField()),
                ("status", models.TextField(default="new")),
                ("created_at", models.DateTimeField(default=timezone.now)),
            ],
            options={"db_table": "orders"},
        ),
    ]


def amount_positive() -> models.CheckConstraint:
    """``CHECK (amount > 0)`` (``condition=`` from Django 5.1, ``check=`` before)."""
    condition = models.Q(amount__gt=0)
    if django.VERSION >= (5, 1):
        return models.CheckConstraint(condition=condition, name="orders_amount_positive")
    return models.CheckConstraint(check=condition, name="orders_amount_positive")  # type: ignore[call-arg]
