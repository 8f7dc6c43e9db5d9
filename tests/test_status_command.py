"""``manage.py schemaops status``: both tiers' state, as text and as JSON."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from schemaops.models import HistoryEntry, Outcome, Tier


def run_status(*args: str) -> str:
    out = StringIO()
    call_command("schemaops", "status", *args, stdout=out, no_color=True)
    return out.getvalue()


@pytest.fixture
def demo_at_0003(transactional_db: None) -> Iterator[None]:
    """Unapply demo's last two migrations for the test, then apply them again."""
    call_command("migrate", "demo", "0003", verbosity=0)
    yield
    call_command("migrate", "demo", verbosity=0)


@pytest.mark.django_db
def test_text_lists_every_migrated_app_with_its_count() -> None:
    output = run_status()
    assert "  demo: 5 applied\n" in output
    assert "  schemaops: 5 applied\n" in output
    assert "All Django migrations are applied." in output


@pytest.mark.django_db
def test_text_lists_applied_migrations_at_verbosity_2() -> None:
    output = run_status("--verbosity", "2")
    assert "    [X] 0004_account_timezone\n" in output


def test_text_lists_pending_migrations(demo_at_0003: None) -> None:
    output = run_status()
    assert "  demo: 3 applied, 2 pending\n" in output
    assert "    [ ] 0004_account_timezone\n" in output
    assert "2 Django migration(s) pending: run manage.py migrate." in output


def test_json_marks_pending_migrations(demo_at_0003: None) -> None:
    data = json.loads(run_status("--format", "json"))
    demo = [m for m in data["migrations"] if m["app"] == "demo"]
    assert demo == [
        {"app": "demo", "name": "0001_initial", "applied": True},
        {"app": "demo", "name": "0002_activitylog", "applied": True},
        {"app": "demo", "name": "0003_activitylog_smart_fields", "applied": True},
        {"app": "demo", "name": "0004_account_timezone", "applied": False},
        {"app": "demo", "name": "0005_account_timezone_not_null", "applied": False},
    ]


@pytest.mark.django_db
def test_json_has_the_documented_keys() -> None:
    data = json.loads(run_status("--format", "json"))
    assert set(data) == {
        "database",
        "migrations",
        "scripts",
        "script_errors",
        "registry_installed",
        "registry",
    }
    assert data["database"] == "default"
    assert data["registry_installed"] is True


@pytest.mark.django_db
def test_registry_shows_the_latest_row_of_each_change() -> None:
    started = timezone.now()
    common = {
        "tier": Tier.DJANGO,
        "location": "elsewhere",
        "started_at": started,
        "database": "default",
    }
    HistoryEntry.objects.create(version="0001_a", outcome=Outcome.FAILED, error="boom", **common)
    HistoryEntry.objects.create(version="0001_a", outcome=Outcome.APPLIED, **common)
    HistoryEntry.objects.create(
        version="0002_b", outcome=Outcome.APPLIED, duration_ms=12, **common
    )

    data = json.loads(run_status("--format", "json"))
    rows = [
        (r["version"], r["outcome"], r["duration_ms"])
        for r in data["registry"]
        if r["location"] == "elsewhere"
    ]
    assert rows == [("0001_a", "applied", None), ("0002_b", "applied", 12)]

    text = run_status("-v", "2")
    assert "django elsewhere:0001_a up applied\n" in text
    assert "django elsewhere:0002_b up applied 12 ms\n" in text


@pytest.mark.django_db
def test_registry_summary_counts_the_recorded_changes() -> None:
    recorded = HistoryEntry.objects.latest_per_change().count()
    assert f"  {recorded} change(s) recorded; newest: " in run_status()


def test_missing_registry_table_says_how_to_create_it(transactional_db: None) -> None:
    call_command("migrate", "schemaops", "zero", verbosity=0)
    try:
        data = json.loads(run_status("--format", "json"))
        text = run_status()
    finally:
        call_command("migrate", "schemaops", verbosity=0)
    assert data["registry_installed"] is False
    assert data["registry"] == []
    assert "run manage.py migrate schemaops" in text


@pytest.mark.django_db
def test_unknown_database_names_the_alias_and_the_choices() -> None:
    with pytest.raises(
        CommandError, match=r"Unknown database 'replica'\. Choose one of: 'default'"
    ):
        run_status("--database", "replica")


def test_missing_subcommand_is_a_usage_error() -> None:
    with pytest.raises(CommandError, match="subcommand"):
        call_command("schemaops")


@pytest.mark.django_db
def test_a_change_shows_one_time_in_the_list_and_the_summary() -> None:
    from schemaops.scripts import loader

    script = loader.load_scripts("default")[-1]
    finished = timezone.now().replace(microsecond=0)
    HistoryEntry.objects.create(
        tier=Tier.SQL,
        location=script.location.name,
        version=script.version,
        name=script.name,
        checksum=script.checksum,
        outcome=Outcome.APPLIED,
        started_at=finished - datetime.timedelta(minutes=3),
        finished_at=finished,
        duration_ms=180_000,
        database="default",
    )
    output = run_status()
    shown = timezone.localtime(finished).strftime("%Y-%m-%d %H:%M:%S")
    assert f"applied     {shown}" in output
    assert f"newest: {script.id} applied at {shown}" in output
