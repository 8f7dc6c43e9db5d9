from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="shelf",
            index=models.Index(fields=["label"], name="shelf_label_idx"),
        ),
    ]
