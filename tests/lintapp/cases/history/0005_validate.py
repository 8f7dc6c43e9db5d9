from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0004_not_null")]

    operations = [
        ValidateConstraint(model_name="book", name="book_notes_not_null"),
        # Safe after the validated CHECK: PostgreSQL 12+ skips the scan.
        migrations.AlterField(
            model_name="book",
            name="notes",
            field=models.TextField(),
        ),
        # Not covered by any constraint: a full scan under ACCESS EXCLUSIVE.
        migrations.AlterField(
            model_name="book",
            name="code",
            field=models.CharField(max_length=20),
        ),
    ]
