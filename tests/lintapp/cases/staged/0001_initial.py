from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Account",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.TextField()),
                ("legacy_code", models.TextField(null=True)),
                ("nickname", models.TextField(null=True)),
                ("tags", models.ManyToManyField(to="lintapp.tag")),
            ],
        ),
        migrations.CreateModel(
            name="Invoice",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Ledger",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
    ]
