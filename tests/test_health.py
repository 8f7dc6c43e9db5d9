"""The health endpoint: counts for anyone, names for staff, 200 only when clean."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schemaops.models import HistoryEntry, Outcome, Tier

pytestmark = pytest.mark.django_db

URL = "/schemaops/health/"


def record(version: str, outcome: str, checksum: str = "x") -> None:
    now = timezone.now()
    HistoryEntry.objects.create(
        tier=Tier.SQL,
        location="demo",
        version=version,
        name="n",
        checksum=checksum,
        outcome=outcome,
        started_at=now,
        finished_at=now,
        database="default",
    )


def test_pending_scripts_make_it_503_with_counts_only(client: Client) -> None:
    # The test database has everything applied; mark one script pending again.
    call_command(
        "schemaops", "repair", "demo:0004", "--as", "pending", "--reason", "t", stdout=StringIO()
    )
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"status": "pending", "pending": 1, "dirty": 0}
    assert response["Cache-Control"].startswith("max-age=0")


def test_ok_when_every_script_is_applied(client: Client) -> None:
    from schemaops.scripts import loader

    for script in loader.load_scripts("default"):
        record(script.version, Outcome.APPLIED, script.checksum)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pending": 0, "dirty": 0}


def test_dirty_names_only_for_staff(client: Client) -> None:
    from schemaops.scripts import loader

    scripts = loader.load_scripts("default")
    for script in scripts:
        record(script.version, Outcome.APPLIED, script.checksum)
    record(scripts[0].version, Outcome.APPLIED, "not-the-file")  # changed since
    anonymous = client.get(URL)
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "dirty", "pending": 0, "dirty": 1}
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_historyentry"))
    client.force_login(staff)
    named = client.get(URL).json()
    assert named["dirty_names"] == [f"demo:{scripts[0].version}: changed"]
    assert named["pending_names"] == []


def test_a_few_queries_whatever_the_history(client: Client) -> None:
    from schemaops.scripts import loader

    for script in loader.load_scripts("default"):
        for _ in range(50):
            record(script.version, Outcome.APPLIED, script.checksum)
    client.get(URL)  # warm
    with CaptureQueriesContext(connection) as queries:
        client.get(URL)
    # The registry's table, its newest rows, the runner lock's holder (a run in
    # progress, Django migrations included, is "migrating"), and Django's
    # recorder: its table, then its rows.
    assert len(queries) <= 5, [q["sql"] for q in queries]


def test_only_get(client: Client) -> None:
    assert client.post(URL).status_code == 405


def test_a_post_without_a_csrf_token_is_405_not_403() -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(URL).status_code == 405
    assert strict.put(URL).status_code == 405


def test_head_answers_as_get_does(client: Client) -> None:
    got = client.get(URL)
    head = client.head(URL)
    assert head.status_code == got.status_code
    assert head["Content-Type"] == got["Content-Type"]
    assert head["Cache-Control"] == got["Cache-Control"]
    assert head.content == b""


def test_staff_without_the_view_permission_get_the_anonymous_answer(client: Client) -> None:
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True))
    assert set(client.get(URL).json()) == {"status", "pending", "dirty"}


def test_drift_is_not_checked_unless_the_setting_says_so(client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auth_user ALTER COLUMN first_name DROP NOT NULL")
    assert "drift" not in client.get(URL).json()


def test_drift_makes_it_dirty_when_the_setting_says_so(
    client: Client, settings: Any, admin_user: User
) -> None:
    from schemaops.scripts import loader

    for script in loader.load_scripts("default"):
        record(script.version, Outcome.APPLIED, script.checksum)
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "HEALTH_CHECKS_DRIFT": True}
    assert client.get(URL).json() == {"status": "ok", "pending": 0, "dirty": 0, "drift": 0}
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auth_user ALTER COLUMN first_name DROP NOT NULL")
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"status": "dirty", "pending": 0, "dirty": 0, "drift": 1}
    client.force_login(admin_user)
    names = client.get(URL).json()["drift_names"]
    assert names == ["auth.User.first_name: column-nullable"]
