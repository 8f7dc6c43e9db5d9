"""``ADD CONSTRAINT ... CHECK ... NOT VALID``: a brief ACCESS EXCLUSIVE lock, no scan."""

from __future__ import annotations

from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations

from bench.stallapp.common import amount_positive


class Migration(migrations.Migration):
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        AddConstraintNotValid("order", amount_positive()),
    ]
