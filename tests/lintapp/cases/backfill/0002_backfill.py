from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="kind",
            field=models.TextField(null=True),
        ),
        # Same transaction as the ADD COLUMN: every updated row stays locked, and
        # so does the table, until the migration commits.
        migrations.RunSQL("UPDATE lintapp_event SET kind = 'x' WHERE kind IS NULL"),
    ]
