import django
from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0003_safe")]

    operations = [
        AddConstraintNotValid(
            model_name="book",
            constraint=models.CheckConstraint(
                **{
                    "condition" if django.VERSION >= (5, 1) else "check": models.Q(
                        notes__isnull=False
                    )
                },
                name="book_notes_not_null",
            ),
        ),
    ]
