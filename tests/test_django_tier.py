"""``manage.py migrate`` as the deploy step: Django's migrations under the lock
discipline, checks of both tiers first, the gate on pending migrations, and
instances that race. Every run is a real ``manage.py migrate`` process."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections

from schemaops import health
from schemaops.models import HistoryEntry
from tests.conftest import INITIAL_MIGRATION, ScriptFolder, TierProject
from tests.test_run_semantics import open_transaction, runner_params

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])

ADD_FIELD = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tierapp", "0001_initial")]
    operations = [
        migrations.RunSQL("SELECT pg_sleep({sleep})", migrations.RunSQL.noop),
        migrations.AddField("item", "note", models.TextField(null=True)),
    ]
"""


ALTER_NOTE = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tierapp", "0002_note")]
    operations = [
        migrations.AlterField("item", "note", models.CharField(max_length=80, null=True)),
    ]
"""


def query(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connections["runner"].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def columns(table: str) -> set[str]:
    rows = query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
    )
    return {str(row[0]) for row in rows}


def applied_migrations() -> set[str]:
    return {str(r[0]) for r in query("SELECT name FROM django_migrations WHERE app = 'tierapp'")}


def registry(version: str, outcome: str = "applied") -> list[HistoryEntry]:
    return list(
        HistoryEntry.objects.using("runner").filter(
            tier="django", location="tierapp", version=version, outcome=outcome
        )
    )


def wait_for(condition: Callable[[], object], seconds: float = 30.0) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def running_query(fragment: str) -> list[tuple[object, ...]]:
    return query(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()"
        " AND state = 'active'",
        [f"%{fragment}%"],
    )


def with_initial(tier: TierProject, rows: int = 10) -> None:
    tier.write("0001_initial", INITIAL_MIGRATION.format(rows=rows))
    done = tier.migrate("--skip-scripts")
    assert done.returncode == 0, done.stderr


def watch_for_queued_locks(until: subprocess.Popen[str], holder_pid: int) -> list[object]:
    """Poll pg_locks while ``until`` runs: every lock someone other than the holder
    waits for (a writer would queue behind it)."""
    seen: list[object] = []
    with psycopg.connect(**runner_params(), autocommit=True) as conn:  # type: ignore[arg-type]
        while until.poll() is None:
            rows = conn.execute(
                "SELECT pid, relation::regclass::text FROM pg_locks WHERE NOT granted"
                " AND locktype = 'relation' AND pid <> %s",
                [holder_pid],
            ).fetchall()
            seen.extend(rows)
            time.sleep(0.02)
    return seen


def test_every_statement_runs_under_lock_and_statement_timeouts(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_seen",
        """
        from django.db import migrations


        def record(apps, schema_editor):
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO tierapp_seen SELECT 'python', current_setting('lock_timeout'),"
                    " current_setting('statement_timeout')"
                )


        class Migration(migrations.Migration):
            dependencies = [("tierapp", "0001_initial")]
            operations = [
                migrations.RunSQL(
                    "CREATE TABLE tierapp_seen AS SELECT 'sql'::text AS what,"
                    " current_setting('lock_timeout') AS lock_timeout,"
                    " current_setting('statement_timeout') AS statement_timeout"
                ),
                migrations.RunPython(record),
            ]
        """,
    )
    tier.write(
        "0003_budget",
        """
        from django.db import migrations


        class Migration(migrations.Migration):
            schemaops = {"lock_timeout": "750ms", "statement_timeout": "20s"}
            dependencies = [("tierapp", "0002_seen")]
            operations = [
                migrations.RunSQL(
                    "INSERT INTO tierapp_seen SELECT 'override', current_setting('lock_timeout'),"
                    " current_setting('statement_timeout')"
                ),
            ]
        """,
    )
    done = tier.migrate()
    assert done.returncode == 0, done.stderr
    seen = set(query("SELECT what, lock_timeout, statement_timeout FROM tierapp_seen"))
    assert seen == {("sql", "1s", "0"), ("python", "1s", "0"), ("override", "750ms", "20s")}


def test_a_bad_policy_is_refused_naming_the_migration(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_bad",
        """
        from django.db import migrations


        class Migration(migrations.Migration):
            schemaops = {"lock_timeout": "soon"}
            dependencies = [("tierapp", "0001_initial")]
            operations = [migrations.RunSQL("CREATE TABLE tierapp_never (id int)")]
        """,
    )
    done = tier.migrate()
    assert done.returncode == 1
    assert "tierapp.0002_bad: schemaops lock_timeout='soon' is not a duration" in done.stderr
    assert "Traceback" not in done.stderr
    assert "0002_bad" not in applied_migrations()


def test_an_atomic_migration_waits_for_a_long_reader_without_queuing(tier: TierProject) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=0))
    with open_transaction("SELECT count(*) FROM tierapp_item", release_after=3.0) as reader:
        reader_pid = reader.info.backend_pid
        time.sleep(0.3)  # older than lock_timeout when the migration looks
        process = tier.popen(lock_timeout="200ms")
        queued = watch_for_queued_locks(process, reader_pid)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert queued == []  # never in the lock queue, so writers never queued behind it
    assert f"tierapp.0002_note waits for pid {reader_pid}" in stdout
    assert "query 'SELECT count(*) FROM tierapp_item'" in stdout
    assert "note" in columns("tierapp_item")
    [row] = registry("0002_note")
    assert row.attempts is not None
    assert row.attempts >= 2
    assert row.waited_ms is not None
    assert row.waited_ms >= 1000


TAG_MODEL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tierapp", "0001_initial")]
    operations = [
        migrations.CreateModel(
            "Tag",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("item", models.ForeignKey("tierapp.Item", models.CASCADE)),
            ],
        ),
    ]
"""


