from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0001_initial")]
    operations = [
        migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx")),
    ]
