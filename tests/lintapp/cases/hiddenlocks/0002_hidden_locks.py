from django.db import migrations, models


class Migration(migrations.Migration):
    """Operations whose SQL locks more than their name says (and two that do not)."""

    dependencies = [("lintapp", "0001_initial")]

    operations = [
        # author_id bigint becomes author varchar(20): RENAME, TYPE ... USING, DROP INDEX.
        migrations.AlterField("book", "author", models.CharField(max_length=20)),
        # DROP CONSTRAINT, then CREATE INDEX.
        migrations.AlterField("book", "code", models.CharField(max_length=20, db_index=True)),
        # DROP INDEX of the index and of its _like index.
        migrations.AlterField("book", "slug", models.CharField(max_length=20)),
        # DROP CONSTRAINT, then DROP INDEX of the _like index.
        migrations.AlterField("book", "sku", models.CharField(max_length=20)),
        # DROP CONSTRAINT only: an integer column has no _like index.
        migrations.AlterField("book", "rank", models.IntegerField()),
        # DROP INDEX: these two constraints are unique indexes.
        migrations.RemoveConstraint("book", "book_slug_in_stock"),
        migrations.RemoveConstraint("book", "book_code_lower"),
        # ALTER TABLE ... DROP CONSTRAINT: brief.
        migrations.RemoveConstraint("book", "book_sku_rank"),
        # CREATE UNIQUE INDEX ... WHERE: a SHARE lock, an index build.
        migrations.AddConstraint(
            "book",
            models.UniqueConstraint(
                fields=["sku"], condition=models.Q(stock__gt=0), name="book_sku_in_stock"
            ),
        ),
        # ALTER TABLE ... ADD CONSTRAINT ... UNIQUE: ACCESS EXCLUSIVE while it builds.
        migrations.AddConstraint(
            "book", models.UniqueConstraint(fields=["code", "sku"], name="book_code_sku")
        ),
        # RENAME COLUMN stock TO in_stock.
        migrations.AlterField(
            "book", "stock", models.IntegerField(db_index=True, db_column="in_stock")
        ),
    ]
