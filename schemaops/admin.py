"""The registry in Django admin: read-only for everyone, superusers included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from schemaops.models import HistoryEntry

if TYPE_CHECKING:
    _HistoryEntryAdminBase = admin.ModelAdmin[HistoryEntry]
else:
    _HistoryEntryAdminBase = admin.ModelAdmin


@admin.register(HistoryEntry)
class HistoryEntryAdmin(_HistoryEntryAdminBase):
    list_display = [
        "started_at",
        "tier",
        "location",
        "version",
        "direction",
        "outcome",
        "duration_ms",
        "os_user",
    ]
    list_filter = ["tier", "outcome", "location"]
    search_fields = ["location", "version", "name", "error"]
    date_hierarchy = "started_at"
    list_per_page = 100
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
