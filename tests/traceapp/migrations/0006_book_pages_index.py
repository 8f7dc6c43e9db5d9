from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("traceapp", "0005_book_pages_bigint")]
    operations = [
        AddIndexConcurrently("book", models.Index(fields=["pages"], name="book_pages_idx")),
    ]
