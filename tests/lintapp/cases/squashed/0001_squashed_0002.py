from django.db import migrations, models


class Migration(migrations.Migration):
    replaces = [("lintapp", "0001_initial"), ("lintapp", "0002_label_index")]
    initial = True

    operations = [
        migrations.CreateModel(
            name="Shelf",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("label", models.CharField(max_length=20)),
            ],
            options={
                "indexes": [models.Index(fields=["label"], name="shelf_label_idx")],
            },
        ),
    ]