def test_a_new_tables_foreign_key_waits_for_a_long_writer_of_the_table_it_references(
    tier: TierProject,
) -> None:
    # The table is new, but its foreign key takes SHARE ROW EXCLUSIVE on
    # tierapp_item, which every writer of tierapp_item would queue behind.
    with_initial(tier)
    tier.write("0002_tag", TAG_MODEL)
    writer = "UPDATE tierapp_item SET n = n WHERE false"  # holds ROW EXCLUSIVE
    with open_transaction(writer, release_after=3.0) as held:
        holder_pid = held.info.backend_pid
        time.sleep(0.3)  # older than lock_timeout when the migration looks
        process = tier.popen(lock_timeout="200ms")
        queued = watch_for_queued_locks(process, holder_pid)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert queued == []
    assert f"tierapp.0002_tag waits for pid {holder_pid}" in stdout
    assert 'holds RowExclusiveLock on "tierapp_item"' in stdout
    assert registry("0002_tag")


def test_a_lock_timeout_rolls_the_migration_back_and_runs_it_again_whole(
    tier: TierProject,
) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=0.5))
    # The next migration needs the state the retried one leaves (its field).
    tier.write("0003_longer_note", ALTER_NOTE)
    process = tier.popen()
    # Take the lock while the migration sleeps: younger than lock_timeout (1s)
    # when the ALTER comes, so it queues and times out.
    wait_for(lambda: running_query("pg_sleep(0.5)"))
    with open_transaction("LOCK TABLE tierapp_item IN ACCESS SHARE MODE", release_after=3.0):
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert 'tierapp.0002_note waited 1s for a lock on relation "tierapp_item"' in stdout
    assert "rolled back, retry 1/5" in stdout
    assert "note" in columns("tierapp_item")
    [row] = registry("0002_note")
    assert row.attempts is not None
    assert row.attempts >= 2
    assert query(
        "SELECT character_maximum_length FROM information_schema.columns"
        " WHERE table_name = 'tierapp_item' AND column_name = 'note'"
    ) == [(80,)]
    assert registry("0003_longer_note")


