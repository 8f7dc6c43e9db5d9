from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            "Author",
            [("id", models.BigAutoField(primary_key=True)), ("name", models.TextField())],
        ),
        migrations.CreateModel(
            "Book",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("title", models.TextField()),
                ("pages", models.IntegerField(null=True)),
            ],
        ),
    ]
