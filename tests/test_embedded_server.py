"""The demo's embedded PostgreSQL: idempotent start, shared by processes started at once."""

from __future__ import annotations

import json
import subprocess
import sys
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
