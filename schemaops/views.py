"""The health endpoint: ``path("schemaops/", include("schemaops.urls"))`` serves
``health/``."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from schemaops import health


@csrf_exempt  # a probe posts no token: any method but GET or HEAD is a 405, never a 403
@never_cache
@require_safe
def health_view(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok" | "pending" | "migrating" | "dirty", "pending": N, "dirty": N}``:
    HTTP 200 when ok, 503 otherwise (a readiness probe then holds traffic back).
    ``HEAD`` answers as ``GET`` does, without the body (uptime monitors send it).
    Staff who may view the registry (as in the admin) also get the names. No login
    needed for the counts.

    A database that does not answer is 503 ``{"status": "unavailable"}``.
    """
    try:
        found = health.check(DEFAULT_DB_ALIAS)
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "pending": None, "dirty": None}, status=503)
    user = getattr(request, "user", None)
    names = bool(
        user is not None
        and user.is_active
        and user.is_staff
        and user.has_perm("schemaops.view_historyentry")
    )
    return JsonResponse(
        found.as_dict(names=names), status=200 if found.status == health.OK else 503
    )
