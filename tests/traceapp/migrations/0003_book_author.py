from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0002_book_title_index")]
    operations = [
        migrations.AddField(
            "book",
            "author",
            models.ForeignKey("traceapp.author", models.CASCADE, null=True),
        ),
    ]
