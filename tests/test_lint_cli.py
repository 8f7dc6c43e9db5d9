"""The console script: ``schemaops lint PATH...`` and ``python -m schemaops lint``,
with no Django settings at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from schemaops.cli import main
from tests.conftest import REPO_ROOT

SCHEMAOPS = Path(sys.executable).with_name("schemaops")


def run(*args: str, cwd: Path, as_user: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """The installed console script, with no Django settings in the environment
    (``as_user``: a command to run it through, such as setpriv)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [*as_user, str(SCHEMAOPS), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_console_script_runs_without_django_settings(tmp_path: Path) -> None:
    write(tmp_path, "bad.sql", "SELECT 1;\nCREATE INDEX i ON t (c);\n")
    completed = run("lint", "bad.sql", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.splitlines()[0] == (
        "bad.sql:2:1: require-concurrent-index-creation: CREATE INDEX without CONCURRENTLY "
        "blocks writes to the table while it builds. (on table t)"
    )
    assert completed.stdout.splitlines()[1].startswith("    hint: CREATE INDEX CONCURRENTLY")
    assert completed.stdout.splitlines()[-1] == "1 error, 0 warnings in 1 file."


def test_python_dash_m_is_the_same_command(tmp_path: Path) -> None:
    write(tmp_path, "ok.sql", "CREATE INDEX CONCURRENTLY i ON t (c);\n")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-m", "schemaops", "lint", "ok.sql"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "No findings in 1 file."


def test_a_folder_is_one_sequence_in_version_order(tmp_path: Path) -> None:
    """0002 validates the CHECK that 0001 added NOT VALID; 0010 (after 0002 by
    version, before it by name) may then SET NOT NULL without a scan."""
    folder = tmp_path / "sql"
    write(folder, "0010_not_null.sql", "ALTER TABLE accounts ALTER COLUMN tz SET NOT NULL;\n")
    write(folder, "0002_validate.sql", "ALTER TABLE accounts VALIDATE CONSTRAINT tz_nn;\n")
    write(
        folder,
        "0001_check.sql",
        "ALTER TABLE accounts ADD CONSTRAINT tz_nn CHECK (tz IS NOT NULL) NOT VALID;\n",
    )
    assert main(["lint", str(folder)]) == 0
    # Alone, the SET NOT NULL is a full scan under ACCESS EXCLUSIVE.
    assert main(["lint", str(folder / "0010_not_null.sql")]) == 1
    # And on PostgreSQL 11 it always is.
    assert main(["lint", "--pg-version", "11", str(folder)]) == 1


def test_json_output_has_the_documented_shape(tmp_path: Path) -> None:
    write(
        tmp_path,
        "m.sql",
        """
        -- schemaops: ignore=ban-drop-column reason="column unused since v41"
        ALTER TABLE t DROP COLUMN old;
        ALTER TABLE t ADD COLUMN n int;
        UPDATE t SET n = 0;
    """,
    )
    completed = run("lint", "--format", "json", "m.sql", cwd=tmp_path)
    assert completed.returncode == 0  # warnings only
    document = json.loads(completed.stdout)
    assert [(f["rule"], f["line"], f["column"]) for f in document["findings"]] == [
        ("prefer-bigint-over-int", 3, 26),
        ("unbatched-backfill", 4, 1),
    ]
    assert document["findings"][0] == {
        "rule": "prefer-bigint-over-int",
        "severity": "warning",
        "path": "m.sql",
        "line": 3,
        "column": 26,
        "message": "A 32-bit integer key runs out at 2,147,483,647. (column n)",
        "hint": "Use bigint (BigAutoField, DEFAULT_AUTO_FIELD = BigAutoField) for ids and "
        "counters.",
    }
    assert document["summary"] == {
        "errors": 0,
        "warnings": 2,
        "units": 1,
        "by_rule": {"prefer-bigint-over-int": 1, "unbatched-backfill": 1},
    }


def test_github_annotations_escape_their_fields(tmp_path: Path) -> None:
    write(tmp_path, "a,b:c.sql", "DROP INDEX i;\n")
    completed = run("lint", "--format", "github", "a,b:c.sql", cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stdout.startswith(
        "::error file=a%2Cb%3Ac.sql,line=1,col=1,title=require-concurrent-index-deletion::"
        "DROP INDEX without CONCURRENTLY"
    )


def test_sarif_output_is_sarif_2_1_0(tmp_path: Path) -> None:
    write(tmp_path, "s.sql", "DROP INDEX i;\nCREATE TABLE t (id serial PRIMARY KEY);\n")
    completed = run("lint", "--format", "sarif", "s.sql", cwd=tmp_path)
    log = json.loads(completed.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = log["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert sarif_run["tool"]["driver"]["name"] == "schemaops"
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "s.sql"
        assert location["region"]["startLine"] >= 1
    assert {r["ruleId"] for r in sarif_run["results"]} == {
        "require-concurrent-index-deletion",
        "prefer-bigint-over-int",
        "prefer-identity",
    }
    assert all(r["helpUri"].endswith(f"/rules/{r['id']}/") for r in rules)


def test_markdown_output_is_a_table_for_a_pull_request(tmp_path: Path) -> None:
    write(tmp_path, "a|b.sql", "DROP INDEX i; -- one | two\nCREATE TABLE t (id int);\n")
    completed = run("lint", "--format", "markdown", "a|b.sql", cwd=tmp_path)
    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    assert lines[0] == "**schemaops lint**: 1 error, 1 warning in 1 file."
    assert lines[2:4] == ["| where | rule | message | hint |", "| --- | --- | --- | --- |"]
    rows = lines[4:]
    assert len(rows) == 2
    assert rows[0].startswith(
        "| `a\\|b.sql:1` | error: [require-concurrent-index-deletion]"
        "(https://django-schemaops.readthedocs.io/en/latest/rules/require-concurrent-index-deletion/)"
    )
    # Each row has its four cells: no unescaped pipe inside one.
    for row in rows:
        assert len(row.replace("\\|", "").split("|")) == 6
    assert "warning: [prefer-bigint-over-int]" in rows[1]


def test_markdown_output_without_findings_is_the_summary_alone(tmp_path: Path) -> None:
    write(tmp_path, "ok.sql", "CREATE TABLE t (id bigint);\n")
    completed = run("lint", "--format", "markdown", "ok.sql", cwd=tmp_path)
    assert completed.returncode == 0
    assert completed.stdout == "**schemaops lint**: No findings in 1 file.\n"


def test_pyproject_settings_and_options(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
        [tool.schemaops.lint]
        ignore = ["require-concurrent-index-deletion"]
        pg-version = 10
    """,
    )
    write(tmp_path, "sub/x.sql", "DROP INDEX i;\nALTER TABLE t ADD COLUMN c text DEFAULT 'x';\n")
    # From a subfolder: the nearest pyproject.toml above applies (PG 10: the default
    # rewrites the table; the DROP INDEX finding is ignored).
    completed = run("lint", "--format", "json", "x.sql", cwd=tmp_path / "sub")
    assert [f["rule"] for f in json.loads(completed.stdout)["findings"]] == [
        "adding-field-with-default"
    ]
    # Options win: PG 14 makes the default instant.
    completed = run(
        "lint", "--format", "json", "--pg-version", "14", "x.sql", cwd=tmp_path / "sub"
    )
    assert json.loads(completed.stdout)["findings"] == []
    # --select narrows to the named rules.
    completed = run(
        "lint", "--format", "json", "--select", "prefer-text-field", "x.sql", cwd=tmp_path / "sub"
    )
    assert completed.returncode == 0
    assert json.loads(completed.stdout)["findings"] == []


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[tool.schemaops.lint]\nselect = ["no-such-rule"]\n', "unknown rule 'no-such-rule'"),
        ("[tool.schemaops.lint]\npg_version = 'new'\n", "is not a PostgreSQL major version"),
        ("[tool.schemaops.lint]\nexclude = []\n", "unknown key 'exclude'"),
        ("[tool.schemaops.lint\n", "cannot read it as TOML"),
    ],
)
def test_bad_settings_exit_2_naming_the_file(tmp_path: Path, pyproject: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    write(tmp_path, "x.sql", "SELECT 1;\n")
    completed = run("lint", "x.sql", cwd=tmp_path)
    assert completed.returncode == 2
    assert "pyproject.toml" in completed.stderr
    assert message in completed.stderr


def test_bad_input_exits_2_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "latin1.sql").write_bytes(b"SELECT 'caf\xe9';\n")
    write(tmp_path, "bad.sql", "CREATE INDEX i ON t (c);\n")
    completed = run("lint", "missing.sql", "latin1.sql", "bad.sql", cwd=tmp_path)
    assert completed.returncode == 2
    assert "missing.sql: no such file or folder" in completed.stderr
    assert "latin1.sql:1: not valid UTF-8" in completed.stderr
    # What could be read is still linted and reported.
    assert "bad.sql:1:1: require-concurrent-index-creation" in completed.stdout
    assert run("lint", cwd=tmp_path).returncode == 2  # usage: no PATH
    assert run("lint", "--format", "xml", "bad.sql", cwd=tmp_path).returncode == 2


def test_plain_files_follow_explicit_transactions(tmp_path: Path) -> None:
    """A file not named NNNN_slug runs as psql runs it: autocommit unless BEGIN."""
    write(
        tmp_path,
        "plain.sql",
        """
        ALTER TABLE t ADD CONSTRAINT k CHECK (c > 0) NOT VALID;
        ALTER TABLE t VALIDATE CONSTRAINT k;
        BEGIN;
        ALTER TABLE t ADD CONSTRAINT k2 CHECK (c > 1) NOT VALID;
        ALTER TABLE t VALIDATE CONSTRAINT k2;
        COMMIT;
        CREATE INDEX CONCURRENTLY i ON t (c);
    """,
    )
    completed = run("lint", "--format", "json", "plain.sql", cwd=tmp_path)
    findings = json.loads(completed.stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in findings] == [
        ("validate-constraint-in-same-transaction", 5)
    ]


def test_demo_scripts_lint_clean() -> None:
    """The demo's scripts are the safe patterns the docs teach."""
    assert main(["lint", str(REPO_ROOT / "project" / "demo" / "sqlmigrations")]) == 0


def test_a_folder_it_may_not_read_is_a_message_not_a_traceback() -> None:
    # A folder the user may not list; as root (who may read anything), the
    # console script runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="schemaops-unreadable-"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked"
        locked.mkdir()
        write(locked, "0001_a.sql", "SELECT 1;\n")
        locked.chmod(0)
        prefix: list[str] = []
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: every folder is readable")
            prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        completed = run("lint", "locked", cwd=folder, as_user=prefix)
    finally:
        (folder / "locked").chmod(0o755)
        shutil.rmtree(folder)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "locked: cannot be read (Permission denied). Check its permissions" in (
        completed.stderr
    )


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository whose main branch has sql/1_base.sql (a finding of its own,
    and a validated CHECK (x IS NOT NULL)), on a branch that adds sql/2_change.sql."""
    git("init", "-q", "-b", "main", cwd=tmp_path)
    write(
        tmp_path / "sql",
        "1_base.sql",
        "DROP INDEX old_index;\n"
        "ALTER TABLE t ADD CONSTRAINT t_x_not_null CHECK (x IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT t_x_not_null;\n",
    )
    git("add", ".", cwd=tmp_path)
    git("commit", "-q", "-m", "base", cwd=tmp_path)
    git("checkout", "-q", "-b", "feature", cwd=tmp_path)
    write(
        tmp_path / "sql",
        "2_change.sql",
        "ALTER TABLE t ALTER COLUMN x SET NOT NULL;\nDROP INDEX new_index;\n",
    )
    git("add", ".", cwd=tmp_path)
    git("commit", "-q", "-m", "change", cwd=tmp_path)
    return tmp_path


def test_changed_reports_the_branch_files_with_the_earlier_ones_as_context(
    repository: Path,
) -> None:
    completed = run("lint", "sql", "--changed", "--format", "json", cwd=repository)
    document = json.loads(completed.stdout)
    assert [(f["path"], f["line"], f["rule"]) for f in document["findings"]] == [
        ("sql/2_change.sql", 2, "require-concurrent-index-deletion")
    ]  # not 1_base.sql's DROP INDEX; SET NOT NULL passes thanks to 1_base.sql's CHECK
    assert document["summary"]["units"] == 1
    everything = json.loads(run("lint", "sql", "--format", "json", cwd=repository).stdout)
    assert everything["summary"]["units"] == 2


def test_changed_counts_uncommitted_and_untracked_files(repository: Path) -> None:
    (repository / "sql" / "1_base.sql").write_text("TRUNCATE t;\n", encoding="utf-8")
    write(repository / "sql", "3_new.sql", "DROP TABLE u;\n")
    completed = run("lint", "sql", "--changed=HEAD", cwd=repository)
    assert completed.returncode == 1
    assert "sql/1_base.sql:1:1: ban-truncate-table" in completed.stdout
    assert "sql/3_new.sql:1:1: ban-drop-table" in completed.stdout
    assert "2_change.sql" not in completed.stdout  # committed, so not changed since HEAD
    assert completed.stdout.endswith("in 2 files.\n")


def test_changed_with_an_unknown_ref_exits_2_naming_it(repository: Path) -> None:
    completed = run("lint", "sql", "--changed=no-such-branch", cwd=repository)
    assert completed.returncode == 2
    assert "'no-such-branch' is not a commit git knows here" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_changed_outside_a_repository_exits_2(tmp_path: Path) -> None:
    write(tmp_path, "a.sql", "SELECT 1;\n")
    completed = run("lint", "a.sql", "--changed", cwd=tmp_path)
    assert completed.returncode == 2
    assert "--changed: git rev-parse --show-toplevel failed: fatal: not a git repository" in (
        completed.stderr
    )


def test_markdown_output_lists_input_it_could_not_lint(tmp_path: Path) -> None:
    write(tmp_path, "ok.sql", "CREATE TABLE t (id bigint);\n")
    completed = run("lint", "--format", "markdown", "ok.sql", "missing.sql", cwd=tmp_path)
    assert completed.returncode == 2
    lines = completed.stdout.splitlines()
    assert lines[0] == "**schemaops lint**: No findings in 1 file; 1 not linted."
    assert lines[-1].startswith("| `missing.sql:1` | error: [invalid-file]")
    assert "missing.sql: no such file or folder" in completed.stderr


def test_the_console_script_imports_no_linter_until_it_lints() -> None:
    """--version stays as quick as Python's own start: importing the console script
    loads none of the linter, the statement model, tomllib, Django, argparse, pathlib
    or typing, and --version answers without loading any of them."""
    heavy = (
        "'schemaops.lint', 'schemaops.scripts', 'schemaops.statements', 'django', "
        "'tomllib', 'json', 'argparse', 'pathlib', 'typing', 'shutil'"
    )
    code = (
        "import sys; before = set(sys.modules); import schemaops.cli; "
        "print(sorted(m for m in set(sys.modules) - before "
        f"if m.split('.')[0] in ({heavy}) or m.startswith(({heavy}))))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"
    version = (
        "import sys; before = set(sys.modules); from schemaops.cli import main; "
        "status = main(['--version']); "
        f"print(status, sorted(m for m in set(sys.modules) - before if m.startswith(({heavy}))))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", version], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.splitlines()[-1] == "0 []"
    assert completed.stdout.splitlines()[0].startswith("schemaops ")


def test_help_is_as_wide_as_argparse_makes_it(tmp_path: Path) -> None:
    """The console script sizes its help without shutil, the same way argparse does:
    COLUMNS (less 2) when set, so the text is wrapped as any argparse program's."""
    import argparse

    from schemaops.cli import _parser

    helps = []
    for columns in ("50", "120"):
        completed = subprocess.run(
            [str(SCHEMAOPS), "lint", "--help"],
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": columns},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        os.environ["COLUMNS"] = columns
        try:
            lint = _parser()._subparsers._group_actions[0].choices["lint"]  # type: ignore[union-attr,attr-defined]
            lint.formatter_class = argparse.HelpFormatter
            assert completed.stdout == lint.format_help()
        finally:
            del os.environ["COLUMNS"]
        helps.append(completed.stdout)
    assert len(helps[0].splitlines()) > len(helps[1].splitlines())
