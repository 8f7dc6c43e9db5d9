from django.db import migrations


class Migration(migrations.Migration):
    """The first step of staged drops: the models forget, the database keeps."""

    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="account", name="legacy_code"),
                migrations.RemoveField(model_name="account", name="nickname"),
                migrations.RemoveField(model_name="account", name="tags"),
                migrations.DeleteModel(name="Invoice"),
                migrations.DeleteModel(name="Ledger"),
            ],
        ),
        # Both steps in one migration: the code still running reads the column.
        migrations.RunSQL("ALTER TABLE lintapp_account DROP COLUMN nickname"),
        migrations.RunSQL("DROP TABLE lintapp_ledger"),
    ]
