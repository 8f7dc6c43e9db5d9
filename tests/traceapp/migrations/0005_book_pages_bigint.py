from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0004_book_pages_not_null")]
    operations = [
        migrations.AlterField("book", "pages", models.BigIntegerField(default=0)),
    ]
