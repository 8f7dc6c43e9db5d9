from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=100)),
                ("isbn", models.CharField(max_length=20, null=True)),
                ("pages", models.IntegerField(null=True)),
            ],
        ),
        # New in this migration: an empty table, nothing to lock.
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
        migrations.AddField(
            model_name="book",
            name="author",
            field=models.ForeignKey(on_delete=models.CASCADE, to="lintapp.author"),
        ),
        migrations.RunSQL("CREATE INDEX book_isbn_idx ON lintapp_book (isbn)"),
    ]
