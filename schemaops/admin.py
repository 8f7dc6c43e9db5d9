"""The registry in Django admin: read-only for everyone, superusers included, and a
status page with what the next ``migrate`` would do and what is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join

from schemaops.models import HistoryEntry, Outcome

if TYPE_CHECKING:
    from schemaops.admin_status import StatusPage

    _HistoryEntryAdminBase = admin.ModelAdmin[HistoryEntry]
else:
    _HistoryEntryAdminBase = admin.ModelAdmin

# Outcome -> badge style (colours come from the admin's own CSS variables, so
# they follow its light and dark themes).
BADGES = {
    Outcome.APPLIED: "ok",
    Outcome.FAKED: "info",
    Outcome.BASELINED: "info",
    Outcome.INTERRUPTED: "error",
    Outcome.REPAIRED: "info",
    Outcome.REVERTED: "muted",
    Outcome.STARTED: "warn",
    Outcome.FAILED: "error",
    Outcome.BACKED_UP: "ok",
}


@admin.register(HistoryEntry)
class HistoryEntryAdmin(_HistoryEntryAdminBase):
    list_display = [
        "started_at",
        "tier",
        "location",
        "change",
        "direction",
        "outcome_badge",
        "duration",
        "os_user",
    ]
    list_display_links = ["started_at", "change"]
    list_filter = ["tier", "outcome", "location", "direction"]
    search_fields = ["name", "version", "location", "error"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    list_per_page = 100
    show_full_result_count = False  # no COUNT(*) over the whole history per page
    actions = None
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "tier",
                    "location",
                    "version",
                    "name",
                    "direction",
                    "outcome_badge",
                    "started_at",
                    "finished_at",
                    "duration",
                ]
            },
        ),
        ("Failure", {"fields": ["error", "failed_line", "failed_statement"]}),
        ("SQL that ran", {"fields": ["sql_listing"]}),
        (
            "Where and who",
            {
                "fields": [
                    "checksum",
                    "database",
                    "db_user",
                    "os_user",
                    "host",
                    "pid",
                    "schemaops_version",
                    "note",
                ]
            },
        ),
    ]
    readonly_fields = ["outcome_badge", "duration", "sql_listing", "finished_listing"]

    class Media:
        css = {"all": ["schemaops/admin.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """A run's start also lists the statements that finished (non-atomic
        scripts record each one): how far an interrupted run got."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.outcome != Outcome.STARTED:
            return fieldsets
        return [
            (title, {"fields": [*options["fields"], "finished_listing"]})
            if title == "SQL that ran"
            else (title, options)
            for title, options in fieldsets
        ]

    # Read-only, for everyone --------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # Columns ------------------------------------------------------------------

    @admin.display(description="version / name", ordering="version")
    def change(self, entry: HistoryEntry) -> str:
        return f"{entry.version} {entry.name}".strip()

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, entry: HistoryEntry) -> str:
        style = BADGES.get(Outcome(entry.outcome), "muted")
        return format_html(
            '<span class="schemaops-badge schemaops-{}">{}</span>',
            style,
            entry.get_outcome_display(),
        )

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, entry: HistoryEntry) -> str:
        if entry.duration_ms is None:
            return "—"
        if entry.duration_ms < 1000:
            return f"{entry.duration_ms} ms"
        return f"{entry.duration_ms / 1000:.1f} s"

    @admin.display(description="SQL")
    def sql_listing(self, entry: HistoryEntry) -> str:
        """The SQL with line numbers; the failing statement's lines highlighted."""
        if not entry.sql:
            return "—"
        lines = entry.sql.split("\n")
        failing: set[int] = set()
        if entry.outcome == Outcome.FAILED and entry.failed_line:
            span = entry.failed_statement.count("\n") + 1 if entry.failed_statement else 1
            failing = set(range(entry.failed_line, entry.failed_line + span))
        rows = format_html_join(
            "",
            '<tr class="{}"><td class="schemaops-lineno">{}</td><td><code>{}</code></td></tr>',
            (
                ("schemaops-failing" if number in failing else "", number, text or "\u00a0")
                for number, text in enumerate(lines, start=1)
            ),
        )
        return format_html('<table class="schemaops-sql">{}</table>', rows)

    @admin.display(description="statements finished")
    def finished_listing(self, entry: HistoryEntry) -> str:
        """Each statement of the run that finished: its number, line and duration."""
        from schemaops import statements  # not on every command's start-up

        done = list(entry.finished_statements.all())
        total = len(statements.split(entry.sql))
        if len(done) >= total:
            after = f"All {total} finished; the run stopped before it was recorded as done."
        else:
            after = f"Statement {len(done) + 1} of {total} had started and may have run."
        items = format_html_join(
            "",
            "<li>statement {} (line {}), {} ms</li>",
            ((s.number, s.line, s.duration_ms) for s in done),
        )
        return format_html('<ul class="schemaops-finished">{}</ul><p>{}</p>', items, after)

    # The status page ------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        status = path(
            "status/",
            self.admin_site.admin_view(self.status_view),
            name="schemaops_historyentry_status",
        )
        return [status, *super().get_urls()]

    def status_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        # Imported here: the status page reads the linter, which every manage.py
        # command would otherwise import with the admin at start-up.
        from schemaops import admin_status

        page = admin_status.collect(DEFAULT_DB_ALIAS)
        context = {
            **self.admin_site.each_context(request),
            "title": "Schema status",
            "opts": self.model._meta,
            "page": page,
            "steps": _steps_with_findings(page),
        }
        return TemplateResponse(request, "admin/schemaops/status.html", context)


def _steps_with_findings(page: StatusPage) -> list[tuple[Any, list[Any]]]:
    """Each step with the lint findings of its script (findings name the file)."""
    from schemaops.display import display  # not on every command's start-up

    by_path: dict[str, list[Any]] = {}
    for finding in page.findings:
        by_path.setdefault(finding.path, []).append(finding)
    return [
        (step, by_path.get(display(step.script.path), []) if step.script else [])
        for step in page.steps
    ]
