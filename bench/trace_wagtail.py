"""Benchmark: ``schemaops trace`` of wagtail's whole migration plan on an empty
database, beside a plain ``manage.py migrate`` of the same plan.

    .venv/bin/python bench/trace_wagtail.py [--runs 3]

Needs wagtail in the venv (``.venv/bin/pip install wagtail==8.0.1``); settings in
bench/settings_trace_wagtail.py (wagtail and its contrib apps, taggit,
modelcluster, Django's contrib apps, pgtrigger, schemaops) on the project's
embedded PostgreSQL (``SCHEMAOPS_PGDATA``, default .pgdata/) or ``DATABASE_URL``.

Each run, in order: a fresh empty database, ``manage.py schemaops trace --format
json`` on it (the copy to a scratch database, the rehearsal of every step, the
scratch dropped), timed as a whole process; then another fresh empty database,
``manage.py migrate`` on it, timed the same way. Printed: wall time of both
(best and median), the trace's own split (copy, rehearsal) and the statements it
traced.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def server_params() -> dict[str, Any]:
    from project import embedded

    server = embedded.ensure_server()
    return {"host": server.socket_dir, "port": server.port, "user": server.user}


def fresh(params: dict[str, Any], name: str) -> None:
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(params: dict[str, Any], name: str) -> None:
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def manage(database: str, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_trace_wagtail",
        "SCHEMAOPS_BENCH_DB": database,
        "PYTHONPATH": str(REPO_ROOT),
    }
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "manage.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if done.returncode not in (0, 1):  # 1: a lock held too long, still a whole trace
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    params = server_params()
    traced, migrated, splits = [], [], []
    report: dict[str, Any] = {}
    for run in range(1, options.runs + 1):
        fresh(params, "schemaops_bench_trace")
        seconds, done = manage("schemaops_bench_trace", "schemaops", "trace", "--format", "json")
        report = json.loads(done.stdout)
        traced.append(seconds)
        splits.append((report["copy_ms"], report["rehearsal_ms"]))
        fresh(params, "schemaops_bench_migrate")
        seconds, _ = manage("schemaops_bench_migrate", "migrate", "--verbosity", "0")
        migrated.append(seconds)
        print(
            f"run {run}: trace {traced[-1]:.2f} s (copy {splits[-1][0] / 1000:.2f} s, rehearsal "
            f"{splits[-1][1] / 1000:.2f} s), migrate {migrated[-1]:.2f} s",
            flush=True,
        )
    drop(params, "schemaops_bench_trace")
    drop(params, "schemaops_bench_migrate")
    statements = report["statements"]
    polled = sum(1 for s in statements if s["observed"] == "polled")
    kinds: dict[str, int] = {}
    for note in report["notes"]:
        kinds[note["kind"]] = kinds.get(note["kind"], 0) + 1
    print(f"steps: {len(report['steps'])}, statements traced: {len(statements)} ({polled} polled)")
    print(f"transactions: {len({s['transaction'] for s in statements})}, notes: {kinds}")
    print(f"exit code of the trace: {report['exit_code']}")
    print(
        f"trace, whole process: best {min(traced):.2f} s, median {statistics.median(traced):.2f} s"
    )
    print(
        f"migrate, whole process: best {min(migrated):.2f} s, "
        f"median {statistics.median(migrated):.2f} s"
    )
    copy = [c for c, _ in splits]
    rehearsal = [r for _, r in splits]
    print(
        f"trace's copy: median {statistics.median(copy) / 1000:.2f} s; rehearsal: median "
        f"{statistics.median(rehearsal) / 1000:.2f} s"
    )


if __name__ == "__main__":
    main()
