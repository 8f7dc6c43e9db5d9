"""``manage.py migrate`` runs both tiers; ``schemaops migrate`` interleaves; ``RunScript``."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.migrations.state import ProjectState

from schemaops.exceptions import ScriptError, ScriptFailed
from schemaops.models import HistoryEntry
from schemaops.operations import RunScript
from tests.conftest import ScriptFolder, demo_manage

DEMO_SCRIPTS = {"0001", "0002", "0003", "0004"}


@pytest.mark.django_db
def test_creating_the_test_database_applied_the_demo_scripts() -> None:
    applied = set(
        HistoryEntry.objects.filter(tier="sql", location="demo", outcome="applied").values_list(
            "version", flat=True
        )
    )
    assert applied == DEMO_SCRIPTS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_nullable FROM information_schema.columns"
            " WHERE table_name = 'accounts' AND column_name = 'timezone'"
        )
        assert cursor.fetchone() == ("NO",)


@pytest.mark.django_db
def test_django_migrations_are_recorded_with_their_duration() -> None:
    entry = HistoryEntry.objects.get(
        tier="django", location="demo", version="0004_account_timezone"
    )
    assert entry.outcome == "applied"
    assert entry.duration_ms is not None
    assert entry.name == "0004_account_timezone"
    # Migrations applied before the registry existed are recorded too.
    assert HistoryEntry.objects.filter(tier="django", location="contenttypes").count() == 2


pytestmark_db = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


@pytestmark_db
def test_manage_py_migrate_applies_pending_scripts_after_django_migrations(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE via_migrate (id int);")
    out = StringIO()
    call_command("migrate", database="runner", stdout=out)
    assert "Running SQL scripts:" in out.getvalue()
    assert HistoryEntry.objects.using("runner").get(location="ops").outcome == "applied"


@pytestmark_db
def test_migrate_runs_scripts_setting_turns_the_second_half_off(
    scripts: ScriptFolder, settings: Any
) -> None:
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "MIGRATE_RUNS_SCRIPTS": False}
    scripts.write("0001_table.sql", "CREATE TABLE not_via_migrate (id int);")
    call_command("migrate", database="runner", stdout=StringIO())
    assert not HistoryEntry.objects.using("runner").filter(location="ops").exists()


@pytestmark_db
def test_migrate_with_an_app_label_leaves_scripts_alone(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE app_label_only (id int);")
    call_command("migrate", "auth", database="runner", stdout=StringIO())
    assert not HistoryEntry.objects.using("runner").filter(location="ops").exists()


@pytest.fixture
def demo_at_0003(transactional_db: None) -> Iterator[None]:
    call_command("migrate", "demo", "0003", verbosity=0)
    yield
    call_command("migrate", "demo", verbosity=0)


@pytest.fixture
def default_scripts(tmp_path: Path, settings: Any) -> ScriptFolder:
    """A script location applied to the default database."""
    folder = tmp_path / "ops"
    folder.mkdir()
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "SCRIPT_DIRS": {"ops": folder}}
    return ScriptFolder(folder)


def test_schemaops_migrate_runs_a_script_right_after_the_migration_it_depends_on(
    demo_at_0003: None, default_scripts: ScriptFolder
) -> None:
    default_scripts.write(
        "0001_timezone_comment.sql",
        "-- schemaops: depends=demo.0004_account_timezone\n"
        "COMMENT ON COLUMN accounts.timezone IS 'IANA name';",
    )
    plan_out = StringIO()
    call_command("schemaops", "plan", stdout=plan_out)
    lines = [line.strip() for line in plan_out.getvalue().splitlines()]
    assert lines[1:3] == [
        "1. migration demo.0004_account_timezone  [atomic; lint: clean]",
        "2. script    ops:0001 timezone_comment  [atomic; lint: clean]",
    ]

    before = HistoryEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    call_command("schemaops", "migrate", stdout=StringIO())
    order = list(
        HistoryEntry.objects.filter(id__gt=before, outcome="applied")
        .order_by("id")
        .values_list("location", "version")
    )
    # (Demo scripts may follow: the flush of earlier transactional tests forgot them.)
    assert order[:2] == [("demo", "0004_account_timezone"), ("ops", "0001")]


def test_dependency_on_an_unknown_migration_is_refused(
    transactional_db: None, default_scripts: ScriptFolder
) -> None:
    path = default_scripts.write("0001_x.sql", "-- schemaops: depends=demo.0099_nope\nSELECT 1;")
    with pytest.raises(
        CommandError, match=rf"ops:0001 \({path}\) depends on the Django migration demo.0099_nope"
    ):
        call_command("schemaops", "migrate", stdout=StringIO())


@pytestmark_db
def test_run_script_operation_applies_a_pending_script_once(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE from_operation (id int);")
    operation = RunScript("ops", "0001")
    state = ProjectState()
    with connections["runner"].schema_editor() as editor:
        operation.database_forwards("anything", editor, state, state)
    with connections["runner"].schema_editor() as editor:
        operation.database_forwards("anything", editor, state, state)
    assert list(
        HistoryEntry.objects.using("runner")
        .filter(location="ops")
        .values_list("outcome", flat=True)
    ) == ["applied"]
    out = StringIO()
    call_command("schemaops", "migrate", "--database", "runner", stdout=out)
    assert "No pending scripts." in out.getvalue()


@pytestmark_db
def test_run_script_refuses_a_non_atomic_script_inside_an_atomic_migration(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE cic (v int);")
    scripts.write("0002_index.sql", "CREATE INDEX CONCURRENTLY cic_v ON cic (v);")
    call_command(
        "schemaops", "migrate", "--database", "runner", "--target", "ops:0001", stdout=StringIO()
    )
    state = ProjectState()
    with (
        pytest.raises(ScriptError, match="set atomic = False on the Migration class"),
        connections["runner"].schema_editor(atomic=True) as editor,
    ):
        RunScript("ops", "0002").database_forwards("anything", editor, state, state)


def test_run_script_deconstructs_for_migration_files() -> None:
    assert RunScript("demo", "0003").deconstruct() == ("RunScript", ["demo", "0003"], {})
    assert RunScript("demo", "0003").describe() == "Run SQL script demo:0003 if pending"


@pytestmark_db
def test_run_script_in_an_atomic_migration_does_not_wait_holding_the_migrations_locks(
    scripts: ScriptFolder,
) -> None:
    import time

    from tests.test_run_semantics import open_transaction

    scripts.write("0001_table.sql", "CREATE TABLE held (id int);")
    call_command(
        "schemaops", "migrate", "--database", "runner", "--target", "ops:0001", stdout=StringIO()
    )
    scripts.write(
        "0002_alter.sql", "-- schemaops: lock_timeout=100ms retries=1\nALTER TABLE held ADD c int;"
    )
    with open_transaction("SELECT * FROM held"):
        time.sleep(0.3)  # a long transaction by now: outside a transaction, it would be waited for
        began = time.monotonic()
        with (
            pytest.raises(ScriptFailed, match="within lock_timeout=100ms, after 1 retries"),
            connections["runner"].schema_editor() as editor,
        ):
            RunScript("ops", "0002").database_forwards("app", editor, *[ProjectState()] * 2)
        # Two lock waits and one backoff; no 0.25 s budget spent waiting first.
        assert time.monotonic() - began < 2.0


@pytest.mark.django_db(transaction=True)
def test_schemaops_migrate_on_an_empty_database_creates_the_registry_before_any_script(
    empty_database: str,
) -> None:
    # demo:0001 depends on demo.0003, which Django's order puts before schemaops's
    # own migrations: the script must still wait for the registry it is recorded in.
    done = demo_manage("schemaops", "migrate", database_url=empty_database)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert out.index("schemaops.0001_initial") < out.index("demo:0001")
    status = demo_manage("schemaops", "status", database_url=empty_database)
    assert "4 script(s): 4 applied." in status.stdout
