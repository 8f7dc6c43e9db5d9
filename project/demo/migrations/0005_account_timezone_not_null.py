from django.db import migrations, models


class Migration(migrations.Migration):
    """The model catches up with sqlmigrations/0003_accounts_timezone_not_null.sql,
    which makes accounts.timezone NOT NULL the safe way: only Django's state
    changes here, the script changes the database (schemaops validate reports
    the column as drift until both agree)."""

    dependencies = [
        ("demo", "0004_account_timezone"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="account",
                    name="timezone",
                    field=models.CharField(blank=True, default="UTC", max_length=64),
                ),
            ],
        ),
    ]
