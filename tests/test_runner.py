"""Running scripts on a real PostgreSQL: order, atomicity, recording, safety checks."""

from __future__ import annotations

import hashlib
import json
import os
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from schemaops.models import HistoryEntry
from tests.conftest import ScriptFolder

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


def rows(version: str | None = None) -> list[tuple[str, str, str]]:
    entries = HistoryEntry.objects.using("runner").filter(tier="sql", location="ops")
    if version is not None:
        entries = entries.filter(version=version)
    return [(e.version, e.direction, e.outcome) for e in entries.order_by("id")]


def fetch(sql: str) -> list[tuple[object, ...]]:
    with connections["runner"].cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def table_exists(name: str) -> bool:
    return fetch(f"SELECT to_regclass('{name}') IS NOT NULL")[0][0] is True


def test_migrate_applies_pending_scripts_in_version_order(scripts: ScriptFolder) -> None:
    scripts.write("0002_fill.sql", "INSERT INTO items (name) VALUES ('second');")
    scripts.write("0001_create.sql", "CREATE TABLE items (id serial PRIMARY KEY, name text);")
    scripts.write("0010_more.sql", "INSERT INTO items (name) VALUES ('tenth');")

    output = scripts.run("migrate")

    assert rows() == [
        ("0001", "up", "applied"),
        ("0002", "up", "applied"),
        ("0010", "up", "applied"),
    ]
    assert fetch("SELECT name FROM items ORDER BY id") == [("second",), ("tenth",)]
    assert output.index("ops:0001") < output.index("ops:0002") < output.index("ops:0010")


def test_a_second_run_applies_nothing(scripts: ScriptFolder) -> None:
    scripts.write("0001_create.sql", "CREATE TABLE once (id int);")
    scripts.run("migrate")
    output = scripts.run("migrate")
    assert "No pending scripts." in output
    assert rows() == [("0001", "up", "applied")]


def test_applied_row_records_checksum_sql_and_who(scripts: ScriptFolder) -> None:
    path = scripts.write("0001_create.sql", "CREATE TABLE recorded (id int);\n")
    scripts.run("migrate")
    entry = HistoryEntry.objects.using("runner").get(location="ops", version="0001")
    assert entry.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry.sql == "CREATE TABLE recorded (id int);"
    assert entry.name == "create"
    assert entry.database == "runner"
    assert entry.db_user
    assert entry.host
    assert entry.pid
    assert entry.duration_ms is not None


def test_atomic_failure_keeps_nothing_and_names_file_line_and_error(
    scripts: ScriptFolder,
) -> None:
    path = scripts.write(
        "0001_three.sql",
        """
        CREATE TABLE first_table (id int);
        INSERT INTO first_table VALUES (1);
        INSERT INTO no_such_table VALUES (1);
        """,
    )
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")

    message = str(error.value)
    assert f"{path}:3" in message
    assert 'relation "no_such_table" does not exist' in message
    assert "Nothing of it was kept" in message
    assert not table_exists("first_table")
    assert rows() == [("0001", "up", "failed")]
    failed = HistoryEntry.objects.using("runner").get(location="ops", outcome="failed")
    assert failed.failed_line == 3
    assert failed.failed_statement == "INSERT INTO no_such_table VALUES (1)"


def test_failed_atomic_script_runs_again_once_fixed(scripts: ScriptFolder) -> None:
    scripts.write("0001_fix_me.sql", "CREATE TABLE fixed (id int); SELECT 1/0;")
    with pytest.raises(CommandError, match="division by zero"):
        scripts.run("migrate")
    scripts.write("0001_fix_me.sql", "CREATE TABLE fixed (id int);")
    scripts.run("migrate")
    assert rows() == [("0001", "up", "failed"), ("0001", "up", "applied")]
    assert table_exists("fixed")


