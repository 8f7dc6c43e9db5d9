from django.db import migrations, models


class Migration(migrations.Migration):
    """The safe rewrites: the models change, the indexes are built and dropped
    concurrently by RunSQL."""

    atomic = False

    dependencies = [("lintapp", "0002_hidden_locks")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    "book",
                    models.UniqueConstraint(
                        fields=["code"], condition=models.Q(rank__gt=0), name="book_code_ranked"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'CREATE UNIQUE INDEX CONCURRENTLY "book_code_ranked" ON "lintapp_book" '
                    '("code") WHERE "rank" > 0',
                    'DROP INDEX CONCURRENTLY IF EXISTS "book_code_ranked"',
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveConstraint("book", "book_sku_in_stock")],
            database_operations=[
                migrations.RunSQL('DROP INDEX CONCURRENTLY IF EXISTS "book_sku_in_stock"'),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("book", "shelf", models.CharField(max_length=20)),
            ],
            database_operations=[
                migrations.RunSQL(
                    [
                        'DROP INDEX CONCURRENTLY IF EXISTS "lintapp_book_shelf_3e1e0f5d"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "lintapp_book_shelf_3e1e0f5d_like"',
                    ]
                ),
            ],
        ),
    ]
