"""How the console script reads its inputs: plain files as psql reads them, folders
whose files only look like scripts, any named file, and bad input in every format."""

from __future__ import annotations

import json
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from schemaops.cli import main
from tests.conftest import ScriptFolder


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def lint_json(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[tuple[str, str, int]], str]:
    """Exit status, (rule, path, line) of each finding, and stderr."""
    status = main(["lint", "--format", "json", *args])
    out, err = capsys.readouterr()
    found = [(f["rule"], f["path"], f["line"]) for f in json.loads(out)["findings"]]
    return status, found, err


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_a_meta_command_line_does_not_hide_the_statement_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "deploy.sql",
        r"""
        \set ON_ERROR_STOP on
        CREATE INDEX orders_status_idx ON orders (status);
        \connect other
        DROP TABLE legacy;
        """,
    )
    status, found, err = lint_json(capsys, "deploy.sql")
    assert (status, err) == (1, "")
    assert found == [
        ("require-concurrent-index-creation", "deploy.sql", 2),
        ("ban-drop-table", "deploy.sql", 4),
    ]


def test_copy_data_is_not_read_as_sql_and_the_statement_after_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "dump.sql",
        "COPY public.orders (id, note) FROM stdin;\n"
        "1\tDROP TABLE orders;\n"
        "2\tit's\n"
        "\\.\n"
        "CREATE INDEX orders_note_idx ON orders (note);\n",
    )
    status, found, _ = lint_json(capsys, "dump.sql")
    assert status == 1
    assert found == [("require-concurrent-index-creation", "dump.sql", 5)]


def test_a_nul_byte_is_an_invalid_file_finding_naming_its_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "nul.sql", b"SELECT 1;\nSELECT '\x00';\n")
    status, found, err = lint_json(capsys, "nul.sql")
    assert status == 2
    assert found == [("invalid-file", "nul.sql", 2)]
    assert "nul.sql:2: a NUL byte (0x00) at offset 18" in err


def test_a_block_comment_left_open_is_reported_like_an_open_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "open.sql", "SELECT 1;\n/* TODO: the index\n")
    status = main(["lint", "open.sql"])
    out, err = capsys.readouterr()
    assert status == 2
    assert err == (
        "schemaops lint: open.sql:2: unterminated block comment starting here. Close it.\n"
    )
    assert out == ""


def test_a_folder_whose_scripts_share_versions_is_linted_as_plain_files_once_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """psql delta folders (matrix-synapse's) name files NN_slug.sql and reuse numbers."""
    write(tmp_path, "delta/10_b.sql", "DROP TABLE b;\n")
    write(tmp_path, "delta/03_x.sql", "CREATE INDEX x_idx ON x (c);\n")
    write(tmp_path, "delta/03_y.sql", "\\set ON_ERROR_STOP on\nCREATE TABLE y (id text);\n")
    status, found, err = lint_json(capsys, "delta")
    assert status == 1
    assert found == [
        ("require-concurrent-index-creation", "delta/03_x.sql", 1),
        ("ban-drop-table", "delta/10_b.sql", 1),
    ]
    assert err == (
        "schemaops lint: note: delta: 03_x.sql and 03_y.sql share a version, so these are not "
        "schemaops scripts: the folder's .sql files are linted as plain psql files, in name "
        "order. (If they are scripts, give one of them the next free version.)\n"
    )


def test_a_named_file_is_linted_whatever_its_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "02_locks.sql.postgres", "CREATE INDEX l_idx ON locks (c);\n")
    status, found, err = lint_json(capsys, "02_locks.sql.postgres")
    assert (status, err) == (1, "")
    assert found == [("require-concurrent-index-creation", "02_locks.sql.postgres", 1)]


def test_a_folder_without_sql_files_names_the_files_it_could_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "delta/02_locks.sql.postgres", "SELECT 1;\n")
    assert main(["lint", "delta"]) == 2
    assert capsys.readouterr().err == (
        "schemaops lint: delta: no .sql file in this folder. Files such as "
        "02_locks.sql.postgres are linted when named on the command line.\n"
    )


def test_a_missing_path_prints_no_summary_of_zero_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", "missing.sql"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "schemaops lint: missing.sql: no such file or folder. Check the path.\n"


def test_the_text_summary_counts_what_was_not_linted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "ok.sql", "SELECT 1;\n")
    assert main(["lint", "ok.sql", "missing.sql"]) == 2
    assert capsys.readouterr().out == "No findings in 1 file; 1 not linted.\n"


def test_bad_input_is_a_github_annotation_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "latin1.sql", b"SELECT 1;\nSELECT 'caf\xe9';\n")
    assert main(["lint", "--format", "github", "latin1.sql"]) == 2
    out, err = capsys.readouterr()
    assert out == (
        "::error file=latin1.sql,line=2,col=1,title=invalid-file::not valid UTF-8 (byte 0xe9 at "
        "offset 21). Save the file as UTF-8. Hint: Fix the file as the message says, or leave "
        "it out: it was not linted.\n"
    )
    assert "latin1.sql:2: not valid UTF-8" in err


def test_bad_input_is_a_sarif_result_with_its_location(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["lint", "--format", "sarif", "missing.sql"]) == 2
    (sarif_run,) = json.loads(capsys.readouterr().out)["runs"]
    (result,) = sarif_run["results"]
    assert result["ruleId"] == "invalid-file"
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "missing.sql"},
        "region": {"startLine": 1, "startColumn": 1},
    }
    (described,) = sarif_run["tool"]["driver"]["rules"]
    assert described["helpUri"].endswith("/rules/invalid-file/")


def test_ignoring_rules_does_not_hide_an_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "open.sql", "SELECT 'open;\n")
    status, found, _ = lint_json(capsys, "--select", "prefer-text-field", "open.sql")
    assert (status, found) == (2, [("invalid-file", "open.sql", 1)])


@pytest.mark.django_db(transaction=True, databases=["default", "runner"])
def test_manage_lint_reports_a_script_it_refuses_as_a_finding_too(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_a.sql", "\\set ON_ERROR_STOP on\nCREATE TABLE t (id bigint);\n")
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("schemaops", "lint", "ops", "--format", "json", stdout=out)
    assert raised.value.returncode == 2
    assert "0001_a.sql:1: '\\set ON_ERROR_STOP on' is a psql meta-command" in str(raised.value)
    (finding,) = json.loads(out.getvalue())["findings"]
    assert (finding["rule"], finding["line"]) == ("invalid-file", 1)
    assert finding["path"].endswith("ops/0001_a.sql")
