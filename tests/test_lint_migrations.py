"""Linting Django migrations: the plan walked once with the state carried forward,
real migration files (tests/lintapp/cases/), no database unless --pending."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO

import django
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from schemaops.lint.config import LintConfig
from schemaops.lint.django_migrations.walk import MigrationLintResult, lint_migrations, plan_order
from tests.conftest import REPO_ROOT

CASES = "tests.lintapp.cases"


@pytest.fixture
def case() -> Iterator[object]:
    """``case("history")`` installs tests.lintapp with that case's migrations."""
    overrides: list[override_settings] = []

    def use(name: str) -> None:
        override = override_settings(
            INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.lintapp"],
            MIGRATION_MODULES={"lintapp": f"{CASES}.{name}"},
        )
        override.enable()
        overrides.append(override)

    yield use
    for override in reversed(overrides):
        override.disable()


def lint(**kwargs: object) -> MigrationLintResult:
    return lint_migrations(LintConfig(), app_labels={"lintapp"}, **kwargs)  # type: ignore[arg-type]


def found(result: MigrationLintResult) -> list[tuple[str, int, str]]:
    """(migration file name, line, rule) of each finding."""
    return [(f.path.rsplit("/", 1)[-1], f.line, f.rule) for f in result.findings]


def test_history_finds_each_unsafe_operation_at_its_line(case) -> None:
    case("history")
    result = lint()
    assert result.migrations == 6
    assert found(result) == [
        ("0002_unsafe.py", 8, "require-concurrent-index-creation"),
        ("0002_unsafe.py", 12, "adding-required-field"),
        ("0002_unsafe.py", 27, "changing-column-type"),
        ("0002_unsafe.py", 32, "ban-drop-column"),
        ("0002_unsafe.py", 33, "renaming-column"),
        # RunSQL's own statements, at their lines in the file.
        ("0002_unsafe.py", 36, "unbatched-backfill"),
        ("0002_unsafe.py", 37, "ban-concurrent-index-creation-in-transaction"),
        ("0005_validate.py", 17, "adding-not-nullable-field"),
        ("0006_suppressed.py", 8, "suppression-missing-reason"),
        ("0006_suppressed.py", 8, "unused-suppression"),
        ("0006_suppressed.py", 15, "ban-drop-column"),
        ("0006_suppressed.py", 17, "ban-concurrent-index-creation-in-transaction"),
    ]


def test_findings_carry_the_django_hint_and_the_operation(case) -> None:
    case("history")
    by_rule = {f.rule: f for f in lint().findings}
    index = by_rule["require-concurrent-index-creation"]
    assert "AddIndexConcurrently" in index.hint
    assert "book_isbn2_idx" in index.message
    assert index.column == 9
    required = by_rule["adding-required-field"]
    assert "db_default" in required.hint
    assert "book.edition" in required.message
    assert "integer to bigint" in by_rule["changing-column-type"].message


def test_a_longer_varchar_a_new_nullable_field_and_new_tables_are_clean(case) -> None:
    """0001 works on tables it creates; 0002's AlterField to a longer varchar and its
    nullable AddField, and all of 0003 and 0004, are safe: nothing reported there."""
    case("history")
    paths = {f.path.rsplit("/", 1)[-1] for f in lint().findings}
    assert paths == {"0002_unsafe.py", "0005_validate.py", "0006_suppressed.py"}
    lines_0002 = {f.line for f in lint().findings if f.path.endswith("0002_unsafe.py")}
    assert 17 not in lines_0002  # subtitle, nullable
    assert 22 not in lines_0002  # title, varchar(100) -> varchar(200)


def test_set_not_null_after_a_validated_check_is_known_across_migrations(case) -> None:
    case("history")
    result = lint(pg_version=12)
    assert ("0005_validate.py", 11, "adding-not-nullable-field") not in found(result)
    # Before PostgreSQL 12, SET NOT NULL scans the table whatever constraints exist.
    old = lint(pg_version=11)
    assert ("0005_validate.py", 11, "adding-not-nullable-field") in found(old)


def test_select_and_ignore_filter_the_findings(case) -> None:
    case("history")
    only = lint_migrations(
        LintConfig(select=frozenset({"ban-drop-column"})), app_labels={"lintapp"}
    )
    assert {f.rule for f in only.findings} == {"ban-drop-column"}
    without = lint_migrations(
        LintConfig(ignore=frozenset({"ban-drop-column"})), app_labels={"lintapp"}
    )
    assert "ban-drop-column" not in {f.rule for f in without.findings}
    assert len(without.findings) == len(lint().findings) - 2


