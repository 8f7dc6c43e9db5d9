from __future__ import annotations

from django.contrib import admin

from project.demo.models import Account, ActivityLog


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["email", "display_name", "is_active", "created_at"]
    search_fields = ["email", "display_name"]


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "action", "severity", "is_anomaly", "expires_at"]
    list_filter = ["severity", "is_anomaly"]