def test_a_migrations_registry_row_commits_in_its_own_transaction(tier: TierProject) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=0))
    done = tier.migrate("--skip-scripts")
    assert done.returncode == 0, done.stderr
    # One transaction wrote Django's record and the registry's row: neither can
    # exist without the other, and the row cost no commit of its own.
    (django_xid,) = query(
        "SELECT xmin::text FROM django_migrations WHERE app = 'tierapp' AND name = '0002_note'"
    )
    (registry_xid,) = query(
        "SELECT xmin::text FROM schemaops_historyentry WHERE tier = 'django'"
        " AND location = 'tierapp' AND version = '0002_note'"
    )
    assert django_xid == registry_xid


def test_a_non_atomic_migration_retries_the_statement_alone(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_note",
        ADD_FIELD.format(sleep=0.5).replace(
            "class Migration(migrations.Migration):",
            "class Migration(migrations.Migration):\n    atomic = False",
        ),
    )
    process = tier.popen()
    wait_for(lambda: running_query("pg_sleep(0.5)"))
    with open_transaction("LOCK TABLE tierapp_item IN ACCESS SHARE MODE", release_after=2.5):
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert 'tierapp.0002_note waited 1s for a lock on relation "tierapp_item"' in stdout
    assert "; retry 1/5" in stdout
    assert "rolled back" not in stdout
    # The sleep before it ran once: only the statement was retried.
    assert "note" in columns("tierapp_item")


def test_giving_up_names_the_holder_and_keeps_nothing(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_note",
        ADD_FIELD.format(sleep=0).replace(
            "class Migration(migrations.Migration):",
            'class Migration(migrations.Migration):\n    schemaops = {"retries": 1}',
        ),
    )
    with open_transaction("SELECT count(*) FROM tierapp_item") as reader:
        time.sleep(0.3)
        done = tier.migrate(lock_timeout="200ms")
        reader_pid = reader.info.backend_pid
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"tierapp.0002_note: waited 0s for pid {reader_pid}" in done.stderr
    assert "pg_terminate_backend" in done.stderr
    assert "Nothing of it was kept" in done.stderr
    assert "note" not in columns("tierapp_item")
    assert "0002_note" not in applied_migrations()
    [failed] = registry("0002_note", "failed")
    assert "waited 0s for pid" in failed.error


ADD_INDEX_CONCURRENTLY = """
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("tierapp", "0001_initial")]
    operations = [
        AddIndexConcurrently("item", models.Index(fields=["n"], name="tierapp_item_n")),
    ]
"""


def index_valid(name: str) -> bool | None:
    rows = query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
    return bool(rows[0][0]) if rows else None


def test_a_killed_concurrent_index_build_is_dropped_and_the_rerun_succeeds(
    tier: TierProject,
) -> None:
    with_initial(tier, rows=1000)
    tier.write("0002_index", ADD_INDEX_CONCURRENTLY)
    with open_transaction(
        "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM tierapp_item"
    ):
        process = tier.popen()
        [(builder,)] = wait_for(  # type: ignore[misc]
            lambda: query("SELECT pid FROM pg_stat_progress_create_index")
        )
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        query("SELECT pg_cancel_backend(%s)", [builder])
        wait_for(lambda: not query("SELECT pid FROM pg_stat_progress_create_index"))
        assert index_valid("tierapp_item_n") is False  # the killed build's leftover
    done = tier.migrate()
    assert done.returncode == 0, done.stderr
    assert 'tierapp.0002_index: dropped INVALID index "tierapp_item_n" left by' in done.stdout
    assert index_valid("tierapp_item_n") is True


