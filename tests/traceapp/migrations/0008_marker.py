from django.db import connections, migrations


def mark(apps, schema_editor):
    # Names the database alias itself, as create_permissions(using="default") does.
    with connections["runner"].cursor() as cursor:
        cursor.execute("CREATE TABLE traceapp_marker (id int)")


class Migration(migrations.Migration):
    dependencies = [("traceapp", "0007_book_pages_check")]
    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