def test_squashed_migrations_are_linted_as_the_loader_plans_them(case) -> None:
    """No database: nothing applied, so the squashed migration replaces both; its
    index is on a table it creates itself, so it is clean."""
    case("squashed")
    result = lint()
    assert result.migrations == 1
    assert result.findings == []
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert ("lintapp", "0001_squashed_0002") in plan_order(loader.graph)
    assert ("lintapp", "0002_label_index") not in plan_order(loader.graph)


def test_third_party_operations_are_rendered_without_a_database(case) -> None:
    case("custom")
    result = lint()
    assert found(result) == [("0002_third_party.py", 11, "require-concurrent-index-creation")]
    assert "lintapp_article" in result.findings[0].message
    # The one that asks the database is left alone, and said so.
    assert result.not_rendered == [
        "lintapp.0002_third_party operation 3 (IntrospectingOperation): needs a database"
    ]


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default is Django 5.0+")
def test_db_default_constant_and_stable_are_fine_volatile_rewrites(case) -> None:
    case("dbdefault")
    assert found(lint()) == [("0002_defaults.py", 24, "adding-field-with-default")]


def test_plan_order_puts_every_migration_after_its_parents(case) -> None:
    case("history")
    loader = MigrationLoader(None, ignore_no_migrations=True)
    order = plan_order(loader.graph)
    assert len(order) == len(set(order)) == len(loader.graph.nodes)
    position = {key: index for index, key in enumerate(order)}
    for key, node in loader.graph.node_map.items():
        for parent in node.parents:
            assert position[parent.key] < position[key]


@pytest.mark.django_db
def test_pending_lints_only_unapplied_migrations(case) -> None:
    case("history")
    everything = lint(pending=True)
    assert everything.migrations == 6
    recorder = MigrationRecorder(__import__("django.db").db.connection)
    recorder.record_applied("lintapp", "0001_initial")
    recorder.record_applied("lintapp", "0002_unsafe")
    pending = lint(pending=True)
    assert pending.migrations == 4
    assert not any(f.path.endswith("0002_unsafe.py") for f in pending.findings)


def test_manage_py_lint_reads_no_database(tmp_path) -> None:
    """DATABASE_URL points at a port nothing listens on: the lint still runs."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nowhere",
        "SCHEMAOPS_TEST_LINT_CASE": "history",
        "PYTHONPATH": str(REPO_ROOT),
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "manage.py"),
            "schemaops",
            "lint",
            "lintapp",
            "--format",
            "json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    document = json.loads(completed.stdout)
    assert document["summary"]["errors"] == 10
    assert document["summary"]["warnings"] == 2
    assert set(document["findings"][0]) == {
        "rule",
        "severity",
        "path",
        "line",
        "column",
        "message",
        "hint",
    }
    assert "10 error finding(s)" in completed.stderr


def test_manage_py_lint_text_and_exit_codes(case) -> None:
    case("squashed")
    out = StringIO()
    call_command("schemaops", "lint", "lintapp", stdout=out)
    assert "No findings in 1 file (0 scripts, 1 migration)." in out.getvalue()
    with pytest.raises(CommandError) as error:
        call_command("schemaops", "lint", "no_such_app", stdout=StringIO())
    assert error.value.returncode == 2
    assert "'no_such_app' is neither an installed app's label" in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command("schemaops", "lint", "--select", "no-such-rule", stdout=StringIO())
    assert error.value.returncode == 2
    assert "unknown rule 'no-such-rule'" in str(error.value)


def test_schemaops_lint_settings_apply_and_options_win(case) -> None:
    case("history")
    with override_settings(SCHEMAOPS={"LINT": {"ignore": ["ban-drop-column"]}}):
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("schemaops", "lint", "lintapp", "--format", "json", stdout=out)
        rules = {f["rule"] for f in json.loads(out.getvalue())["findings"]}
        assert "ban-drop-column" not in rules
        assert "renaming-column" in rules
        out = StringIO()
        call_command(
            "schemaops",
            "lint",
            "lintapp",
            "--select",
            "prefer-identity",
            "--format",
            "json",
            stdout=out,
        )
        assert json.loads(out.getvalue())["findings"] == []


def test_a_backfill_in_the_transaction_of_an_add_field_is_found(case) -> None:
    case("backfill")
    assert found(lint()) == [("0002_backfill.py", 15, "unbatched-backfill")]


@pytest.mark.django_db
def test_pending_knows_the_databases_validated_checks(case) -> None:
    """0005 makes ``code`` NOT NULL. On a database where a validated CHECK (code IS
    NOT NULL) already exists, that skips the scan: not reported."""
    from django.db import connection

    case("history")
    recorder = MigrationRecorder(connection)
    for name in ["0001_initial", "0002_unsafe", "0003_safe", "0004_not_null"]:
        recorder.record_applied("lintapp", name)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lintapp_book (code varchar(20))")
        assert ("0005_validate.py", 17, "adding-not-nullable-field") in found(lint(pending=True))
        cursor.execute("ALTER TABLE lintapp_book ADD CONSTRAINT code_nn CHECK (code IS NOT NULL)")
    assert ("0005_validate.py", 17, "adding-not-nullable-field") not in found(lint(pending=True))


@pytest.mark.django_db
def test_pending_before_the_registry_exists_counts_every_script_pending(case) -> None:
    """A fresh database: schemaops's own migration has not run yet."""
    from django.db import connection

    case("squashed")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE schemaops_historyentry CASCADE")
    out = StringIO()
    call_command("schemaops", "lint", "--pending", stdout=out)
    # The demo's four scripts are all pending; of Django's, only lintapp's one.
    assert out.getvalue().endswith("No findings in 5 files (4 scripts, 1 migration).\n")


