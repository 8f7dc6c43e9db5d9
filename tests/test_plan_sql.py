"""``schemaops plan --sql``: the SQL each pending step will run, both tiers, in the
plan's order, with each step's transaction, lint verdict and budgets; text and
JSON; nothing written and no lock taken.

One plan is read for the module (tests/lintapp/cases/plan on the ``runner``
database, its 0001 applied, and three scripts), while another session holds the
runner lock; the tests read what it printed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from schemaops.display import display
from schemaops.scripts.lock import LOCK_CLASS, LOCK_OBJECT
from tests.conftest import REPO_ROOT

SCRIPTS = {
    # After lintapp.0002_changes, with budgets of its own.
    "0001_after_changes.sql": (
        "-- schemaops: depends=lintapp.0002_changes lock_timeout=5s retries=3\n"
        "\n"
        "COMMENT ON TABLE lintapp_item IS 'items';\n"
        "\n"
        "UPDATE lintapp_item\n"
        "   SET n = 0\n"
        " WHERE n IS NULL;\n"
    ),
    "0002_index.sql": "CREATE INDEX CONCURRENTLY item_code ON lintapp_item (code);\n",
    "0003_drop.sql": "-- Nobody reads it any more.\nALTER TABLE lintapp_item DROP COLUMN n;\n",
}
MIGRATIONS = REPO_ROOT / "tests" / "lintapp" / "cases" / "plan"

# The module's plan is read outside the tests' transactions (its fixture), but the
# test databases are set up for the databases the tests ask for.
pytestmark = pytest.mark.django_db(databases=["default", "runner"])


@dataclasses.dataclass(frozen=True)
class Planned:
    sql: str
    """``plan --sql``'s output."""
    plain: str
    document: dict[str, Any]
    """``plan --sql --format json``'s."""
    sqlmigrate: dict[str, str]
    before: object
    after: object
    folder: Path

    def block(self, title: str) -> list[str]:
        """The lines of the step headed ``-- N. <title>``."""
        for block in self.sql.split("\n\n")[1:]:
            lines = block.splitlines()
            if lines[0].split(". ", 1)[1] == title:
                return lines
        raise AssertionError(f"no step {title!r} in:\n{self.sql}")

    def step(self, step_id: str) -> dict[str, Any]:
        return next(s for s in self.document["steps"] if s["id"] == step_id)


def _facts() -> object:
    """What a plan must leave as it was: Django's record, the registry, the schema."""
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        migrations = cursor.fetchall()
        cursor.execute("SELECT count(*), max(id) FROM schemaops_historyentry")
        registry = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, c.relkind, a.attname, obj_description(c.oid)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
            " WHERE n.nspname = 'public' ORDER BY 1, 3"
        )
        schema = cursor.fetchall()
    return migrations, registry, schema


def _run(*args: str) -> str:
    out = StringIO()
    call_command("schemaops", *args, "--database", "runner", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def planned(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Planned:
    folder = tmp_path_factory.mktemp("plan") / "ops"
    folder.mkdir()
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    override = override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.lintapp"],
        MIGRATION_MODULES={"lintapp": "tests.lintapp.cases.plan"},
        # A plan that took the runner lock would give up after a second.
        SCHEMAOPS={**settings.SCHEMAOPS, "SCRIPT_DIRS": {"ops": folder}, "LOCK_WAIT": 1},
    )
    with django_db_blocker.unblock():
        override.enable()
        try:
            # Django's own executor: no registry row to leave behind.
            MigrationExecutor(connections["runner"]).migrate([("lintapp", "0001_initial")])
            params = dict(connections["runner"].get_connection_params())
            for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
                params.pop(key, None)
            before = _facts()
            with psycopg.connect(**params, autocommit=True) as holder:  # type: ignore[arg-type]
                holder.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])
                sql = _run("plan", "--sql")
                document = json.loads(_run("plan", "--sql", "--format", "json"))
                plain = _run("plan")
            after = _facts()
            sqlmigrate = {
                name: call_command(
                    "sqlmigrate", "lintapp", name, database="runner", stdout=StringIO()
                )
                for name in ("0002", "0003")
            }
        finally:
            connections["runner"].close()
            MigrationExecutor(connections["runner"]).migrate([("lintapp", None)])
            override.disable()
    return Planned(sql, plain, document, sqlmigrate, before, after, folder)