def test_non_atomic_script_records_started_then_applied(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE big (id int, v text);")
    scripts.write("0002_index.sql", "CREATE INDEX CONCURRENTLY big_v ON big (v);")
    scripts.run("migrate")
    assert rows("0002") == [("0002", "up", "started"), ("0002", "up", "applied")]
    assert fetch("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass") == [
        (True,)
    ]


def test_failed_concurrent_index_build_leaves_no_invalid_index(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql", "CREATE TABLE dupes (v int); INSERT INTO dupes VALUES (1), (1);"
    )
    path = scripts.write(
        "0002_unique.sql", "CREATE UNIQUE INDEX CONCURRENTLY dupes_v ON dupes (v);"
    )
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    message = str(error.value)
    assert f"{path}:1" in message
    assert "could not create unique index" in message
    assert "The INVALID index dupes_v it left was dropped." in message
    assert fetch("SELECT to_regclass('dupes_v')") == [(None,)]
    assert rows("0002") == [("0002", "up", "started"), ("0002", "up", "failed")]


def test_failed_non_atomic_script_stops_later_runs_until_repaired(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_half.sql", "-- schemaops: atomic=false\nCREATE TABLE half (id int);\nSELECT 1/0;"
    )
    with pytest.raises(CommandError):
        scripts.run("migrate")
    with pytest.raises(CommandError, match=r"ops:0001: this non-atomic script failed at line 3"):
        scripts.run("migrate")
    scripts.run("repair", "ops:0001", "--as", "applied", "--reason", "finished by hand")
    assert "No pending scripts." in scripts.run("migrate")


def test_leftover_invalid_index_is_dropped_before_the_build_runs_again(
    scripts: ScriptFolder,
) -> None:
    scripts.write(
        "0001_table.sql", "CREATE TABLE leftovers (v int); INSERT INTO leftovers VALUES (1);"
    )
    scripts.run("migrate")
    # What a killed CREATE INDEX CONCURRENTLY leaves behind.
    with connections["runner"].cursor() as cursor:
        cursor.execute("CREATE INDEX leftovers_v ON leftovers (v)")
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'leftovers_v'::regclass"
        )
    scripts.write(
        "0002_index.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS leftovers_v ON leftovers (v);"
    )
    output = scripts.run("migrate")
    assert "dropped INVALID index leftovers_v" in output
    assert fetch("SELECT indisvalid FROM pg_index WHERE indexrelid = 'leftovers_v'::regclass") == [
        (True,)
    ]


def test_begin_commit_wrapper_is_replaced_by_schemaops_transaction(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_wrapped.sql",
        """
        BEGIN;
        CREATE TABLE wrapped (id int);
        INSERT INTO no_such_table VALUES (1);
        COMMIT;
        """,
    )
    with pytest.raises(CommandError, match="no_such_table"):
        scripts.run("migrate")
    assert not table_exists("wrapped")


