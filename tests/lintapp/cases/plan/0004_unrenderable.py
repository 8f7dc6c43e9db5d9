from django.db import migrations, models


class Migration(migrations.Migration):
    """Its first operation drops a constraint the database lacks: Django cannot render
    it there (sqlmigrate fails); the one after it renders all the same."""

    dependencies = [("lintapp", "0003_concurrently")]

    operations = [
        migrations.AlterUniqueTogether("item", set()),
        migrations.AddField("item", "flag", models.BooleanField(null=True)),
    ]
