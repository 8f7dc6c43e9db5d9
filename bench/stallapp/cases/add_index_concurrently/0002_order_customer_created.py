"""``CREATE INDEX CONCURRENTLY``: outside a transaction, writes go on."""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        AddIndexConcurrently(
            "order",
            models.Index(fields=["customer_id", "created_at"], name="orders_customer_created"),
        ),
    ]
