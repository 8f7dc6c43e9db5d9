"""Errors a person can act on: no traceback, the database named when it does not
answer, the registry asked for before it exists, and what PostgreSQL said."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from io import StringIO

import django
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from schemaops.models import HistoryEntry
from tests.conftest import REPO_ROOT, ScriptFolder, demo_manage

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [
        ["schemaops", "status"],
        ["schemaops", "validate"],
        ["schemaops", "history"],
        ["schemaops", "plan"],
        ["schemaops", "migrate"],
        ["schemaops", "lint", "--pending"],
        ["migrate"],
    ],
    ids=lambda command: " ".join(command),
)
def test_a_database_that_does_not_answer_is_one_line_naming_it(command: list[str]) -> None:
    port = closed_port()
    done = demo_manage(*command, database_url=f"postgres://nobody@127.0.0.1:{port}/nowhere")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"Cannot connect to database 'default' (127.0.0.1, port {port}):" in lines[0]
    assert "Connection refused" in lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["repair", "demo:0001", "--as", "applied", "--reason", "checked by hand"],
        ["baseline", "demo:0002", "--reason", "already there"],
        ["fake", "demo:0001", "--reason", "already there"],
    ],
    ids=lambda command: command[0],
)
def test_writing_the_registry_before_it_exists_says_to_migrate_it(
    empty_database: str, command: list[str]
) -> None:
    done = demo_manage("schemaops", *command, database_url=empty_database)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "The schemaops registry is not on database 'default' yet" in done.stderr
    assert "Run: manage.py migrate schemaops --database default" in done.stderr


def test_a_failed_statement_keeps_postgresqls_detail(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_people.sql",
        "CREATE TABLE people (name text);\nINSERT INTO people VALUES ('A'), ('A');",
    )
    scripts.run("migrate")
    scripts.write("0002_unique.sql", "CREATE UNIQUE INDEX people_name ON people (name);")
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    message = str(error.value)
    assert 'could not create unique index "people_name"' in message
    assert "DETAIL: Key (name)=(A) is duplicated." in message
    row = HistoryEntry.objects.using("runner").get(version="0002", outcome="failed")
    assert "DETAIL: Key (name)=(A) is duplicated." in row.error


def test_a_failed_statement_is_placed_where_postgresql_points(scripts: ScriptFolder) -> None:
    path = scripts.write(
        "0001_typo.sql",
        "-- a typo on the third line\nSELECT 1;\nSELECT oid,\n       nope FROM pg_class;",
    )
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    # The statement starts on line 3; PostgreSQL points at "nope" on line 4, column 8.
    assert f'ops:0001 failed at {path}:4:8: column "nope" does not exist' in str(error.value)


def test_history_before_the_registry_exists_says_so(empty_database: str) -> None:
    done = demo_manage("schemaops", "history", database_url=empty_database)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "No history yet: the schemaops registry is not on database 'default'" in done.stdout


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["schemaops", "history", "--limit", "-1"], "argument --limit: -1 is less than 0"),
        (["schemaops", "rollback", "--steps", "0"], "argument --steps: 0 is less than 1"),
        (["schemaops", "history", "--limit", "x"], "argument --limit: 'x' is not a whole number"),
        (["migrate", "--lock-wait", "-5"], "argument --lock-wait: -5 is not zero or more seconds"),
        (
            ["schemaops", "migrate", "--lock-wait", "soon"],
            "argument --lock-wait: 'soon' is not a number of seconds",
        ),
        # Django 5.0+ refuses it in argparse; on 4.2, schemaops's migrate does.
        (
            ["migrate", "--database", "nope"],
            (
                "argument --database: invalid choice: 'nope'"
                if django.VERSION >= (5, 0)
                else "Unknown database 'nope'. Choose one of: 'default'."
            ),
        ),
        (["schemaops", "status", "--database", "nope"], "Unknown database 'nope'"),
        (["schemaops", "rollback", "nope"], "No location 'nope' with scripts."),
        (
            ["schemaops", "lint", "/no/such/folder"],
            "'/no/such/folder' is neither an installed app's label nor a script location",
        ),
        (["schemaops", "new", "thing", "--location", "nope"], "No location 'nope' (known: demo)"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_a_bad_value_is_one_message_naming_it(
    migrated_database: str, command: list[str], said: str
) -> None:
    done = demo_manage(*command, database_url=migrated_database)
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert said in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["schemaops", "history", "--limit", "0"],
        ["schemaops", "status", "-v", "2"],
        ["migrate", "--plan"],
    ],
    ids=lambda command: " ".join(command),
)
def test_a_reader_that_stops_early_is_no_traceback(
    migrated_database: str, command: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=migrated_database, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), *command],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before anything is written (`| head -0`)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert b"Traceback" not in err
    assert b"BrokenPipeError" not in err


# (status reads no pending script's content, so it lists the script as pending.)
@pytest.mark.parametrize("command", [["validate"], ["migrate"], ["lint", "ops"]])
def test_a_script_that_cannot_be_read_is_named(scripts: ScriptFolder, command: list[str]) -> None:
    scripts.write("0001_fine.sql", "SELECT 1;")
    (scripts.path / "0002_folder.sql").mkdir()  # listed as a script; reading it fails
    out = StringIO()
    try:
        call_command("schemaops", *command, "--database", "runner", stdout=out, stderr=out)
    except CommandError as error:
        out.write(str(error))
    said = " ".join(out.getvalue().split())
    assert "0002_folder.sql: cannot read it (Is a directory). Check its permissions." in said
