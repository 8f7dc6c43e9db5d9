from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["isbn"], name="book_isbn2_idx"),
        ),
        migrations.AddField(
            model_name="book",
            name="edition",
            field=models.IntegerField(default=1),
        ),
        migrations.AddField(
            model_name="book",
            name="subtitle",
            field=models.CharField(max_length=100, null=True),
        ),
        migrations.AlterField(
            model_name="book",
            name="title",
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name="book",
            name="pages",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RemoveField(model_name="author", name="name"),
        migrations.RenameField(model_name="book", old_name="isbn", new_name="code"),
        migrations.RunSQL(
            sql="""
                UPDATE lintapp_book SET edition = 2;
                CREATE INDEX CONCURRENTLY book_edition_idx ON lintapp_book (edition);
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
