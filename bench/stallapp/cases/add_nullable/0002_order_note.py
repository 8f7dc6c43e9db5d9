from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stallapp", "0001_initial")]

    operations = [
        migrations.AddField("order", "note", models.TextField(null=True)),
    ]