STEPS = [
    "migration lintapp.0002_changes",
    "script ops:0001 after_changes",
    "migration lintapp.0003_concurrently",
    "migration lintapp.0004_unrenderable",
    "script ops:0002 index",
    "script ops:0003 drop",
]


def test_steps_come_in_the_order_plan_shows(planned: Planned) -> None:
    plain = [" ".join(line.split()[1:3]) for line in planned.plain.splitlines()[1:]]
    headed = [block.splitlines()[0].split(". ", 1)[1] for block in planned.sql.split("\n\n")[1:]]
    assert headed == STEPS
    assert [" ".join(title.split()[:2]) for title in STEPS] == plain
    assert [s["id"] for s in planned.document["steps"]] == [t.split()[1] for t in STEPS]


def test_plain_plan_keeps_its_output(planned: Planned) -> None:
    assert planned.plain.splitlines()[:3] == [
        "Planned steps (runner):",
        "    1. migration lintapp.0002_changes  [atomic; lint: error at line 13: "
        "adding-required-field; warning at line 15: require-concurrent-index-deletion; "
        "warning at line 17: require-concurrent-index-creation]",
        "    2. script    ops:0001 after_changes  [atomic; lint: clean]",
    ]


@pytest.mark.parametrize(
    "name", ["0002_changes", "0003_concurrently"], ids=["atomic", "non-atomic"]
)
def test_a_migrations_sql_is_what_sqlmigrate_prints(planned: Planned, name: str) -> None:
    printed = planned.sqlmigrate[name[:4]].splitlines()
    # sqlmigrate's BEGIN/COMMIT around an atomic one: the step's heading says it.
    statements = [line for line in printed if line not in ("BEGIN;", "COMMIT;")]
    assert planned.block(f"migration lintapp.{name}")[4:] == statements


def test_rendering_reads_the_database_for_what_only_it_knows(planned: Planned) -> None:
    lines = planned.block("migration lintapp.0002_changes")
    assert 'DROP INDEX IF EXISTS "item_code_by_hand";' in lines
    assert any("DEFAULT 'it''s new' NOT NULL;" in line for line in lines)


def test_python_code_is_a_comment_as_in_sqlmigrate(planned: Planned) -> None:
    lines = planned.block("migration lintapp.0002_changes")
    at = lines.index("-- Raw Python operation")
    assert lines[at + 1 : at + 3] == ["--", "-- THIS OPERATION CANNOT BE WRITTEN AS SQL"]


def test_an_operation_that_cannot_be_rendered_says_why_and_the_next_one_renders(
    planned: Planned,
) -> None:
    lines = planned.block("migration lintapp.0004_unrenderable")
    failed = next(line for line in lines if line.startswith("-- schemaops:"))
    assert "cannot be rendered here (ValueError: Found wrong number (0) of constraints" in failed
    assert lines.index(failed) < lines.index("-- Add field flag to item")
    assert lines[-1] == 'ALTER TABLE "lintapp_item" ADD COLUMN "flag" boolean NULL;'


def test_script_statements_come_with_their_file_and_line(planned: Planned) -> None:
    path = display(planned.folder / "0001_after_changes.sql")
    assert planned.block("script ops:0001 after_changes")[4:] == [
        f"-- {path}:3",
        "COMMENT ON TABLE lintapp_item IS 'items';",
        f"-- {path}:5",
        "UPDATE lintapp_item",
        "   SET n = 0",
        " WHERE n IS NULL;",
    ]


