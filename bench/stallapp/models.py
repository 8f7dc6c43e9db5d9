"""The ``orders`` table as ``0001_initial`` describes it (before any case's change)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Order(models.Model):
    id = models.BigAutoField(primary_key=True)
    customer_id = models.BigIntegerField()
    amount = models.IntegerField()
    status = models.TextField(default="new")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "orders"

    def __str__(self) -> str:
        return f"order {self.pk}"