def test_a_concurrent_build_outwaits_an_old_snapshot_with_its_own_budget(
    tier: TierProject,
) -> None:
    with_initial(tier, rows=1000)
    tier.write("0002_index", ADD_INDEX_CONCURRENTLY)
    with open_transaction(
        "BEGIN ISOLATION LEVEL REPEATABLE READ",
        "SELECT count(*) FROM tierapp_item",
        release_after=4.0,
    ):
        done = tier.migrate(lock_timeout="200ms")
    assert done.returncode == 0, done.stderr
    # Progress, read from pg_stat_progress_create_index while it waited.
    assert "tierapp.0002_index: waiting for old snapshots" in done.stdout
    assert index_valid("tierapp_item_n") is True


def test_six_instances_at_once_apply_each_step_once(tier: TierProject) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=1))
    tier.scripts.write("0001_audit.sql", "CREATE TABLE tier_audit (id int);")
    processes = [tier.popen() for _ in range(6)]
    results = [process.communicate(timeout=180) for process in processes]
    for process, (_stdout, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    outputs = [stdout for stdout, _ in results]
    assert any("Waiting for another run to finish: pid" in out for out in outputs)
    assert sum("Applying tierapp.0002_note... OK" in out for out in outputs) == 1
    assert sum("Applied ops:0001" in out for out in outputs) == 1
    assert len(registry("0002_note")) == 1
    assert (
        HistoryEntry.objects.using("runner")
        .filter(tier="sql", location="ops", version="0001", outcome="applied")
        .count()
        == 1
    )


def test_an_edited_script_stops_migrate_before_the_first_django_migration(
    tier: TierProject,
) -> None:
    with_initial(tier)
    tier.scripts.write("0001_audit.sql", "CREATE TABLE tier_audit (id int);")
    assert tier.migrate().returncode == 0
    tier.scripts.write("0001_audit.sql", "CREATE TABLE tier_audit (id bigint);")
    tier.write("0002_note", ADD_FIELD.format(sleep=0))
    done = tier.migrate()
    assert done.returncode == 1
    assert "ops:0001: the file changed after it was applied" in done.stderr
    assert "nothing was applied" in done.stderr
    assert "0002_note" not in applied_migrations()
    assert "Applying tierapp" not in done.stdout


ADD_INDEX = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tierapp", "0001_initial")]
    operations = [
        migrations.AddIndex("item", models.Index(fields=["n"], name="tierapp_item_n")),
    ]
"""


def test_a_blocking_index_on_a_big_table_refuses_the_whole_deploy(tier: TierProject) -> None:
    with_initial(tier, rows=40_000)
    path = tier.write("0002_index", ADD_INDEX)
    tier.scripts.write("0001_audit.sql", "CREATE TABLE tier_audit (id int);")
    done = tier.migrate()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{path.name}:7:9: require-concurrent-index-creation:" in done.stderr
    assert "hint: AddIndexConcurrently" in done.stderr
    assert "1 lint error(s) in pending migrations: nothing was applied." in done.stderr
    assert "0002_index" not in applied_migrations()
    assert "tier_audit" not in {str(r[0]) for r in query("SELECT tablename FROM pg_tables")}


def test_the_same_index_on_a_small_table_is_a_warning(tier: TierProject) -> None:
    with_initial(tier, rows=100)
    tier.write("0002_index", ADD_INDEX)
    done = tier.migrate()
    assert done.returncode == 0, done.stderr
    assert "lint warning:" in done.stdout
    assert "tierapp_item is small" in done.stdout
    assert "0002_index" in applied_migrations()


def test_a_suppression_with_a_reason_or_no_lint_gate_lets_it_run(tier: TierProject) -> None:
    with_initial(tier, rows=40_000)
    tier.write(
        "0002_index",
        ADD_INDEX.replace(
            "class Migration(migrations.Migration):",
            "class Migration(migrations.Migration):\n"
            '    schemaops_lint_ignore = {"require-concurrent-index-creation": "quiet hours"}',
        ),
    )
    assert tier.migrate().returncode == 0
    assert "0002_index" in applied_migrations()
    tier.write(
        "0003_index",
        ADD_INDEX.replace("0001_initial", "0002_index").replace("tierapp_item_n", "tierapp_n2"),
    )
    assert tier.migrate().returncode == 1
    assert tier.migrate("--no-lint-gate").returncode == 0
    assert "0003_index" in applied_migrations()


def test_migrate_says_when_there_are_no_sql_scripts(tier: TierProject) -> None:
    done = tier.migrate()
    assert done.returncode == 0, done.stderr
    assert "No SQL scripts to apply." in done.stdout


def test_schemaops_migrate_prints_the_heading_once(tier: TierProject) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=0))
    tier.scripts.write(
        "0001_audit.sql",
        "-- schemaops: depends=tierapp.0002_note\nCREATE TABLE tier_audit (id int);",
    )
    tier.write(
        "0003_more",
        ADD_FIELD.format(sleep=0).replace("0001_initial", "0002_note").replace('"note"', '"more"'),
    )
    done = tier.migrate("migrate", command="schemaops")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Operations to perform:") == 1
    assert "Applied ops:0001" in done.stdout
    # Django's "Applying ... OK" on one line, as plain migrate prints it.
    assert "  Applying tierapp.0002_note... OK\n" in done.stdout
    assert "  Applying tierapp.0003_more... OK\n" in done.stdout
    assert {"0002_note", "0003_more"} <= applied_migrations()


def test_creating_a_test_database_is_never_refused(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql",
        "CREATE TABLE events (id bigint, kind text);\n"
        "INSERT INTO events SELECT g, md5(g::text) FROM generate_series(1, 30000) g;",
    )
    scripts.run("migrate")
    scripts.write("0002_index.sql", "CREATE INDEX events_kind ON events (kind);")
    # As Django's test runner and pytest-django create a test database (the test
    # environment is set up here: this is a test).
    call_command("migrate", database="runner", run_syncdb=True, stdout=StringIO())
    assert HistoryEntry.objects.using("runner").filter(version="0002", outcome="applied").exists()


def test_health_says_migrating_while_a_django_migration_runs(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_note",
        ADD_FIELD.format(sleep=3).replace(
            "class Migration(migrations.Migration):",
            "class Migration(migrations.Migration):\n    atomic = False",
        ),
    )
    process = tier.popen()
    wait_for(lambda: running_query("pg_sleep(3)"))
    during = health.check("runner")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert during.status == "migrating"
    assert health.check("runner").status == "ok"


def test_a_waiting_instance_gives_up_after_lock_wait_without_a_traceback(
    tier: TierProject,
) -> None:
    with_initial(tier)
    tier.write("0002_note", ADD_FIELD.format(sleep=4))
    first = tier.popen()
    wait_for(lambda: running_query("pg_sleep(4)"))
    second = tier.migrate("--lock-wait", "1")
    first.communicate(timeout=120)
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert "held the runner lock on database 'runner' for more than 1s: pid" in second.stderr
    assert "Waiting for another run to finish: pid" in second.stdout


def test_a_table_created_and_renamed_in_this_deploy_is_still_new(tier: TierProject) -> None:
    with_initial(tier)
    tier.write(
        "0002_thing",
        """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("tierapp", "0001_initial")]
            operations = [
                migrations.CreateModel(
                    "Thing",
                    [("id", models.BigAutoField(primary_key=True)), ("n", models.IntegerField())],
                ),
            ]
        """,
    )
    tier.write(
        "0003_widget",
        """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("tierapp", "0002_thing")]
            operations = [
                migrations.RenameModel("Thing", "Widget"),
                migrations.AddIndex("widget", models.Index(fields=["n"], name="widget_n")),
            ]
        """,
    )
    done = tier.migrate(small_table_size="0")  # judged as new, not as small
    assert done.returncode == 0, done.stderr
    assert "lint" not in done.stdout
    assert "0003_widget" in applied_migrations()