def test_changed_reports_only_the_changed_migrations_with_the_others_as_context(case) -> None:
    """--changed: a migration before the changed one still counts (its validated CHECK
    lets the changed migration's SET NOT NULL pass), but only the changed one's findings
    and count are reported."""
    from schemaops.lint.changes import Changed

    case("history")
    folder = REPO_ROOT / "tests" / "lintapp" / "cases" / "history"
    only = Changed.of([folder / "0005_validate.py"])
    result = lint(pg_version=12, only=only)
    everything = lint(pg_version=12)
    assert result.migrations == 1
    assert {path for path, _, _ in found(result)} == {"0005_validate.py"}
    assert found(result) == [f for f in found(everything) if f[0] == "0005_validate.py"]
    assert ("0005_validate.py", 11, "adding-not-nullable-field") not in found(result)


# Operations whose SQL locks more than their name says (cases/hiddenlocks).


def test_operations_that_lock_more_than_their_name_says_are_found(case) -> None:
    """0002: each AlterField, RemoveConstraint and AddConstraint whose SQL drops or
    builds an index, renames or retypes a column; not the integer field's unique
    removal nor the plain UniqueConstraint's (DROP CONSTRAINT, brief)."""
    case("hiddenlocks")
    assert [entry for entry in found(lint()) if entry[0] == "0002_hidden_locks.py"] == [
        ("0002_hidden_locks.py", 11, "changing-column-type"),
        ("0002_hidden_locks.py", 11, "renaming-column"),
        ("0002_hidden_locks.py", 11, "require-concurrent-index-deletion"),
        ("0002_hidden_locks.py", 13, "require-concurrent-index-creation"),
        ("0002_hidden_locks.py", 15, "require-concurrent-index-deletion"),
        ("0002_hidden_locks.py", 17, "require-concurrent-index-deletion"),
        ("0002_hidden_locks.py", 21, "require-concurrent-index-deletion"),
        ("0002_hidden_locks.py", 22, "require-concurrent-index-deletion"),
        ("0002_hidden_locks.py", 26, "require-concurrent-index-creation"),
        ("0002_hidden_locks.py", 33, "disallowed-unique-constraint"),
        ("0002_hidden_locks.py", 37, "renaming-column"),
    ]


def test_their_concurrent_rewrites_are_clean(case) -> None:
    """0003: the same kinds of change with the models in state_operations and RunSQL
    ... CONCURRENTLY in database_operations."""
    case("hiddenlocks")
    assert not [f for f in lint().findings if f.path.endswith("0003_concurrently.py")]


def test_a_foreign_key_to_a_char_field_is_a_rename_and_a_type_change(case) -> None:
    case("hiddenlocks")
    by_rule = {f.rule: f for f in lint().findings if f.line == 11}
    assert "book.author: bigint to varchar(20)" in by_rule["changing-column-type"].message
    assert "column author_id to author" in by_rule["renaming-column"].message


@pytest.mark.django_db
def test_a_new_db_column_is_a_rename(case) -> None:
    case("hiddenlocks")
    (finding,) = [f for f in lint().findings if f.line == 37]
    assert "book.stock: column stock to in_stock" in finding.message
    assert 'RENAME COLUMN "stock" TO "in_stock"' in _sqlmigrate("0002_hidden_locks", 10)


def test_a_conditional_unique_constraint_is_an_index_build_with_the_django_way(case) -> None:
    case("hiddenlocks")
    (finding,) = [f for f in lint().findings if f.line == 26]
    assert finding.rule == "require-concurrent-index-creation"
    assert "SHARE lock" in finding.message
    assert "SeparateDatabaseAndState" in finding.hint
    assert "RunSQL CREATE UNIQUE INDEX CONCURRENTLY" in finding.hint
    assert "AddIndexConcurrently" not in finding.hint


