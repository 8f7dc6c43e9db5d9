"""NOT NULL with a database default (Django 5.0+): ``ADD COLUMN ... DEFAULT 'unknown'
NOT NULL``, no table rewrite on PostgreSQL 11+, but an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        migrations.AddField("order", "region", models.TextField(db_default="unknown")),
    ]
