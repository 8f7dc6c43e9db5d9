"""The built wheel is a working app on its own: installed into a clean virtualenv,
added to a throwaway project, it migrates on PostgreSQL and protects its history."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO_ROOT),
        ],
        check=True,
    )
    (path,) = out.glob("django_schemaops-*.whl")
    return path


def test_wheel_carries_migrations_templates_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "schemaops/py.typed" in names
    assert "schemaops/migrations/0001_initial.py" in names
    assert "schemaops/templates/admin/schemaops/historyentry/change_list.html" in names
    assert "schemaops/management/commands/schemaops.py" in names


def test_wheel_leaves_out_the_demo_and_the_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("project/", "tests/", "bench/", "docs/"))]


def test_wheel_declares_exactly_the_runtime_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (metadata_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = zf.read(metadata_name).decode()
    requires = sorted(
        line.removeprefix("Requires-Dist: ")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert requires == [
        "Django>=4.2",
        "django-pgtrigger<5,>=4.15",
        "psycopg>=3.1",
        "sqlparse>=0.4",
    ]


@pytest.fixture
def scratch_database(server_params: dict[str, object]) -> Iterator[dict[str, object]]:
    params = {**server_params, "dbname": "schemaops_install_check"}
    admin = {**server_params, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        name = sql.Identifier("schemaops_install_check")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    yield params
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def test_clean_virtualenv_install_migrates_and_protects_history(
    wheel: Path, tmp_path: Path, scratch_database: dict[str, object]
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel), "psycopg[binary]"], check=True
    )
    project = tmp_path / "throwaway"
    project.mkdir()
    db = scratch_database
    (project / "throwaway_settings.py").write_text(
        textwrap.dedent(
            f"""
            SECRET_KEY = "x"
            INSTALLED_APPS = ["pgtrigger", "schemaops"]
            DATABASES = {{"default": {{
                "ENGINE": "django.db.backends.postgresql",
                "NAME": {db["dbname"]!r}, "HOST": {db.get("host", "")!r},
                "PORT": {str(db.get("port", ""))!r}, "USER": {db.get("user", "")!r},
                "PASSWORD": {db.get("password", "")!r},
            }}}}
            USE_TZ = True
            """
        )
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "throwaway_settings",
        "PYTHONPATH": str(project),
    }
    env.pop("DATABASE_URL", None)
    for command in (["check"], ["migrate", "-v", "0"], ["schemaops", "status"]):
        result = subprocess.run(
            [str(python), "-m", "django", *command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr

    with psycopg.connect(**db, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(
            "INSERT INTO schemaops_historyentry (tier, location, version, name, checksum,"
            " direction, outcome, started_at, database, db_user, os_user, host,"
            " schemaops_version, error, failed_statement, sql, note)"
            " VALUES ('sql', 'x', '0001', '', '', 'up', 'applied', now(), 'default',"
            " '', '', '', '', '', '', '', '')"
        )
        for statement in (
            "UPDATE schemaops_historyentry SET outcome = 'failed'",
            "DELETE FROM schemaops_historyentry",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="Cannot update or delete"):
                conn.execute(statement)
        assert conn.execute(
            "SELECT outcome FROM schemaops_historyentry WHERE location = 'x'"
        ).fetchall() == [("applied",)]
