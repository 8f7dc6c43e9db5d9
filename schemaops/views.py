"""The health endpoint: ``path("schemaops/", include("schemaops.urls"))`` serves
``health/``."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from schemaops import health


@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok" | "pending" | "migrating" | "dirty", "pending": N, "dirty": N}``:
    HTTP 200 when ok, 503 otherwise (a readiness probe then holds traffic back).
    Staff also get the names. No login needed for the counts.

    A database that does not answer is 503 ``{"status": "unavailable"}``.
    """
    try:
        found = health.check(DEFAULT_DB_ALIAS)
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "pending": None, "dirty": None}, status=503)
    user = getattr(request, "user", None)
    names = bool(user is not None and user.is_active and user.is_staff)
    return JsonResponse(
        found.as_dict(names=names), status=200 if found.status == health.OK else 503
    )
