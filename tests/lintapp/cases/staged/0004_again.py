from django.db import migrations, models


class Migration(migrations.Migration):
    """legacy_code comes back, a new column; 0003's staged drop is over."""

    dependencies = [("lintapp", "0003_drop")]

    operations = [
        migrations.AddField("account", "legacy_code", models.TextField(null=True)),
        migrations.RunSQL("ALTER TABLE lintapp_account DROP COLUMN legacy_code"),
    ]
