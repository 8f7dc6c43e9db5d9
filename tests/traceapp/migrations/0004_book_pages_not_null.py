from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0003_book_author")]
    operations = [
        migrations.AlterField("book", "pages", models.IntegerField(default=0)),
    ]