def test_changed_script_stops_migrate_and_validate_with_both_checksums(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_create.sql", "CREATE TABLE tampered (id int);")
    scripts.run("migrate")
    recorded = HistoryEntry.objects.using("runner").get(location="ops").checksum
    scripts.write("0001_create.sql", "CREATE TABLE tampered (id bigint);")
    scripts.write("0002_next.sql", "CREATE TABLE after_tamper (id int);")

    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    for message in (str(error.value), validate_errors()):
        assert "ops:0001: the file changed after it was applied" in message
        assert f"recorded checksum {recorded}" in message
        assert re.search(r"file [0-9a-f]{64}", message)
    assert not table_exists("after_tamper")


def validate_errors() -> str:
    """Run ``validate`` on the runner database, expect it to fail, return its stderr."""
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("schemaops", "validate", database="runner", stderr=err, stdout=StringIO())
    return err.getvalue()


def test_validate_prints_one_line_per_problem(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE va (id int);")
    scripts.write("0003_c.sql", "CREATE TABLE vc (id int);")
    scripts.run("migrate")
    scripts.write("0001_a.sql", "CREATE TABLE va (id bigint);")
    scripts.write("0002_b.sql", "CREATE TABLE vb (id int);")
    err = StringIO()
    with pytest.raises(CommandError, match=r"Validation failed: 2 problem\(s\)"):
        call_command(
            "schemaops", "validate", "--database", "runner", stderr=err, stdout=StringIO()
        )
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ops:0001: the file changed")
    assert lines[1].startswith("ops:0002: pending, but older than version 3")


def test_validate_exits_cleanly_when_all_is_well(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE clean (id int);")
    scripts.run("migrate")
    assert "OK: 1 script(s), no problems." in scripts.run("validate")


def test_missing_file_stops_migrate_unless_allowed(scripts: ScriptFolder) -> None:
    gone = scripts.write("0001_gone.sql", "CREATE TABLE gone (id int);")
    scripts.run("migrate")
    gone.unlink()
    scripts.write("0002_next.sql", "CREATE TABLE after_gone (id int);")
    with pytest.raises(CommandError, match="ops:0001: applied, but its file is gone"):
        scripts.run("migrate")
    scripts.run("migrate", "--allow-missing")
    assert table_exists("after_gone")


def test_out_of_order_script_stops_migrate_unless_the_setting_allows_it(
    scripts: ScriptFolder, settings: object
) -> None:
    scripts.write("0002_b.sql", "CREATE TABLE ob (id int);")
    scripts.run("migrate")
    scripts.write("0001_a.sql", "CREATE TABLE oa (id int);")
    with pytest.raises(CommandError, match="ops:0001: pending, but older than version 2"):
        scripts.run("migrate")
    assert not table_exists("oa")
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "ALLOW_OUT_OF_ORDER": True}  # type: ignore[attr-defined]
    scripts.run("migrate")
    assert table_exists("oa")


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("0002_bad.sql", b"SELECT '\xff\xfe';", r"0002_bad.sql:1: not valid UTF-8"),
        ("0002_bad.sql", b"-- nothing here\n", r"0002_bad.sql: the script has no SQL statement"),
        ("0002_bad.sql", b"-- migrate:down\nDROP TABLE x;\n", r"only a -- migrate:down section"),
        (
            "0002_bad.sql",
            b"-- schemaops: atomc=false\nSELECT 1;",
            r"0002_bad.sql:1: unknown directive 'atomc'",
        ),
        (
            "0001_dupe.sql",
            b"SELECT 1;",
            r"0001_(ok|dupe).sql: version 0001 is also used by 0001_(ok|dupe).sql",
        ),
        ("add_thing.sql", b"SELECT 1;", r"add_thing.sql: the name is not NNNN_slug.sql"),
    ],
    ids=[
        "invalid-utf8",
        "empty",
        "only-down",
        "unknown-directive",
        "duplicate-version",
        "bad-name",
    ],
)
def test_bad_input_is_refused_with_file_and_reason_and_nothing_is_applied(
    scripts: ScriptFolder, filename: str, content: bytes, expected: str
) -> None:
    scripts.write("0001_ok.sql", "CREATE TABLE good_one (id int);")
    (scripts.path / filename).write_bytes(content)
    with pytest.raises(CommandError, match=expected):
        scripts.run("migrate")
    assert not table_exists("good_one")
    assert rows() == []


