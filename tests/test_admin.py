"""The admin: the history read-only for everyone, the status page, permissions."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schemaops.models import HistoryEntry, Outcome, Tier

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/schemaops/historyentry/"
STATUS = "/admin/schemaops/historyentry/status/"


def entry(**fields: object) -> HistoryEntry:
    now = timezone.now()
    values: dict[str, object] = {
        "tier": Tier.SQL,
        "location": "ops",
        "version": "0007",
        "name": "add_index",
        "checksum": "c" * 64,
        "outcome": Outcome.APPLIED,
        "started_at": now,
        "finished_at": now,
        "duration_ms": 1234,
        "database": "default",
        "os_user": "deployer",
        "host": "ci-1",
        "pid": 4242,
    }
    values.update(fields)
    return HistoryEntry.objects.create(**values)


@pytest.fixture
def staff(client: Client) -> Callable[..., User]:
    def login(*permissions: str, superuser: bool = False, is_staff: bool = True) -> User:
        user = User.objects.create_user(
            "u", password="pw", is_staff=is_staff, is_superuser=superuser
        )
        for codename in permissions:
            user.user_permissions.add(Permission.objects.get(codename=codename))
        client.force_login(user)
        return user

    return login


def test_history_lists_newest_first_with_badges(client: Client, staff) -> None:
    staff(superuser=True)
    entry(version="0001", name="old", started_at=timezone.now() - timezone.timedelta(days=1))
    entry(version="0002", name="broken", outcome=Outcome.FAILED, error="boom")
    page = client.get(CHANGELIST).content.decode()
    assert page.index("0002 broken") < page.index("0001 old")
    assert '<span class="schemaops-badge schemaops-error">failed</span>' in page
    assert "1.2 s" in page
    assert "deployer" in page
    assert 'name="_selected_action"' not in page  # no bulk actions
    for label in ("By tier", "By outcome", "By location"):
        assert label in page
    assert client.get(CHANGELIST, {"q": "boom"}).content.decode().count("0002 broken") == 1


def test_a_failed_row_shows_its_sql_with_the_failing_statement_highlighted(
    client: Client, staff
) -> None:
    staff(superuser=True)
    failed = entry(
        outcome=Outcome.FAILED,
        sql="-- header\nCREATE TABLE a (id bigint);\nINSERT INTO a\nVALUES ('x');\nSELECT 1;",
        failed_line=3,
        failed_statement="INSERT INTO a\nVALUES ('x')",
        error='invalid input syntax for type bigint: "x"',
    )
    page = client.get(f"{CHANGELIST}{failed.pk}/change/").content.decode()
    assert page.count('<tr class="schemaops-failing">') == 2
    assert '<td class="schemaops-lineno">3</td><td><code>INSERT INTO a</code>' in page
    assert '<tr class=""><td class="schemaops-lineno">2</td>' in page
    assert "invalid input syntax" in page
    for value in ("c" * 64, "deployer", "ci-1", "4242", "default"):
        assert value in page
    assert 'name="_save"' not in page  # nothing to save


def test_nobody_can_add_change_or_delete(client: Client, staff) -> None:
    staff(superuser=True)
    row = entry()
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    response = client.post(f"{CHANGELIST}{row.pk}/change/", {"outcome": "failed", "note": "x"})
    assert response.status_code == 403
    row.refresh_from_db()
    assert (row.outcome, row.note) == (Outcome.APPLIED, "")
    assert client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert HistoryEntry.objects.filter(pk=row.pk).exists()
    response = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [row.pk]})
    assert HistoryEntry.objects.filter(pk=row.pk).exists()
    assert response.status_code in (200, 302)


def test_viewing_needs_staff_and_the_view_permission(client: Client, staff) -> None:
    row = entry()
    assert client.get(CHANGELIST).status_code == 302  # anonymous: to the login page
    user = staff()
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(STATUS).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_historyentry"))
    user = User.objects.get(pk=user.pk)  # drop the permission cache
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(f"{CHANGELIST}{row.pk}/change/").status_code == 200
    assert client.get(STATUS).status_code == 200
    user.is_staff = False
    user.save()
    assert client.get(CHANGELIST).status_code == 302


def test_status_page_lists_pending_problems_and_lint(
    client: Client, staff, settings, tmp_path
) -> None:
    staff(superuser=True)
    folder = tmp_path / "ops"
    folder.mkdir()
    (folder / "0001_index.sql").write_text("CREATE INDEX i ON accounts (timezone);\n")
    (folder / "0002_fine.sql").write_text("SELECT 1;\n")
    settings.SCHEMAOPS = {"SCRIPT_DIRS": {"ops": folder}}
    call_command(
        "schemaops", "repair", "demo:0004", "--as", "pending", "--reason", "t", stdout=StringIO()
    )
    entry(location="demo", version="0003", outcome=Outcome.STARTED, name="accounts_timezone")
    page = client.get(STATUS).content.decode()
    # demo:0003 was started by a run that never finished: interrupted, with its fix.
    assert "demo:0003" in page
    assert "interrupted" in page
    assert "manage.py schemaops repair demo:0003 --as applied|pending" in page
    # Pending, in run order, with the lint verdict of each script.
    pending = page[page.index('id="schemaops-pending"') :]
    assert pending.index("demo:0004") < pending.index("ops:0001") < pending.index("ops:0002")
    assert "demo:0003" not in pending
    assert "require-concurrent-index-creation" in page
    app_index = client.get("/admin/schemaops/").content.decode()
    assert 'href="/admin/schemaops/historyentry/status/"' in app_index


def test_status_page_queries_do_not_grow_with_the_history(client: Client, staff) -> None:
    staff(superuser=True)
    client.get(STATUS)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(STATUS).status_code == 200
        return len(captured)

    few = queries()
    now = timezone.now()
    HistoryEntry.objects.bulk_create(
        HistoryEntry(
            tier=Tier.SQL,
            location=f"loc{i % 50}",
            version=f"{i:05d}",
            name="x",
            outcome=Outcome.APPLIED,
            started_at=now,
            database="default",
        )
        for i in range(10_000)
    )
    # 12 for both tiers and the last backup, and drift's fixed cost: the migration
    # history, three catalog queries, two for the types (in a savepoint), however many
    # models.
    assert queries() == few <= 20


def test_the_last_backup_is_on_the_status_page_and_in_the_history(client: Client, staff) -> None:
    staff(superuser=True)
    assert "None recorded." in client.get(STATUS).content.decode()
    common = {"tier": Tier.BACKUP, "location": "schemaops_demo", "outcome": Outcome.BACKED_UP}
    entry(**common, version="20261130-090000", name="schemaops_demo-20261130-090000.dump")
    entry(
        **common,
        version="20261201-101500",
        name="schemaops_demo-20261201-101500.dump",
        note="/srv/backups/schemaops_demo-20261201-101500.dump (52,874 bytes, schema and data)",
    )
    status = client.get(STATUS).content.decode()
    last = status[status.index('id="schemaops-last-backup"') :]
    assert "<code>schemaops_demo-20261201-101500.dump</code>" in last
    assert "52,874 bytes, schema and data" in last
    assert "20261130" not in last
    history = client.get(CHANGELIST, {"tier": "backup"}).content.decode()
    assert '<span class="schemaops-badge schemaops-ok">backed up</span>' in history


def test_status_page_lists_drift_from_the_models(client: Client, staff) -> None:
    staff(superuser=True)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE auth_user ALTER COLUMN first_name DROP NOT NULL")
    page = client.get(STATUS).content.decode()
    drift = page[page.index('id="schemaops-drift"') :]
    assert "<code>auth.User.first_name</code>" in drift
    assert "column-nullable" in drift
    assert "column auth_user.first_name NOT NULL" in drift
    assert "up to date" not in page
