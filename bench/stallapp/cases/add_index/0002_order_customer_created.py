"""A plain ``CREATE INDEX``: blocks writes while it builds."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        migrations.AddIndex(
            "order",
            models.Index(fields=["customer_id", "created_at"], name="orders_customer_created"),
        ),
    ]
