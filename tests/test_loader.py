"""Reading script files: names, layouts, sections, directives and checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from schemaops.exceptions import ScriptError
from schemaops.scripts import loader
from schemaops.scripts.directives import Directives, Suppression
from schemaops.scripts.script import Script


@pytest.fixture
def location(tmp_path: Path) -> loader.Location:
    return loader.Location("ops", tmp_path)


def write(location: loader.Location, name: str, text: str | bytes) -> Path:
    path = location.path / name
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


def only(location: loader.Location) -> Script:
    (script,) = loader.scripts_in(location)
    return script


def test_single_file_with_dbmate_sections(location: loader.Location) -> None:
    write(
        location,
        "0003_add.sql",
        "-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\nDROP TABLE t;\n",
    )
    script = only(location)
    assert (script.id, script.name, script.number) == ("ops:0003", "add", 3)
    parsed = script.parsed
    assert [s.text for s in parsed.up.statements] == ["CREATE TABLE t (id int)"]
    assert parsed.down is not None
    assert [(s.text, s.line) for s in parsed.down.statements] == [("DROP TABLE t", 4)]


def test_file_without_markers_is_all_up_and_has_no_down(location: loader.Location) -> None:
    write(location, "0001_a.sql", "SELECT 1;\nSELECT 2;")
    parsed = only(location).parsed
    assert len(parsed.up.statements) == 2
    assert parsed.down is None


def test_golang_migrate_pair(location: loader.Location) -> None:
    write(location, "000002_add_user_avatar.up.sql", "ALTER TABLE u ADD COLUMN avatar text;")
    write(location, "000002_add_user_avatar.down.sql", "ALTER TABLE u DROP COLUMN avatar;")
    script = only(location)
    assert (script.version, script.name, script.is_pair) == ("000002", "add_user_avatar", True)
    assert script.parsed.down is not None


def test_timestamp_versions_sort_numerically(location: loader.Location) -> None:
    write(location, "20240103150000_b.sql", "SELECT 1;")
    write(location, "20231231000000_a.sql", "SELECT 1;")
    assert [s.name for s in loader.scripts_in(location)] == ["a", "b"]


def test_other_files_are_ignored(location: loader.Location) -> None:
    write(location, "README.md", "notes")
    write(location, ".0001_hidden.sql", "SELECT 1;")
    assert loader.scripts_in(location) == []


def test_checksum_ignores_bom_and_crlf(location: loader.Location, tmp_path: Path) -> None:
    write(location, "0001_a.sql", b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")
    expected = hashlib.sha256(b"SELECT 1;\nSELECT 2;\n").hexdigest()
    assert only(location).checksum == expected


def test_pair_checksum_covers_both_files(location: loader.Location) -> None:
    write(location, "0001_a.up.sql", "SELECT 1;")
    down = write(location, "0001_a.down.sql", "SELECT 2;")
    before = only(location).checksum
    down.write_text("SELECT 3;")
    assert only(location).checksum != before


def test_directives_are_read_from_the_header(location: loader.Location) -> None:
    write(
        location,
        "0001_a.sql",
        "-- schemaops: atomic=false lock_timeout=500ms statement_timeout=2min retries=3\n"
        "-- schemaops: depends=demo.0003_smart,ops:0000\n"
        '-- schemaops: ignore=ban-drop-column reason="column unused since v2"\n'
        "SELECT 1;\n",
    )
    parsed = only(location).parsed
    assert parsed.directives == Directives(
        atomic=False,
        depends=("demo.0003_smart", "ops:0000"),
        lock_timeout="500ms",
        statement_timeout="2min",
        retries=3,
    )
    assert parsed.suppressions == (
        Suppression(("ban-drop-column",), "column unused since v2", 3, True),
    )
    assert parsed.atomic is False


def test_ignore_above_a_statement_is_a_statement_suppression(location: loader.Location) -> None:
    write(
        location,
        "0001_a.sql",
        'SELECT 1;\n-- schemaops: ignore=ban-drop-table reason="x"\nDROP TABLE t;',
    )
    (suppression,) = only(location).parsed.suppressions
    assert (suppression.line, suppression.in_header) == (2, False)


def test_concurrent_index_makes_a_script_non_atomic(location: loader.Location) -> None:
    write(location, "0001_a.sql", "-- index\nCREATE INDEX CONCURRENTLY i ON t (c);")
    up = only(location).parsed.up
    assert up.atomic is False
    assert up.non_transactional == "line 2: CREATE INDEX CONCURRENTLY"


@pytest.mark.parametrize(
    "statement",
    [
        "DROP INDEX CONCURRENTLY i",
        "REINDEX (VERBOSE) INDEX CONCURRENTLY i",
        "VACUUM ANALYZE t",
        "ALTER SYSTEM SET work_mem = '64MB'",
        "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
    ],
)
def test_statements_that_cannot_run_in_a_transaction(
    location: loader.Location, statement: str
) -> None:
    write(location, "0001_a.sql", statement + ";")
    assert only(location).parsed.atomic is False


def test_dbmate_transaction_false_option(location: loader.Location) -> None:
    write(location, "0001_a.sql", "-- migrate:up transaction:false\nSELECT 1;")
    assert only(location).parsed.atomic is False


def test_begin_commit_wrapper_is_stripped(location: loader.Location) -> None:
    write(location, "0001_a.sql", "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n")
    up = only(location).parsed.up
    assert [s.text for s in up.statements] == ["CREATE TABLE t (id int)"]
    assert up.atomic is True


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "0001_a.sql",
            "SELECT 1;\nCOMMIT;\nSELECT 2;",
            r"0001_a.sql:2: COMMIT inside the up section",
        ),
        ("0001_a.sql", "-- schemaops: atomic=true\nVACUUM t;", r"atomic=true, but line 2: VACUUM"),
        ("0001_a.sql", "-- schemaops: retries=many\nSELECT 1;", r"0001_a.sql:1: retries='many'"),
        (
            "0001_a.sql",
            "-- schemaops: lock_timeout=soon\nSELECT 1;",
            r"lock_timeout='soon' is not a duration",
        ),
        (
            "0001_a.sql",
            "-- schemaops: depends=nonsense\nSELECT 1;",
            r"depends='nonsense' is neither",
        ),
        (
            "0001_a.sql",
            '-- schemaops: reason="open\nSELECT 1;',
            r"0001_a.sql:1: cannot read the directive",
        ),
        (
            "0001_a.sql",
            "SELECT 1;\n-- schemaops: atomic=false\nSELECT 2;",
            r"0001_a.sql:2: directive 'atomic' must be in the header",
        ),
        (
            "0001_a.sql",
            "SELECT 1;\n-- migrate:up\nSELECT 2;",
            r"0001_a.sql:1: SQL before the first -- migrate: marker",
        ),
        (
            "0001_a.sql",
            "-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;",
            r"0001_a.sql:3: a second -- migrate:up",
        ),
        (
            "0001_a.sql",
            "-- migrate:up\n-- migrate:down\nSELECT 1;",
            r"the -- migrate:up section has no SQL",
        ),
        ("0001_a.sql", "SELECT $$ open;", r"0001_a.sql:1: unterminated dollar-quoted string"),
    ],
)
def test_malformed_scripts_name_file_line_and_fix(
    location: loader.Location, name: str, content: str, message: str
) -> None:
    write(location, name, content)
    with pytest.raises(ScriptError, match=message):
        only(location).parsed  # noqa: B018


def test_down_file_without_up_file_is_refused(location: loader.Location) -> None:
    write(location, "0001_a.down.sql", "SELECT 1;")
    with pytest.raises(ScriptError, match=r"0001_a.down.sql: a .down.sql without 0001_a.up.sql"):
        loader.scripts_in(location)


def test_same_version_written_differently_is_a_duplicate(location: loader.Location) -> None:
    write(location, "0003_a.sql", "SELECT 1;")
    write(location, "3_b.sql", "SELECT 1;")
    with pytest.raises(ScriptError, match=r"version 3 is also used by 0003_a\.sql"):
        loader.scripts_in(location)


def test_single_file_and_pair_with_one_version_is_a_duplicate(location: loader.Location) -> None:
    write(location, "0003_a.sql", "SELECT 1;")
    write(location, "0003_a.up.sql", "SELECT 1;")
    with pytest.raises(ScriptError, match="is also used by"):
        loader.scripts_in(location)


def test_script_dirs_name_clash_with_an_app_is_refused(settings: object, tmp_path: Path) -> None:
    settings.SCHEMAOPS = {"SCRIPT_DIRS": {"demo": tmp_path}}  # type: ignore[attr-defined]
    with pytest.raises(ScriptError, match="already the app 'demo'"):
        loader.locations()


def test_script_dirs_missing_folder_is_refused(settings: object, tmp_path: Path) -> None:
    settings.SCHEMAOPS = {"SCRIPT_DIRS": {"sql": tmp_path / "nope"}}  # type: ignore[attr-defined]
    with pytest.raises(
        ScriptError, match=r"SCHEMAOPS\['SCRIPT_DIRS'\]\['sql'\] = .* is not a folder"
    ):
        loader.locations()


def test_script_dirs_as_a_list_names_locations_after_folders(
    settings: object, tmp_path: Path
) -> None:
    (tmp_path / "sql").mkdir()
    settings.SCHEMAOPS = {"SCRIPT_DIRS": [tmp_path / "sql"]}  # type: ignore[attr-defined]
    assert loader.Location("sql", tmp_path / "sql") in loader.locations()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "\\set ON_ERROR_STOP on\nCREATE TABLE t (id int);\n",
            r"0001_a.sql:1: '\\set ON_ERROR_STOP on' is a psql meta-command\. schemaops runs "
            "a script through a database connection",
        ),
        (
            "-- migrate:up\nCREATE TABLE t (id int);\n\\i more.sql\n"
            "-- migrate:down\nDROP TABLE t;",
            r"0001_a.sql:3: '\\i more.sql' is a psql meta-command",
        ),
        (
            "CREATE TABLE t (a int);\nCOPY t (a) FROM stdin;\n1\n\\.\n",
            r"0001_a.sql:3: COPY \.\.\. FROM STDIN data\. .* insert the rows with INSERT",
        ),
    ],
)
def test_a_script_with_what_only_psql_runs_is_refused_at_its_line(
    location: loader.Location, content: str, message: str
) -> None:
    write(location, "0001_a.sql", content)
    with pytest.raises(ScriptError, match=message):
        only(location).parsed  # noqa: B018


def test_a_block_comment_left_open_at_the_end_of_a_script_is_refused(
    location: loader.Location,
) -> None:
    write(location, "0001_a.sql", "CREATE TABLE t (id int);\n/* TODO: the index\n")
    with pytest.raises(
        ScriptError, match=r"0001_a.sql:2: unterminated block comment starting here\. Close it\."
    ):
        only(location).parsed  # noqa: B018


def test_a_nul_byte_is_refused_with_its_line_and_offset_in_the_file(
    location: loader.Location,
) -> None:
    write(location, "0001_a.sql", b"SELECT 1;\r\nSELECT '\x00';\r\n")
    with pytest.raises(
        ScriptError, match=r"0001_a.sql:2: a NUL byte \(0x00\) at offset 19: PostgreSQL refuses"
    ):
        only(location).parsed  # noqa: B018
