from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0005_validate")]

    schemaops_lint_ignore = {
        "ban-drop-table": "authors were never used in production",
        "renaming-table": "",
        "prefer-text-field": "nothing here adds a varchar",
    }

    operations = [
        migrations.RemoveField(model_name="book", name="author"),
        migrations.DeleteModel(name="Author"),
        AddIndexConcurrently(
            model_name="book",
            index=models.Index(fields=["notes"], name="book_notes_idx"),
        ),
    ]
