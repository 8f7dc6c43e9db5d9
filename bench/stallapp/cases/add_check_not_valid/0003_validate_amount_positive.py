"""``VALIDATE CONSTRAINT``: scans under SHARE UPDATE EXCLUSIVE (writes go on), in a
migration of its own, outside a transaction."""

from __future__ import annotations

from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("stallapp", "0002_order_amount_positive")]

    operations = [
        ValidateConstraint("order", "orders_amount_positive"),
    ]
