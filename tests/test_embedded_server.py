"""The demo's embedded PostgreSQL: idempotent start, shared by processes started at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from project import embedded

REPO_ROOT = Path(__file__).resolve().parent.parent
START = (
    "import json, sys; from pathlib import Path; from project import embedded; "
    "s = embedded.ensure_server(Path(sys.argv[1])); "
    "print(json.dumps({'pid': s.pid, 'socket_dir': s.socket_dir, 'port': s.port}))"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pgdata"
    yield path
    embedded.stop_server(path)


def start_in_subprocess(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", START, str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_started_at_once_share_one_server(data_dir: Path) -> None:
    first, second = start_in_subprocess(data_dir), start_in_subprocess(data_dir)
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out))

    assert results[0] == results[1]
    with psycopg.connect(
        host=results[0]["socket_dir"], port=results[0]["port"], user="postgres", dbname="postgres"
    ) as conn:
        row = conn.execute("SELECT pg_backend_pid() > 0").fetchone()
    assert row == (True,)


def test_starting_a_running_server_again_returns_the_same_server(data_dir: Path) -> None:
    first = embedded.ensure_server(data_dir)
    again = embedded.ensure_server(data_dir)
    assert again == first


def test_a_stopped_server_is_started_again(data_dir: Path) -> None:
    first = embedded.ensure_server(data_dir)
    assert embedded.stop_server(data_dir)
    again = embedded.ensure_server(data_dir)
    assert again.pid != first.pid
    with psycopg.connect(
        host=again.socket_dir, port=again.port, user="postgres", dbname="postgres"
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_handle_list_left_empty_by_a_killed_process_is_repaired(data_dir: Path) -> None:
    first = start_in_subprocess(data_dir)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    listed = data_dir / ".handle_pids.json"
    listed.write_text("", encoding="utf-8")  # what a process killed mid-write leaves
    again = start_in_subprocess(data_dir)
    out_again, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert json.loads(out_again) == json.loads(out)
    assert isinstance(json.loads(listed.read_text(encoding="utf-8")), list)


def demo_command(path: Path, *args: str) -> subprocess.Popen[str]:
    """``manage.py ARGS`` of the demo project on the embedded server in ``path``, in a
    process group of its own (as ``make demo`` runs it)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(SCHEMAOPS_PGDATA=str(path), PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def db_stop(path: Path) -> subprocess.CompletedProcess[str]:
    """What ``make db-stop`` runs, for the server in ``path``."""
    return subprocess.run(
        [sys.executable, "-m", "project.embedded", "stop"],
        cwd=REPO_ROOT,
        env={**os.environ, "SCHEMAOPS_PGDATA": str(path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def pid_gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie, waiting to be reaped) within
    ``within`` seconds: pg_ctl returns once the pid file is gone, a moment before
    the postmaster exits."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_the_demo_survives_kill_term_of_its_process_group_and_db_stop_stops(
    data_dir: Path,
) -> None:
    rng = random.Random(12)
    for _ in range(4):
        # Killed at a random moment of its start-up: starting the server, writing
        # the wheel's list of processes, migrating.
        process = demo_command(data_dir, "migrate", "--verbosity", "0")
        time.sleep(rng.uniform(0.05, 1.5))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)

    later = demo_command(data_dir, "schemaops", "status")
    out, err = later.communicate(timeout=300)
    assert later.returncode == 0, err
    assert "Traceback" not in err
    assert "SQL scripts (default)" in out

    info = json.loads(start_in_subprocess(data_dir).communicate(timeout=120)[0])
    stop = db_stop(data_dir)
    assert stop.returncode == 0, stop.stderr
    assert stop.stdout.strip() == "stopped"
    assert pid_gone(info["pid"])
    assert not (data_dir / "postmaster.pid").exists()
    assert json.loads((data_dir / ".handle_pids.json").read_text(encoding="utf-8")) == []
    again = db_stop(data_dir)
    assert again.stdout.strip() == f"no server running in {data_dir.resolve()}"
