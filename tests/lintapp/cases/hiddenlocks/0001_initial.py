from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("author", models.ForeignKey(on_delete=models.CASCADE, to="lintapp.author")),
                ("code", models.CharField(max_length=20, unique=True)),
                ("slug", models.CharField(max_length=20, db_index=True)),
                ("sku", models.CharField(max_length=20, unique=True)),
                ("rank", models.IntegerField(unique=True)),
                ("stock", models.IntegerField(db_index=True)),
                ("shelf", models.CharField(max_length=20, db_index=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=["slug"], condition=models.Q(stock__gt=0), name="book_slug_in_stock"
                    ),
                    models.UniqueConstraint(Lower("code"), name="book_code_lower"),
                    models.UniqueConstraint(fields=["sku", "rank"], name="book_sku_rank"),
                ],
            },
        ),
    ]
