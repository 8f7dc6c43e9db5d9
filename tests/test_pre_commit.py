"""The pre-commit hooks in .pre-commit-hooks.yaml, run by ``pre-commit try-repo``
in a throwaway git repository: a staged unsafe change fails the hook (so the
commit is blocked) and shows the finding; a safe one passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

UNSAFE_MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("demo", "0004_account_timezone")]
    operations = [
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["timezone"], name="account_timezone_idx"),
        ),
    ]
"""

SAFE_MIGRATION = """
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("demo", "0004_account_timezone")]
    operations = [
        AddIndexConcurrently(
            model_name="account",
            index=models.Index(fields=["timezone"], name="account_timezone_idx"),
        ),
    ]
"""


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: the hook's environment is built once."""
    if not PRE_COMMIT.exists():
        pytest.fail("pre-commit is not installed: it is in the [test] extra")
    return tmp_path_factory.mktemp("pre-commit-home")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def try_repo(hook: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``pre-commit try-repo`` of this checkout's hook ``hook`` on ``cwd``'s staged files."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        PRE_COMMIT_HOME=str(home),
        # The Django hook is a system hook: `python` is this environment's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        # Linting without --pending reads no database: nothing listens here.
        DATABASE_URL="postgres://nobody@127.0.0.1:9/none",
    )
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO_ROOT), hook],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git("init", "-q", "-b", "main", cwd=tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("sql", "passes"),
    [
        ("CREATE INDEX orders_customer_idx ON orders (customer_id);\n", False),
        ("CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);\n", True),
    ],
    ids=["unsafe", "safe"],
)
def test_sql_hook_blocks_a_staged_unsafe_file(
    repository: Path, pre_commit_home: Path, sql: str, passes: bool
) -> None:
    (repository / "orders.sql").write_text(sql, encoding="utf-8")
    git("add", "orders.sql", cwd=repository)
    completed = try_repo("schemaops-lint", repository, pre_commit_home)
    output = completed.stdout + completed.stderr
    assert (completed.returncode == 0) is passes, output
    finding = "orders.sql:1:1: require-concurrent-index-creation"
    assert (finding in output) is not passes, output


@pytest.fixture
def django_project(repository: Path) -> Path:
    """A repository holding the demo project, committed on main."""
    shutil.copy(REPO_ROOT / "manage.py", repository / "manage.py")
    shutil.copytree(
        REPO_ROOT / "project",
        repository / "project",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    git("add", ".", cwd=repository)
    git("commit", "-q", "-m", "the project", cwd=repository)
    return repository


@pytest.mark.parametrize(
    ("migration", "passes"),
    [(UNSAFE_MIGRATION, False), (SAFE_MIGRATION, True)],
    ids=["unsafe", "safe"],
)
def test_django_hook_blocks_a_staged_unsafe_migration(
    django_project: Path, pre_commit_home: Path, migration: str, passes: bool
) -> None:
    path = django_project / "project" / "demo" / "migrations" / "0005_account_timezone_idx.py"
    path.write_text(migration.lstrip("\n"), encoding="utf-8")
    git("add", str(path), cwd=django_project)
    completed = try_repo("schemaops-lint-django", django_project, pre_commit_home)
    output = completed.stdout + completed.stderr
    assert (completed.returncode == 0) is passes, output
    finding = "0005_account_timezone_idx.py:7:9: require-concurrent-index-creation"
    assert (finding in output) is not passes, output
    assert "Traceback" not in output
