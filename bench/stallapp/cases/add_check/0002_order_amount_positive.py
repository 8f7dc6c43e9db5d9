"""``ADD CONSTRAINT ... CHECK``: scans the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from django.db import migrations

from bench.stallapp.common import amount_positive


class Migration(migrations.Migration):
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        migrations.AddConstraint("order", amount_positive()),
    ]
