from django.db import migrations, models


class Migration(migrations.Migration):
    """Applied before the plan (tests/test_plan_sql.py): an index only the database
    knows the name of, and a unique_together only the models have."""

    initial = True

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=20)),
                ("n", models.IntegerField(null=True)),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    "item", "code", models.CharField(max_length=20, db_index=True)
                ),
                migrations.AlterUniqueTogether("item", {("code", "n")}),
            ],
            database_operations=[
                migrations.RunSQL(
                    "CREATE INDEX item_code_by_hand ON lintapp_item (code)", migrations.RunSQL.noop
                ),
            ],
        ),
    ]
