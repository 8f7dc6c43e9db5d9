from django.db import migrations, models


def number_items(apps, schema_editor):
    apps.get_model("lintapp", "Item").objects.update(n=1)


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        # Its default is quoted through the server connection.
        migrations.AddField("item", "note", models.TextField(default="it's new")),
        # The index it drops is named by the database.
        migrations.AlterField("item", "code", models.CharField(max_length=20)),
        migrations.RunPython(number_items, migrations.RunPython.noop),
        migrations.AddIndex("item", models.Index(fields=["n"], name="item_n_idx")),
    ]
