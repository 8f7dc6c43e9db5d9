"""Errors a person can act on: no traceback, the database named when it does not
answer, the registry asked for before it exists, and what PostgreSQL said."""

from __future__ import annotations

import socket

import pytest
from django.core.management.base import CommandError

from schemaops.models import HistoryEntry
from tests.conftest import ScriptFolder, demo_manage

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