def _before(name: str, index: int) -> tuple[object, object]:
    """Operation ``index`` of lintapp migration ``name`` and the state before it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration("lintapp", name)
    state = loader.project_state(tuple(migration.dependencies[0]), at_end=True)
    for operation in migration.operations[:index]:
        operation.state_forwards("lintapp", state)
    return migration.operations[index], state


def _sqlmigrate(name: str, index: int) -> str:
    """What ``sqlmigrate`` shows for one operation: lintapp's tables created as in the
    state before it, then its SQL collected with the database's introspection (an
    AlterField asks the database for the names of the indexes it drops)."""
    from django.db import connection

    from schemaops.lint.django_migrations.offline import render_sql

    operation, state = _before(name, index)
    with connection.schema_editor() as editor:
        for model in state.apps.get_app_config("lintapp").get_models():
            editor.create_model(model)
    return render_sql(operation, "lintapp", state, connection)


def _offline(name: str, index: int) -> str:
    from schemaops.lint.django_migrations.offline import offline_connection, render_sql

    operation, state = _before(name, index)
    return render_sql(operation, "lintapp", state, offline_connection("default"))


def test_an_alter_field_cannot_be_rendered_offline(case) -> None:
    """Why the AlterField checks read the old and new fields rather than rendered SQL:
    Django asks the database for the names of the constraints and indexes it drops."""
    from schemaops.lint.django_migrations.offline import NeedsDatabase

    case("hiddenlocks")
    with pytest.raises(NeedsDatabase):
        _offline("0002_hidden_locks", 0)


@pytest.mark.django_db
def test_django_renders_a_rename_and_a_type_change_for_a_foreign_key_to_a_char_field(
    case,
) -> None:
    case("hiddenlocks")
    sql = _sqlmigrate("0002_hidden_locks", 0)
    assert 'RENAME COLUMN "author_id" TO "author"' in sql
    assert 'TYPE varchar(20) USING "author"::varchar(20)' in sql
    assert 'DROP INDEX IF EXISTS "lintapp_book_author_id_' in sql


@pytest.mark.django_db
def test_django_renders_a_plain_create_index_for_unique_to_db_index(case) -> None:
    case("hiddenlocks")
    sql = _sqlmigrate("0002_hidden_locks", 1)
    assert "DROP CONSTRAINT" in sql
    assert 'CREATE INDEX "lintapp_book_code_' in sql
    assert "CONCURRENTLY" not in sql


@pytest.mark.django_db
def test_django_renders_drop_index_for_both_indexes_of_a_db_index_removed(case) -> None:
    case("hiddenlocks")
    sql = _sqlmigrate("0002_hidden_locks", 2)
    prefix = 'DROP INDEX IF EXISTS "lintapp_book_slug_'
    drops = [s for s in sql.splitlines() if s.startswith(prefix)]
    assert len(drops) == 2
    assert sum(s.endswith('_like";') for s in drops) == 1


@pytest.mark.django_db
def test_django_renders_drop_index_of_the_like_index_when_unique_goes(case) -> None:
    case("hiddenlocks")
    sql = _sqlmigrate("0002_hidden_locks", 3)
    assert 'DROP INDEX IF EXISTS "lintapp_book_sku_' in sql
    assert '_like"' in sql


@pytest.mark.django_db
def test_removing_unique_from_an_integer_field_drops_no_index_that_exists(case) -> None:
    """Django renders DROP INDEX IF EXISTS of a _like index for any type, but only
    varchar and text columns have one: here it names nothing, so nothing is locked."""
    from django.db import connection

    case("hiddenlocks")
    (drop,) = [s for s in _sqlmigrate("0002_hidden_locks", 4).splitlines() if "DROP INDEX" in s]
    name = drop.split('"')[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        assert cursor.fetchone() == (None,)
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'lintapp_book'")
        assert cursor.fetchone()[0] > 0  # the table and its other indexes exist


def test_django_renders_drop_index_for_a_conditional_or_expression_unique_constraint(
    case,
) -> None:
    case("hiddenlocks")
    assert _offline("0002_hidden_locks", 5) == 'DROP INDEX IF EXISTS "book_slug_in_stock";'
    assert _offline("0002_hidden_locks", 6) == 'DROP INDEX IF EXISTS "book_code_lower";'
    plain = _offline("0002_hidden_locks", 7)
    assert plain == 'ALTER TABLE "lintapp_book" DROP CONSTRAINT "book_sku_rank";'


@pytest.mark.django_db(transaction=True)
def test_a_conditional_unique_constraint_takes_a_share_lock_not_access_exclusive(case) -> None:
    """What Django renders for it is CREATE UNIQUE INDEX ... WHERE; run on existing
    tables, it holds SHARE on the table (pg_locks), which lets reads through: an index
    build, not ADD UNIQUE's ACCESS EXCLUSIVE."""
    from django.db import connection, transaction

    case("hiddenlocks")
    sql = _offline("0002_hidden_locks", 8)
    assert sql.startswith('CREATE UNIQUE INDEX "book_sku_in_stock" ON "lintapp_book"')
    assert 'WHERE "stock" > 0' in sql
    _, state = _before("0002_hidden_locks", 8)
    models = list(state.apps.get_app_config("lintapp").get_models())
    with connection.schema_editor() as editor:  # committed: no lock of CREATE TABLE left
        for model in models:
            editor.create_model(model)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
            cursor.execute(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid()"
                " AND relation = 'lintapp_book'::regclass"
            )
            modes = {row[0] for row in cursor.fetchall()}
            transaction.set_rollback(True)
    finally:
        with connection.schema_editor() as editor:
            for model in reversed(models):
                editor.delete_model(model)
    assert "ShareLock" in modes
    assert "AccessExclusiveLock" not in modes


