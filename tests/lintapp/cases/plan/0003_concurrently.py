from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    schemaops = {"lock_timeout": "3s"}

    dependencies = [("lintapp", "0002_changes")]

    operations = [
        AddIndexConcurrently("item", models.Index(fields=["note"], name="item_note_idx")),
    ]
