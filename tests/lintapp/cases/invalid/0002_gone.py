from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    # The field was never in the models' state: Django's migrate fails on this too.
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RemoveField(model_name="note", name="body")],
        ),
    ]
