"""The migrate gate: pending scripts with unsuppressed error findings do not run."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from schemaops.models import HistoryEntry
from tests.conftest import ScriptFolder

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


def applied(version: str) -> bool:
    return (
        HistoryEntry.objects.using("runner")
        .filter(location="ops", version=version, outcome="applied")
        .exists()
    )


@pytest.fixture
def big_table(scripts: ScriptFolder) -> ScriptFolder:
    # Big enough (about 2.5 MB) that a blocking statement on it is an error, not a
    # warning about a small table.
    scripts.write(
        "0001_table.sql",
        "CREATE TABLE events (id bigint, kind text, at timestamptz);\n"
        "INSERT INTO events SELECT g, md5(g::text), now() FROM generate_series(1, 30000) g;",
    )
    scripts.run("migrate")
    return scripts


def test_blocking_index_build_is_refused_with_the_finding(big_table: ScriptFolder) -> None:
    path = big_table.write(
        "0002_index.sql", "-- index by kind\nCREATE INDEX events_kind ON events (kind);"
    )
    with pytest.raises(CommandError) as error:
        big_table.run("migrate")
    message = str(error.value)
    assert f"{path}:2:1: require-concurrent-index-creation:" in message
    assert "hint: CREATE INDEX CONCURRENTLY" in message
    assert "1 lint error(s) in pending scripts: nothing was applied." in message
    assert not applied("0002")


def test_no_lint_gate_applies_it_anyway(big_table: ScriptFolder) -> None:
    big_table.write("0002_index.sql", "CREATE INDEX events_kind ON events (kind);")
    big_table.run("migrate", "--no-lint-gate")
    assert applied("0002")


def test_manage_py_migrate_is_gated_too(big_table: ScriptFolder) -> None:
    big_table.write("0002_index.sql", "CREATE INDEX events_kind ON events (kind);")
    with pytest.raises(CommandError, match="require-concurrent-index-creation"):
        call_command("migrate", database="runner", stdout=StringIO())
    call_command("migrate", "--no-lint-gate", database="runner", stdout=StringIO())
    assert applied("0002")


def test_suppression_with_a_reason_lets_it_run(big_table: ScriptFolder) -> None:
    big_table.write(
        "0002_index.sql",
        """
        -- schemaops: ignore=require-concurrent-index-creation reason="events has 12 rows"
        CREATE INDEX events_kind ON events (kind);
        """,
    )
    big_table.run("migrate")
    assert applied("0002")


def test_suppression_without_a_reason_is_itself_an_error(big_table: ScriptFolder) -> None:
    path = big_table.write(
        "0002_index.sql",
        "-- schemaops: ignore=require-concurrent-index-creation\n"
        "CREATE INDEX events_kind ON events (kind);",
    )
    with pytest.raises(CommandError) as error:
        big_table.run("migrate")
    message = str(error.value)
    assert f"{path}:1:1: suppression-missing-reason:" in message
    assert f"{path}:2:1: require-concurrent-index-creation:" in message


def test_index_on_a_table_created_in_the_same_script_is_fine(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_new.sql",
        "CREATE TABLE fresh (id bigint, v text);\nCREATE INDEX fresh_v ON fresh (v);",
    )
    scripts.run("migrate")
    assert applied("0001")


def test_set_not_null_after_a_validated_check_in_the_database_is_fine(
    big_table: ScriptFolder,
) -> None:
    big_table.write(
        "0002_check.sql",
        "-- schemaops: atomic=false\n"
        "ALTER TABLE events ADD CONSTRAINT events_kind_nn CHECK (kind IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE events VALIDATE CONSTRAINT events_kind_nn;",
    )
    big_table.run("migrate")
    big_table.write("0003_not_null.sql", "ALTER TABLE events ALTER COLUMN kind SET NOT NULL;")
    big_table.run("migrate")
    assert applied("0003")


def test_set_not_null_without_a_validated_check_is_refused(big_table: ScriptFolder) -> None:
    big_table.write("0002_not_null.sql", "ALTER TABLE events ALTER COLUMN kind SET NOT NULL;")
    with pytest.raises(CommandError, match="adding-not-nullable-field"):
        big_table.run("migrate")


def test_validate_in_the_transaction_that_added_the_constraint_is_refused(
    big_table: ScriptFolder,
) -> None:
    big_table.write(
        "0002_check.sql",
        "ALTER TABLE events ADD CONSTRAINT events_at_nn CHECK (at IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE events VALIDATE CONSTRAINT events_at_nn;",
    )
    with pytest.raises(CommandError, match=r"0002_check.sql:2:\d+: validate-constraint-in-same"):
        big_table.run("migrate")


def test_plan_shows_each_script_lint_verdict(big_table: ScriptFolder) -> None:
    big_table.write("0002_index.sql", "CREATE INDEX CONCURRENTLY events_at ON events (at);")
    big_table.write("0003_drop.sql", "ALTER TABLE events DROP COLUMN kind;")
    output = big_table.run("plan")
    assert (
        "ops:0002 index  [non-atomic (line 1: CREATE INDEX CONCURRENTLY); lint: clean]" in output
    )
    assert "ops:0003 drop  [atomic; lint: error at line 1: ban-drop-column]" in output


def test_warnings_do_not_stop_the_run_but_are_shown(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE legacy (id serial, name varchar(20));")
    output = scripts.run("migrate")
    assert "lint warning:" in output
    assert "prefer-identity" in output
    assert applied("0001")
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT to_regclass('legacy') IS NOT NULL")
        assert cursor.fetchone() == (True,)


def test_suppression_that_suppresses_nothing_is_reported(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql",
        '-- schemaops: ignore=ban-drop-table reason="old habit"\nCREATE TABLE tidy (id bigint);',
    )
    output = scripts.run("migrate")
    assert "unused-suppression: ignore=ban-drop-table suppresses nothing." in output
    assert applied("0001")


def test_rules_ignored_in_settings_do_not_stop_the_run(
    big_table: ScriptFolder, settings: object
) -> None:
    big_table.write("0002_index.sql", "CREATE INDEX events_kind ON events (kind);")
    settings.SCHEMAOPS = {  # type: ignore[attr-defined]
        **settings.SCHEMAOPS,  # type: ignore[attr-defined]
        "LINT": {"ignore": ["require-concurrent-index-creation"]},
    }
    big_table.run("migrate")
    assert applied("0002")


def test_pending_tables_created_earlier_in_the_same_run_are_new(
    big_table: ScriptFolder,
) -> None:
    """Pending scripts run in one deploy: an index on a table a pending script
    creates is built on an empty table nobody uses yet."""
    big_table.write("0002_table.sql", "CREATE TABLE fresh (id bigint, kind text);")
    big_table.write("0003_index.sql", "CREATE INDEX fresh_kind ON fresh (kind);")
    big_table.run("migrate")
    assert applied("0003")


def test_lint_pending_uses_the_registry_and_the_server(big_table: ScriptFolder) -> None:
    big_table.write("0002_index.sql", "CREATE INDEX events_kind ON events (kind);")
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command(
            "schemaops",
            "lint",
            "ops",
            "--pending",
            "--database",
            "runner",
            "--format",
            "json",
            stdout=out,
        )
    assert error.value.returncode == 1
    document = json.loads(out.getvalue())
    # 0001 is applied: only 0002 is linted.
    assert document["summary"]["units"] == 1
    assert [f["rule"] for f in document["findings"]] == ["require-concurrent-index-creation"]
