"""Benchmark: ``schemaops plan --sql`` on a real project's whole plan, against one
``sqlmigrate`` per pending migration.

    .venv/bin/python bench/plan_sql.py [--runs 3] [--projects wagtail]

The project (wagtail, about 200 migrations in its plan; pretix also works) in the
virtualenv of ``bench/lint_django.py`` (created on first use), on a fresh,
empty database of an embedded PostgreSQL of the benchmark's own (or of
``DATABASE_URL``): everything is pending. In one process, after
``django.setup()``, both sides render the same plan, in turns, ``--runs``
times:

- ``plan --sql``: ``call_command("schemaops", "plan", "--sql")``, which renders
  every pending Django migration in one pass (and lints the plan, as ``plan``
  does);
- ``sqlmigrate``: ``call_command("sqlmigrate", app, name)`` for each pending
  migration in plan order, as a tool that shows a plan's SQL by calling Django's
  command would.

A first, untimed round of each imports the migration modules. Each migration's
statements from both are compared too (``sqlmigrate``'s BEGIN/COMMIT aside);
a migration whose ``sqlmigrate`` fails on the empty database (it reads a table
an earlier migration creates) is counted, and ``plan --sql`` shows a comment
there instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent


def probe(runs: int) -> None:
    """In the project's virtualenv: time both sides in this process; print JSON."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.migrations.loader import MigrationLoader

    from schemaops.scripts import runner

    loader = MigrationLoader(connections["default"], ignore_no_migrations=True)
    pending = [s.migration for s in runner.interleaved("default", [], loader) if s.migration]

    def plan_sql() -> None:
        call_command("schemaops", "plan", "--sql", stdout=StringIO())

    def sqlmigrate_each() -> tuple[dict[str, list[str]], list[str]]:
        printed: dict[str, list[str]] = {}
        failed = []
        for app, name in pending:
            # (sqlmigrate finds a migration by prefix: one whose name starts another's
            # fails as ambiguous, and is counted with the failures.)
            try:
                out = StringIO()
                call_command("sqlmigrate", app, name, stdout=out, stderr=StringIO())
                printed[f"{app}.{name}"] = out.getvalue().splitlines()
            except Exception as exc:
                failed.append(f"{app}.{name}: {type(exc).__name__}: {str(exc)[:120]}")
        return printed, failed

    plan_sql()
    sqlmigrate_each()
    ours_times, theirs_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        plan_sql()
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        printed, failed = sqlmigrate_each()
        theirs_times.append(time.perf_counter() - start)
    # Each migration's lines as plan --sql prints them, Django's comments included.
    from schemaops import plan

    ours = {
        step.id: "\n".join(line.sql for line in step.sql or ())
        for step in plan.planned_steps("default", sql=True)
        if step.tier == plan.DJANGO
    }
    same, different = 0, []
    for key, lines in printed.items():
        theirs = "\n".join(line for line in lines if line not in ("BEGIN;", "COMMIT;"))
        if theirs == ours[key]:
            same += 1
        else:
            different.append(key)
    print(
        json.dumps(
            {
                "django": django.get_version(),
                "pending": len(pending),
                "operations": sum(len(loader.graph.nodes[key].operations) for key in pending),
                "plan_sql": ours_times,
                "sqlmigrate": theirs_times,
                "sqlmigrate_failed": failed,
                "not_rendered": sum(text.count("\n-- schemaops:") for text in ours.values()),
                "same": same,
                "different": different,
            }
        )
    )


def describe(times: list[float]) -> str:
    return f"{min(times):7.2f} s best, {statistics.median(times):7.2f} s median"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--projects", default="wagtail")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.runs)
        return
    sys.path.insert(0, str(REPO_ROOT))
    from bench import lint_django

    started = False
    if not os.environ.get("DATABASE_URL") and not os.environ.get("SCHEMAOPS_PGDATA"):
        os.environ["SCHEMAOPS_PGDATA"] = str(lint_django.BENCH_PGDATA)
        started = not (lint_django.BENCH_PGDATA / "postmaster.pid").exists()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    try:
        for name in args.projects.split(","):
            project = lint_django.PROJECTS[name]
            lint_django.ensure_venv(project)
            lint_django.fresh_database(project)
            done = subprocess.run(
                [str(project.python), __file__, "--probe", "--runs", str(args.runs)],
                cwd=REPO_ROOT,
                env=lint_django.environment(project),
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(f"probe failed in {project.venv}:\n{done.stderr[-5000:]}")
            info = json.loads(done.stdout.strip().splitlines()[-1])
            ours, theirs = info["plan_sql"], info["sqlmigrate"]
            print(
                f"\n{name}: Django {info['django']}, {info['pending']} pending migrations, "
                f"{info['operations']} operations, on an empty database"
            )
            print(f"  plan --sql (one pass, lint included)   {describe(ours)}")
            print(f"  sqlmigrate, once per migration         {describe(theirs)}")
            print(f"  ratio sqlmigrate / plan --sql (best)   {min(theirs) / min(ours):7.2f}x")
            print(
                f"  the same SQL in {info['same']} migrations; different in "
                f"{len(info['different'])}: {', '.join(info['different']) or '-'}"
            )
            print(
                f"  sqlmigrate failed on {len(info['sqlmigrate_failed'])}; plan --sql shows "
                f"{info['not_rendered']} operation(s) as not rendered, with why"
            )
            for line in info["sqlmigrate_failed"]:
                print(f"    {line.splitlines()[0]}")
    finally:
        if started:
            from project import embedded

            embedded.stop_server(lint_django.BENCH_PGDATA)


if __name__ == "__main__":
    main()
