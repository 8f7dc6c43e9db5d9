from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("lintapp", "0001_initial")]

    operations = [
        migrations.AddConstraint(
            model_name="booking",
            constraint=ExclusionConstraint(
                name="booking_no_overlap",
                expressions=[("room", RangeOperators.EQUAL), ("starts", RangeOperators.EQUAL)],
            ),
        ),
    ]