# Staged drops (cases/staged): 0002 removes from the models only, 0003 drops.


def test_a_drop_a_migration_after_the_state_removal_is_not_reported(case) -> None:
    """0003 drops a column, a table and a many-to-many's join table that 0002 took
    out of the models; only the column still in the model is reported."""
    case("staged")
    assert [entry for entry in found(lint()) if entry[0] == "0003_drop.py"] == [
        ("0003_drop.py", 14, "ban-drop-column"),
    ]


def test_a_drop_in_the_migration_of_the_state_removal_is_still_reported(case) -> None:
    case("staged")
    assert [entry for entry in found(lint()) if entry[0] == "0002_remove_from_state.py"] == [
        ("0002_remove_from_state.py", 20, "ban-drop-column"),
        ("0002_remove_from_state.py", 21, "ban-drop-table"),
    ]


@pytest.mark.django_db
def test_pending_carries_the_state_removals_of_applied_migrations(case) -> None:
    from django.db import connection

    case("staged")
    recorder = MigrationRecorder(connection)
    for name in ["0001_initial", "0002_remove_from_state"]:
        recorder.record_applied("lintapp", name)
    assert [entry for entry in found(lint(pending=True)) if entry[0] == "0003_drop.py"] == [
        ("0003_drop.py", 14, "ban-drop-column"),
    ]


@pytest.mark.django_db
def test_pending_state_removal_and_drop_in_one_deploy_are_reported(case) -> None:
    """Both steps pending: they run in one deploy, while the old code still reads
    the column and the tables."""
    from django.db import connection

    case("staged")
    MigrationRecorder(connection).record_applied("lintapp", "0001_initial")
    assert [entry for entry in found(lint(pending=True)) if entry[0] == "0003_drop.py"] == [
        ("0003_drop.py", 10, "ban-drop-column"),
        ("0003_drop.py", 11, "ban-drop-table"),
        ("0003_drop.py", 12, "ban-drop-table"),
        ("0003_drop.py", 14, "ban-drop-column"),
    ]


def test_a_staged_drop_counts_once(case) -> None:
    """0004 adds a column of the name 0003 dropped, and drops it: that is reported."""
    case("staged")
    assert [entry for entry in found(lint()) if entry[0] == "0004_again.py"] == [
        ("0004_again.py", 11, "ban-drop-column"),
    ]


def test_an_exclusion_constraint_on_an_existing_table_is_an_index_build_under_lock(
    case,
) -> None:
    """AddConstraint(ExclusionConstraint) is ALTER TABLE ... ADD EXCLUDE: its index is
    built under ACCESS EXCLUSIVE; on the table the migration creates, it is fine."""
    case("exclusion")
    assert found(lint()) == [("0002_no_overlap.py", 10, "adding-exclusion-constraint")]


def test_a_migration_django_cannot_apply_is_an_error_naming_it_not_a_traceback(case) -> None:
    case("invalid")
    err = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("schemaops", "lint", "lintapp", stdout=StringIO(), stderr=err)
    assert error.value.returncode == 2
    said = str(error.value) + err.getvalue()
    assert "0002_gone.py: lintapp.0002_gone operation 1.1 (RemoveField) cannot be applied" in said
    assert "KeyError" in said
