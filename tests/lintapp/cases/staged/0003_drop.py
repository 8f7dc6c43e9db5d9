from django.db import migrations


class Migration(migrations.Migration):
    """The second step, a release later: no deployed code reads these any more."""

    dependencies = [("lintapp", "0002_remove_from_state")]

    operations = [
        migrations.RunSQL("ALTER TABLE lintapp_account DROP COLUMN legacy_code"),
        migrations.RunSQL("DROP TABLE lintapp_invoice"),
        migrations.RunSQL("DROP TABLE lintapp_account_tags"),
        # Still in the model: the code reads it.
        migrations.RemoveField(model_name="account", name="name"),
    ]