def test_status_json_lists_scripts_with_their_state(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE sa (id int);")
    scripts.run("migrate")
    scripts.write("0002_b.sql", "CREATE TABLE sb (id int);")
    data = json.loads(scripts.run("status", "--format", "json"))
    ops = [s for s in data["scripts"] if s["location"] == "ops"]
    assert [(s["version"], s["name"], s["state"]) for s in ops] == [
        ("0001", "a", "applied"),
        ("0002", "b", "pending"),
    ]
    assert ops[0]["applied_at"] is not None
    assert ops[1]["applied_at"] is None
    assert len(ops[0]["checksum"]) == 64


def test_status_shows_every_state(scripts: ScriptFolder) -> None:
    scripts.write("0001_applied.sql", "CREATE TABLE st1 (id int);")
    scripts.write("0002_changed.sql", "CREATE TABLE st2 (id int);")
    scripts.write("0003_missing.sql", "CREATE TABLE st3 (id int);")
    scripts.run("migrate")
    scripts.write("0004_baselined.sql", "CREATE TABLE st4 (id int);")
    scripts.run("baseline", "ops:0004")
    scripts.write(
        "0005_reverted.sql",
        "-- migrate:up\nCREATE TABLE st5 (id int);\n-- migrate:down\nDROP TABLE st5;",
    )
    scripts.run("migrate")
    scripts.write("0002_changed.sql", "CREATE TABLE st2 (id bigint);")
    (scripts.path / "0003_missing.sql").unlink()
    scripts.write("0006_failed.sql", "SELECT 1/0;")
    scripts.write("0007_pending.sql", "SELECT 1;")
    with pytest.raises(CommandError):
        scripts.run("migrate", "--allow-changed", "--allow-missing")
    scripts.run("rollback", "ops", "--steps", "1")
    states = {
        s["version"]: s["state"]
        for s in json.loads(scripts.run("status", "--format", "json"))["scripts"]
        if s["location"] == "ops"
    }
    assert states == {
        "0001": "applied",
        "0002": "changed",
        "0003": "missing",
        "0004": "baselined",
        "0005": "reverted",
        "0006": "failed",
        "0007": "pending",
    }


def test_rollback_runs_down_sections_newest_first(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_a.sql", "-- migrate:up\nCREATE TABLE ra (id int);\n-- migrate:down\nDROP TABLE ra;"
    )
    scripts.write("0002_b.up.sql", "CREATE TABLE rb (id int);")
    scripts.write("0002_b.down.sql", "DROP TABLE rb;")
    scripts.run("migrate")
    output = scripts.run("rollback", "ops", "--to", "0")
    assert output.index("Reverting ops:0002") < output.index("Reverting ops:0001")
    assert not table_exists("ra")
    assert not table_exists("rb")
    assert rows()[-2:] == [("0002", "down", "reverted"), ("0001", "down", "reverted")]
    states = [s["state"] for s in json.loads(scripts.run("status", "--format", "json"))["scripts"]]
    assert states == ["reverted", "reverted"]
    scripts.run("migrate")
    assert table_exists("ra")
    assert table_exists("rb")


def test_rollback_refuses_a_script_without_down_section(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_a.sql", "-- migrate:up\nCREATE TABLE na (id int);\n-- migrate:down\nDROP TABLE na;"
    )
    scripts.write("0002_b.sql", "CREATE TABLE nb (id int);")
    scripts.run("migrate")
    with pytest.raises(CommandError, match=r"ops:0002 \(.*0002_b.sql\) has no down section"):
        scripts.run("rollback", "--steps", "2")
    assert table_exists("na")
    assert table_exists("nb")


def test_repair_baseline_and_fake_append_rows_and_edit_none(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE ba (id int);")
    scripts.write("0002_b.sql", "CREATE TABLE bb (id int);")
    scripts.write("0003_c.sql", "CREATE TABLE bc (id int);")
    before = list(HistoryEntry.objects.using("runner").values_list("id", "outcome"))
    scripts.run("baseline", "ops:0002", "--reason", "existing database")
    scripts.run("fake", "ops:0003")
    scripts.run("repair", "ops:0003", "--as", "pending", "--reason", "run it for real")
    after = list(HistoryEntry.objects.using("runner").values_list("id", "outcome"))
    assert after[: len(before)] == before
    assert rows() == [
        ("0001", "up", "baselined"),
        ("0002", "up", "baselined"),
        ("0003", "up", "faked"),
        ("0003", "down", "repaired"),
    ]
    scripts.run("migrate")
    assert table_exists("bc")
    assert not table_exists("ba")


def test_repair_needs_a_reason(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "SELECT 1;")
    with pytest.raises(CommandError, match="--reason must say why"):
        scripts.run("repair", "ops:0001", "--as", "applied", "--reason", " ")


def test_unknown_script_reference_lists_locations(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "SELECT 1;")
    with pytest.raises(CommandError, match=r"No script 'nope:0001'\. Locations: ops"):
        scripts.run("fake", "nope:0001")


def test_history_json_is_newest_first_with_documented_keys(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "CREATE TABLE ha (id int);")
    scripts.write("0002_b.sql", "SELECT 1/0;")
    with pytest.raises(CommandError):
        scripts.run("migrate")
    history = json.loads(scripts.run("history", "--format", "json", "--location", "ops"))
    assert [(h["version"], h["outcome"]) for h in history] == [
        ("0002", "failed"),
        ("0001", "applied"),
    ]
    assert {
        "tier",
        "location",
        "version",
        "name",
        "direction",
        "outcome",
        "started_at",
        "duration_ms",
        "error",
    } <= set(history[0])
    assert "division by zero" in history[0]["error"]


def test_depends_on_another_script_reorders_the_run(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_uses.sql", "-- schemaops: depends=ops:0002\nINSERT INTO dep_table VALUES (1);"
    )
    scripts.write("0002_creates.sql", "CREATE TABLE dep_table (id int);")
    scripts.run("migrate", "--allow-out-of-order")
    assert [r[0] for r in rows()] == ["0002", "0001"]


def test_new_writes_the_next_version_with_header_and_sections(scripts: ScriptFolder) -> None:
    scripts.write("0007_a.sql", "SELECT 1;")
    output = scripts.run("new", "Add GIN index to logs", "--location", "ops", "--author", "ana")
    path = scripts.path / "0008_add_gin_index_to_logs.sql"
    assert f"Created {path}" in output
    text = path.read_text()
    assert text.startswith("-- Purpose: Add GIN index to logs\n-- Author: ana\n-- Date: ")
    assert "-- migrate:up\n" in text
    assert "-- migrate:down\n" in text


def test_new_follows_timestamp_versions(scripts: ScriptFolder) -> None:
    scripts.write("20240103150000_old.sql", "SELECT 1;")
    scripts.run("new", "next one", "--location", "ops")
    (created,) = [p for p in scripts.path.iterdir() if p.name.endswith("_next_one.sql")]
    assert len(created.name.split("_")[0]) == 14
    assert int(created.name.split("_")[0]) > 20240103150000


def test_new_follows_a_folder_of_up_down_pairs(scripts: ScriptFolder) -> None:
    scripts.write("000002_add_avatar.up.sql", "ALTER TABLE users ADD avatar text;")
    scripts.write("000002_add_avatar.down.sql", "ALTER TABLE users DROP avatar;")
    output = scripts.run("new", "add bio", "--location", "ops")
    up = scripts.path / "000003_add_bio.up.sql"
    down = scripts.path / "000003_add_bio.down.sql"
    assert f"Created {up}" in output
    assert f"Created {down}" in output
    assert up.read_text().startswith("-- Purpose: add bio\n")
    assert "-- migrate:" not in up.read_text()
    assert "Refer to it as ops:000003." in output


def test_new_prints_the_path_relative_to_the_working_directory(
    scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scripts.path.parent)
    output = scripts.run("new", "relative", "--location", "ops")
    assert "Created ops/0001_relative.sql\n" in output


def test_new_into_a_folder_it_cannot_write_says_so(scripts: ScriptFolder, settings: Any) -> None:
    if os.geteuid() == 0:
        # root writes anywhere but in sysfs, whose folders have no .sql files.
        settings_dirs = {"ops": Path("/sys/kernel/mm")}
    else:
        scripts.path.chmod(0o500)
        settings_dirs = {"ops": scripts.path}
    settings.SCHEMAOPS = {**settings.SCHEMAOPS, "SCRIPT_DIRS": settings_dirs}
    try:
        with pytest.raises(CommandError, match=r"Cannot write .*0001_blocked.sql: .*permissions"):
            scripts.run("new", "blocked", "--location", "ops")
    finally:
        scripts.path.chmod(0o700)
