from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0006_book_pages_index")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE traceapp_book ADD CONSTRAINT pages_positive CHECK (pages >= 0) NOT VALID",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            "ALTER TABLE traceapp_book VALIDATE CONSTRAINT pages_positive",
            migrations.RunSQL.noop,
        ),
    ]
