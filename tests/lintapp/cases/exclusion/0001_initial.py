from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Booking",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("room", models.IntegerField()),
                ("starts", models.DateTimeField()),
                ("ends", models.DateTimeField()),
            ],
        ),
        # On the table this migration creates: empty, so nothing to lock.
        migrations.AddConstraint(
            model_name="booking",
            constraint=ExclusionConstraint(
                name="booking_room_not_twice",
                expressions=[("room", RangeOperators.EQUAL)],
            ),
        ),
    ]
