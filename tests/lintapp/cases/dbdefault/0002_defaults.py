# Django 5.0+: db_default.
from django.contrib.postgres.functions import RandomUUID
from django.db import migrations, models
from django.db.models.functions import Now


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        # A constant or stable default: instant on PostgreSQL 11+, and inserts by
        # code still running get it too.
        migrations.AddField(
            model_name="event",
            name="priority",
            field=models.IntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="event",
            name="created",
            field=models.DateTimeField(db_default=Now()),
        ),
        # Volatile: every row gets its own value, so the table is rewritten.
        migrations.AddField(
            model_name="event",
            name="token",
            field=models.UUIDField(db_default=RandomUUID()),
        ),
    ]