def test_each_step_says_its_transaction(planned: Planned) -> None:
    assert planned.block("migration lintapp.0002_changes")[2].startswith("--    atomic;")
    assert planned.block("migration lintapp.0003_concurrently")[2].startswith(
        "--    non-atomic (atomic = False);"
    )
    assert planned.block("script ops:0002 index")[2].startswith(
        "--    non-atomic (line 1: CREATE INDEX CONCURRENTLY);"
    )


def test_an_unsafe_step_shows_its_lint_verdict(planned: Planned) -> None:
    assert planned.block("script ops:0003 drop")[2] == (
        "--    atomic; lint: error at line 2: ban-drop-column"
    )
    assert [(f["rule"], f["severity"], f["line"]) for f in planned.step("ops:0003")["lint"]] == [
        ("ban-drop-column", "error", 2)
    ]


def test_each_step_shows_its_budgets_and_what_set_them(planned: Planned) -> None:
    assert planned.block("script ops:0001 after_changes")[3] == (
        "--    lock_timeout=5s (set by the script) statement_timeout=0 "
        "retries=3 (set by the script) concurrent_lock_timeout=10min"
    )
    assert planned.block("migration lintapp.0003_concurrently")[3] == (
        "--    lock_timeout=3s (set by the migration) statement_timeout=0 retries=5 "
        "concurrent_lock_timeout=10min"
    )


def test_json_has_the_documented_structure(planned: Planned) -> None:
    assert set(planned.document) == {"database", "steps"}
    assert planned.document["database"] == "runner"
    for step in planned.document["steps"]:
        assert set(step) == {
            *("number", "tier", "id", "name", "path", "atomic", "not_atomic_because"),
            *("lint", "settings", "statements"),
        }
    script = planned.step("ops:0001")
    assert script["tier"] == "sql"
    assert script["path"] == display(planned.folder / "0001_after_changes.sql")
    assert script["settings"] == {
        "lock_timeout": "5s",
        "statement_timeout": "0",
        "retries": 3,
        "concurrent_lock_timeout": "10min",
        "overridden": ["lock_timeout", "retries"],
    }
    assert [(s["line"], s["operation"]) for s in script["statements"]] == [(3, None), (5, None)]
    migration = planned.step("lintapp.0003_concurrently")
    assert (migration["tier"], migration["atomic"]) == ("django", False)
    assert migration["not_atomic_because"] == "atomic = False"
    assert migration["path"] == display(MIGRATIONS / "0003_concurrently.py")
    assert migration["statements"] == [
        {
            "sql": 'CREATE INDEX CONCURRENTLY "item_note_idx" ON "lintapp_item" ("note");',
            "line": 12,
            "operation": "Concurrently create index item_note_idx on field(s) note of model item",
        }
    ]


def test_it_writes_nothing_and_takes_no_lock(planned: Planned) -> None:
    # The runner lock was held by another session all along (LOCK_WAIT is 1s).
    assert planned.after == planned.before


# Errors -------------------------------------------------------------------------------


def test_a_broken_script_is_one_error_naming_it_without_a_traceback(
    tmp_path: Path, django_db_setup: None
) -> None:
    (tmp_path / "0001_broken.sql").write_text("SELECT 'unterminated;\n", encoding="utf-8")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SCHEMAOPS_TEST_SCRIPT_DIRS": f"ops={tmp_path}",
        "SCHEMAOPS_TEST_RUNNER_DB": str(connections["runner"].settings_dict["NAME"]),
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "schemaops", "plan", "--sql", "--database", "runner"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"CommandError: {tmp_path / '0001_broken.sql'}:1: unterminated string"
    )
    assert "Close it." in done.stderr


def test_an_unknown_dependency_names_the_script_and_the_fix(tmp_path: Path, settings: Any) -> None:
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "SCRIPT_DIRS": {"ops": tmp_path}}
    path = tmp_path / "0001_x.sql"
    path.write_text("-- schemaops: depends=auth.0099_nope\nSELECT 1;\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        _run("plan", "--sql")
    assert str(error.value) == (
        f"ops:0001 ({path}) depends on the Django migration auth.0099_nope, which does not "
        "exist. Fix the depends= directive."
    )
