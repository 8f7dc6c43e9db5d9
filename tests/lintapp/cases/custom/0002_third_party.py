from django.db import migrations

from tests.lintapp.operations import AddSearchIndex, IntrospectingOperation


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop),
        AddSearchIndex("article", "body"),
        IntrospectingOperation(),
    ]
