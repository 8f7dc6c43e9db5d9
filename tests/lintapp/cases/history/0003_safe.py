from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("lintapp", "0002_unsafe")]

    operations = [
        AddIndexConcurrently(
            model_name="book",
            index=models.Index(fields=["subtitle"], name="book_subtitle_idx"),
        ),
        # Removed from the model only; the column is dropped in a later release.
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="book", name="subtitle")],
        ),
        migrations.AddField(
            model_name="book",
            name="notes",
            field=models.TextField(null=True),
        ),
    ]
