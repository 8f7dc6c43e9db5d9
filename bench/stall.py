"""Benchmark: live writes during schema changes, the naive way against schemaops.

    python bench/stall.py [--tier sql|django|both] [--rows 2000000] [--writers 4]
        [--long-transaction 6] [--reader 4] [--snapshot 4] [--only NAME,...]
        [--keep-template] [--json FILE]

A table of ``--rows`` orders (2 million by default) takes a steady write load
from ``--writers`` processes, each inserting a new order or updating a random
one in a loop (about 100 writes a second each) and timing every write. Each
scenario runs twice in the same run, each time on a fresh copy of the same
database (``CREATE DATABASE ... TEMPLATE``):

- **naive**: the change as a developer would first write it, run by
  ``psql -X -v ON_ERROR_STOP=1 -f`` with no timeouts;
- **schemaops**: the rewrite the linter's hints lead to, applied by
  ``manage.py schemaops migrate`` with its defaults (``lock_timeout``,
  retries with backoff, no queuing behind long transactions, a longer lock
  budget for concurrent index builds, committed batches).

Scenarios: 1. add an index; 2. add a NOT NULL column computed from another
(a backfill); 3. add a foreign key and a check constraint; 4. add a column
while another session sits in a transaction that read the table (the lock
queue: a waiting ALTER blocks every writer behind it).

For each: the writers' p50, p99 and maximum latency in the 3 s before the
change (baseline) and while it ran, the writes done meanwhile, and the
change's own duration (the whole command, process start included). The
target: with schemaops no write waits longer than ``lock_timeout``.

That is the SQL tier (``--tier sql``). The Django tier (``--tier django``) runs
Django migrations on the same table (the ``orders`` model of
``bench/stallapp``, whose ``0001_initial`` is faked on the template) under the
same writers, each case twice, each time on a fresh copy:

- **django**: plain Django's ``manage.py migrate`` (``bench/settings_stall.py``
  with ``SCHEMAOPS_STALL_SIDE=django``: no schemaops in ``INSTALLED_APPS``);
- **schemaops**: schemaops's ``manage.py migrate`` (``pgtrigger`` and
  ``schemaops`` installed, its defaults).

Cases (``SCHEMAOPS_STALL_CASE`` picks the migrations module,
``bench/stallapp/cases/NAME``): 1. ``AddField(null=True)`` and 2. ``AddField``
NOT NULL with ``db_default`` (Django 5.0+), each behind a reader (a
transaction that read the table, open ``OPEN_BEFORE`` s before the command
starts and ``--reader`` s after); 3a. ``AddIndex`` and 3b.
``AddIndexConcurrently`` (``atomic = False``), each with an old REPEATABLE READ
snapshot open (``--snapshot`` s after the command starts); 4a.
``AddConstraint(CheckConstraint)`` and 4b. ``AddConstraintNotValid`` then
``ValidateConstraint`` (its own non-atomic migration), behind the reader.
schemaops's lint gate is expected to refuse 3a and 4a.

For each: the writers' latency as above, the command's duration, exit code
and last lines of output, and its outcome: applied (exit 0, every migration of
the case recorded), refused (the command named the linter and nothing
changed: the table's columns, indexes, constraints and the app's
``django_migrations`` rows as before) or failed. The target: every schemaops
case that applies keeps every write under ``lock_timeout`` and none fails.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply import REPO_ROOT, drop_database, manage, psql_binary, server_url

TEMPLATE = "schemaops_stall_template"
RUN_DB = "schemaops_stall_run"
BASELINE_SECONDS = 3.0
AFTER_SECONDS = 1.0
WRITE_INTERVAL = 0.01  # each writer sleeps this long between writes
OPEN_BEFORE = 2.0  # scenario 4: how long the long transaction is open before the change
DJANGO_TIMEOUT = 600.0  # seconds a Django-tier migrate may take before it counts as failed
TAIL_LINES = 4  # last lines of a migrate command's output kept in the report


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    naive: str
    safe: str
    long_transaction: bool = False


REGION = "CASE customer_id % 3 WHEN 0 THEN 'eu' WHEN 1 THEN 'us' ELSE 'apac' END"

SCENARIOS = [
    Scenario(
        "index",
        "1. add an index",
        "CREATE INDEX orders_customer_created ON orders (customer_id, created_at);",
        "CREATE INDEX CONCURRENTLY orders_customer_created ON orders (customer_id, created_at);",
    ),
    Scenario(
        "not-null",
        "2. add a NOT NULL column with a backfill",
        f"""
        BEGIN;
        ALTER TABLE orders ADD COLUMN region text DEFAULT 'unknown';
        UPDATE orders SET region = {REGION};
        ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
        COMMIT;
        """,
        f"""
        ALTER TABLE orders ADD COLUMN region text DEFAULT 'unknown';
        -- schemaops: batch size=10000
        UPDATE orders SET region = {REGION}
        WHERE id >= :batch_start AND id < :batch_end;
        ALTER TABLE orders ADD CONSTRAINT orders_region_not_null
            CHECK (region IS NOT NULL) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_region_not_null;
        ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
        ALTER TABLE orders DROP CONSTRAINT orders_region_not_null;
        """,
    ),
    Scenario(
        "fk-check",
        "3. add a foreign key and a check constraint",
        """
        ALTER TABLE orders ADD CONSTRAINT orders_customer
            FOREIGN KEY (customer_id) REFERENCES customers (id);
        ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);
        """,
        """
        -- schemaops: atomic=false
        -- schemaops: ignore=adding-foreign-key-constraint reason="NOT VALID: brief locks, no scan"
        ALTER TABLE orders ADD CONSTRAINT orders_customer
            FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_customer;
        ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
        """,
    ),
    Scenario(
        "lock-queue",
        "4. add a column behind a long transaction",
        "ALTER TABLE orders ADD COLUMN note text;",
        "ALTER TABLE orders ADD COLUMN note text;",
        long_transaction=True,
    ),
]


def build_template(rows: int, work: Path) -> None:
    """Create the template database: Django's and schemaops's tables, customers and
    ``rows`` orders, vacuumed and analysed."""
    drop_database(TEMPLATE)
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    manage(TEMPLATE, work / "empty", "migrate", "--skip-scripts", "-v", "0")
    with psycopg.connect(server_url(TEMPLATE), autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
            INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 10000) g;
            CREATE TABLE orders (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                customer_id bigint NOT NULL,
                amount integer NOT NULL,
                status text NOT NULL DEFAULT 'new',
                created_at timestamptz NOT NULL DEFAULT now()
            );
            """
        )
        conn.execute(
            "INSERT INTO orders (id, customer_id, amount, status, created_at)"
            " SELECT g, 1 + g %% 10000, 1 + g %% 500, 'done',"
            " now() - make_interval(secs => g) FROM generate_series(1, %s) g",
            [rows],
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'id'), %s)", [rows])
        conn.execute("VACUUM ANALYZE customers, orders")


def copy_template() -> None:
    drop_database(RUN_DB)
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        version = conn.info.server_version
        strategy = sql.SQL(" STRATEGY FILE_COPY") if version >= 150000 else sql.SQL("")
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(RUN_DB), sql.Identifier(TEMPLATE)
            )
            + strategy
        )


def writer(url: str, rows: int, seed: int, stop: object, out: object) -> None:
    """Insert or update one order per loop, timing each write until ``stop`` is set."""
    rng = random.Random(seed)
    samples: list[tuple[float, float]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET application_name = 'writer'")
        while not stop.is_set():  # type: ignore[attr-defined]
            began = time.time()
            if rng.random() < 0.5:
                conn.execute(
                    "INSERT INTO orders (customer_id, amount) VALUES (%s, %s)",
                    [rng.randint(1, 10000), rng.randint(1, 500)],
                )
            else:
                conn.execute(
                    "UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id = %s",
                    [rng.randint(1, rows)],
                )
            samples.append((began, time.time() - began))
            time.sleep(WRITE_INTERVAL)
    out.put(samples)  # type: ignore[attr-defined]


def long_transaction(
    url: str, seconds: float, ready: object, repeatable_read: bool = False
) -> None:
    """Read the table in a transaction and keep it open until ``seconds`` after the
    change starts (a report, an idle-in-transaction request, a pg_dump); with
    ``repeatable_read``, an old snapshot (what a concurrent index build waits for)."""
    with psycopg.connect(url) as conn:
        if repeatable_read:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        name = "old snapshot" if repeatable_read else "long report"
        conn.execute(f"SET application_name = '{name}'")  # type: ignore[arg-type]
        conn.execute("SELECT count(*) FROM orders WHERE id < 1000")
        ready.set()  # type: ignore[attr-defined]
        time.sleep(OPEN_BEFORE + seconds)
        conn.rollback()


@dataclass
class Result:
    scenario: str
    side: str
    baseline_p50_ms: float
    baseline_p99_ms: float
    baseline_max_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    writes: int
    migration_s: float
    retries: int  # lock timeouts retried, waits for a long transaction, autovacuums cancelled
    output: str


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run_side(
    scenario: Scenario, side: str, rows: int, writers: int, long_seconds: float, work: Path
) -> Result:
    copy_template()
    url = server_url(RUN_DB)
    text = textwrap.dedent(scenario.naive if side == "naive" else scenario.safe).strip() + "\n"
    folder = work / f"{scenario.name}-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "0001_change.sql"
    script.write_text(text, encoding="utf-8")

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    out = context.Queue()
    processes = [
        context.Process(target=writer, args=(url, rows, seed, stop, out))
        for seed in range(writers)
    ]
    for process in processes:
        process.start()
    time.sleep(BASELINE_SECONDS + 1.0)  # a second to connect and warm up
    holder = None
    if scenario.long_transaction:
        ready = context.Event()
        holder = context.Process(target=long_transaction, args=(url, long_seconds, ready))
        holder.start()
        ready.wait(30)
        time.sleep(OPEN_BEFORE)  # the report has been running a while when the deploy starts
    began = time.time()
    if side == "naive":
        result = subprocess.run(
            [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(script)],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise SystemExit(f"psql failed on {scenario.name}:\n{result.stderr}")
        output = result.stdout
    else:
        output = manage(RUN_DB, folder, "schemaops", "migrate").stdout
    ended = time.time()
    time.sleep(AFTER_SECONDS)
    stop.set()
    samples: list[tuple[float, float]] = []
    for _ in processes:
        samples.extend(out.get(timeout=120))
    for process in processes:
        process.join()
    if holder is not None:
        holder.join()

    baseline = [lat for start, lat in samples if began - BASELINE_SECONDS <= start < began]
    during = [lat for start, lat in samples if began <= start < ended]
    ms = 1000.0
    return Result(
        scenario.name,
        side,
        round(statistics.median(baseline) * ms, 2),
        round(percentile(baseline, 0.99) * ms, 2),
        round(max(baseline) * ms, 1),
        round(statistics.median(during) * ms, 2) if during else 0.0,
        round(percentile(during, 0.99) * ms, 1),
        round(max(during, default=0.0) * ms, 1),
        len(during),
        round(ended - began, 2),
        output.count(" retry ") + output.count(" waits for ") + output.count(" cancelled "),
        output,
    )


# --- The Django tier -------------------------------------------------------------


@dataclass(frozen=True)
class DjangoCase:
    name: str
    title: str
    module: str  # bench.stallapp.cases.<module>
    migrations: tuple[str, ...]  # what a complete run records in django_migrations
    hold: str | None = None  # "reader": a transaction that read the table; "snapshot": RR
    expect_refused: bool = False  # schemaops's lint gate should refuse it
    min_django: tuple[int, int] = (4, 2)


DJANGO_CASES = [
    DjangoCase(
        "add-nullable",
        "1. AddField(null=True), behind a reader",
        "add_nullable",
        ("0002_order_note",),
        hold="reader",
    ),
    DjangoCase(
        "add-db-default",
        "2. AddField NOT NULL db_default, behind a reader",
        "add_db_default",
        ("0002_order_region",),
        hold="reader",
        min_django=(5, 0),
    ),
    DjangoCase(
        "add-index",
        "3a. AddIndex, old snapshot open",
        "add_index",
        ("0002_order_customer_created",),
        hold="snapshot",
        expect_refused=True,
    ),
    DjangoCase(
        "add-index-concurrently",
        "3b. AddIndexConcurrently, old snapshot open",
        "add_index_concurrently",
        ("0002_order_customer_created",),
        hold="snapshot",
    ),
    DjangoCase(
        "add-check",
        "4a. AddConstraint(CheckConstraint), behind a reader",
        "add_check",
        ("0002_order_amount_positive",),
        hold="reader",
        expect_refused=True,
    ),
    DjangoCase(
        "add-check-not-valid",
        "4b. AddConstraintNotValid + ValidateConstraint, behind a reader",
        "add_check_not_valid",
        ("0002_order_amount_positive", "0003_validate_amount_positive"),
        hold="reader",
    ),
]

DJANGO_SIDES = ("django", "schemaops")
# How a refusal by the lint gate shows in the command's output (the SQL tier's
# gate says "N lint error(s) in pending scripts: nothing was applied."). Not a
# bare "lint": a traceback through schemaops/lint/ is a failure, not a refusal.
REFUSED_MARKER = re.compile(r"lint error|LintRefused|refused|refusing", re.IGNORECASE)

SCHEMA_STATE = """
SELECT 'column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'orders'::regclass AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid)
       || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
FROM pg_index i WHERE i.indrelid = 'orders'::regclass
UNION ALL
SELECT 'constraint ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
FROM pg_constraint c WHERE c.conrelid = 'orders'::regclass
UNION ALL
SELECT 'migration stallapp.' || name FROM django_migrations WHERE app = 'stallapp'
"""


def schema_state(url: str) -> set[str]:
    """What a migration of a case can change: ``orders``'s columns, indexes and
    constraints, and the stall app's rows in ``django_migrations``."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {row[0] for row in conn.execute(SCHEMA_STATE).fetchall()}


def django_manage(
    db: str, side: str, case: str, *args: str, timeout: float = DJANGO_TIMEOUT
) -> tuple[int, str]:
    """Run ``manage.py ARGS`` with ``bench.settings_stall`` for ``side`` and ``case``;
    return the exit code (-1 on a timeout) and stdout and stderr together."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_stall",
        "SCHEMAOPS_BENCH_DB": db,
        "SCHEMAOPS_STALL_SIDE": side,
        "SCHEMAOPS_STALL_CASE": case,
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.output.decode() if isinstance(exc.output, bytes) else exc.output or ""
        return -1, partial + f"\n(timed out after {timeout:g} s)"
    return result.returncode, result.stdout


def fake_initial() -> None:
    """Record the stall app's ``0001_initial`` as applied on the template (its table,
    ``orders``, is the SQL tier's)."""
    code, output = django_manage(
        TEMPLATE, "django", DJANGO_CASES[0].module, "migrate", "stallapp", "0001", "--fake"
    )
    if code:
        raise SystemExit(f"faking stallapp.0001_initial on the template failed:\n{output}")


@dataclass
class DjangoResult:
    case: str
    side: str
    baseline_p50_ms: float
    baseline_p99_ms: float
    baseline_max_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    writes: int
    migration_s: float
    exit_code: int
    outcome: str  # applied, refused, failed
    changed: list[str]  # schema lines added (+) or gone (-)
    retries: int
    tail: list[str]


def outcome_of(case: DjangoCase, code: int, output: str, changed: list[str]) -> str:
    recorded = all(f"+migration stallapp.{name}" in changed for name in case.migrations)
    if code == 0 and recorded:
        return "applied"
    if not changed and REFUSED_MARKER.search(output):
        return "refused"
    return "failed"


def run_django(
    case: DjangoCase,
    side: str,
    rows: int,
    writers: int,
    reader_seconds: float,
    snapshot_seconds: float,
) -> DjangoResult:
    copy_template()
    url = server_url(RUN_DB)
    before = schema_state(url)

    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    out = context.Queue()
    processes = [
        context.Process(target=writer, args=(url, rows, seed, stop, out))
        for seed in range(writers)
    ]
    for process in processes:
        process.start()
    time.sleep(BASELINE_SECONDS + 1.0)  # a second to connect and warm up
    holder = None
    if case.hold is not None:
        ready = context.Event()
        if case.hold == "reader":
            holder = context.Process(target=long_transaction, args=(url, reader_seconds, ready))
        else:
            holder = context.Process(
                target=long_transaction, args=(url, snapshot_seconds, ready, True)
            )
        holder.start()
        ready.wait(30)
        time.sleep(OPEN_BEFORE)
    began = time.time()
    code, output = django_manage(RUN_DB, side, case.module, "migrate", "-v", "1")
    ended = time.time()
    time.sleep(AFTER_SECONDS)
    stop.set()
    samples: list[tuple[float, float]] = []
    for _ in processes:
        samples.extend(out.get(timeout=120))
    for process in processes:
        process.join()
    if holder is not None:
        holder.join()
    after = schema_state(url)
    changed = sorted(f"+{line}" for line in after - before) + sorted(
        f"-{line}" for line in before - after
    )

    baseline = [lat for start, lat in samples if began - BASELINE_SECONDS <= start < began]
    during = [lat for start, lat in samples if began <= start < ended]
    ms = 1000.0
    return DjangoResult(
        case.name,
        side,
        round(statistics.median(baseline) * ms, 2),
        round(percentile(baseline, 0.99) * ms, 2),
        round(max(baseline) * ms, 1),
        round(statistics.median(during) * ms, 2) if during else 0.0,
        round(percentile(during, 0.99) * ms, 1),
        round(max(during, default=0.0) * ms, 1),
        len(during),
        round(ended - began, 2),
        code,
        outcome_of(case, code, output, changed),
        changed,
        output.count(" retry ") + output.count(" waits for ") + output.count(" cancelled "),
        [line for line in output.splitlines() if line.strip()][-TAIL_LINES:],
    )


def django_verdicts(
    cases: list[DjangoCase], results: list[DjangoResult], limit: float
) -> tuple[list[str], list[str]]:
    """Return the verdict lines of the schemaops runs and the misses among them."""
    by_name = {case.name: case for case in cases}
    lines: list[str] = []
    misses: list[str] = []
    for result in results:
        if result.side != "schemaops":
            continue
        case = by_name[result.case]
        if result.outcome == "applied":
            ok = result.max_ms <= limit * 1000.0
            line = (
                f"{'ok' if ok else 'FAIL'}: {result.case}: applied; the longest write waited "
                f"{result.max_ms:,} ms (lock_timeout {limit * 1000:g} ms)"
            )
            if case.expect_refused:
                line += "; note: the lint gate was expected to refuse it"
        elif result.outcome == "refused":
            ok = case.expect_refused
            line = (
                f"{'ok' if ok else 'FAIL'}: {result.case}: refused by the lint gate, nothing "
                f"changed{'' if ok else ' (a safe migration: it should apply)'}"
            )
        else:
            ok = False
            line = f"FAIL: {result.case}: failed (exit {result.exit_code}); " + (
                "nothing changed" if not result.changed else f"changed: {result.changed}"
            )
        lines.append(line)
        if not ok:
            misses.append(line)
    return lines, misses


def print_django_table(cases: list[DjangoCase], results: list[DjangoResult]) -> None:
    print(
        "| case | side | baseline p50 / p99 / max (ms) | during p50 (ms) | p99 (ms) "
        "| max (ms) | writes | migration (s) | outcome | exit | lock waits |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for case in cases:
        for result in results:
            if result.case != case.name:
                continue
            changed = "" if result.changed or result.outcome == "applied" else ", unchanged"
            print(
                f"| {case.title} | {result.side} | {result.baseline_p50_ms} / "
                f"{result.baseline_p99_ms} / {result.baseline_max_ms} | {result.p50_ms} | "
                f"{result.p99_ms} | **{result.max_ms:,}** | {result.writes:,} | "
                f"{result.migration_s} | {result.outcome}{changed} | {result.exit_code} | "
                f"{result.retries if result.side == 'schemaops' else ''} |"
            )


def print_django_details(results: list[DjangoResult]) -> None:
    for result in results:
        print(f"{result.case} / {result.side}: {result.outcome}, exit {result.exit_code}")
        for line in result.changed:
            print(f"    schema {line}")
        for line in result.tail:
            print(f"    > {line}")


def prepare_template(rows: int, work: Path, keep: bool, django_tier: bool) -> str:
    """Build the template (or, with ``keep``, reuse one of ``rows`` orders left by an
    earlier ``--keep-template`` run, bringing Django's and schemaops's tables up to
    date); return what was done."""
    started = time.perf_counter()
    reused = False
    if keep:
        with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE]
            ).fetchone()
        if exists:
            with psycopg.connect(server_url(TEMPLATE), autocommit=True) as conn:
                found = conn.execute(
                    "SELECT (SELECT max(id) FROM orders),"
                    " EXISTS (SELECT FROM django_migrations WHERE app = 'stallapp'"
                    " AND name <> '0001_initial')"
                ).fetchone()
            reused = found is not None and found[0] == rows and not found[1]
    if reused:
        manage(TEMPLATE, work / "empty", "migrate", "--skip-scripts", "-v", "0")
    else:
        build_template(rows, work)
    if django_tier:
        fake_initial()
    verb = "reused" if reused else "built"
    return f"template: {rows:,} orders, {verb} in {time.perf_counter() - started:.1f}s"


def lock_timeout_seconds() -> float:
    from schemaops.locking.timeouts import seconds

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from schemaops import conf

    return seconds(conf.lock_timeout())


def main() -> None:
    import django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tier",
        choices=("sql", "django", "both"),
        default="both",
        help="SQL scripts (psql against schemaops migrate), Django migrations (Django's "
        "migrate against schemaops's), or both (default)",
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument(
        "--long-transaction", type=float, default=6.0, help="seconds (SQL scenario 4)"
    )
    parser.add_argument(
        "--reader",
        type=float,
        default=4.0,
        help="seconds the Django tier's reader stays open after migrate starts (cases 1, 2, 4)",
    )
    parser.add_argument(
        "--snapshot",
        type=float,
        default=4.0,
        help="seconds the Django tier's REPEATABLE READ snapshot stays open after migrate "
        "starts (case 3)",
    )
    parser.add_argument(
        "--only",
        help="run only these scenarios or cases (comma-separated names: "
        + ",".join([s.name for s in SCENARIOS] + [c.name for c in DJANGO_CASES])
        + ")",
    )
    parser.add_argument(
        "--keep-template",
        action="store_true",
        help="keep the template database at the end, and reuse one kept earlier with the "
        "same --rows (saves building it again)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    limit = lock_timeout_seconds()
    only = set(args.only.split(",")) if args.only else set()
    unknown = only - {s.name for s in SCENARIOS} - {c.name for c in DJANGO_CASES}
    if unknown:
        parser.error(f"unknown --only names: {', '.join(sorted(unknown))}")
    chosen = [
        s for s in SCENARIOS if args.tier in ("sql", "both") and (not only or s.name in only)
    ]
    django_chosen = [
        c for c in DJANGO_CASES if args.tier in ("django", "both") and (not only or c.name in only)
    ]
    for case in [c for c in django_chosen if django.VERSION[:2] < c.min_django]:
        print(f"skipped {case.name}: needs Django {'.'.join(map(str, case.min_django))}+")
        django_chosen.remove(case)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "empty").mkdir()
        print(prepare_template(args.rows, work, args.keep_template, bool(django_chosen)))
        results = []
        for scenario in chosen:
            for side in ("naive", "schemaops"):
                result = run_side(
                    scenario, side, args.rows, args.writers, args.long_transaction, work
                )
                results.append(result)
                print(
                    f"  {scenario.name:<10} {side:<9} p50 {result.p50_ms:>7.2f} ms  "
                    f"p99 {result.p99_ms:>8.1f} ms  max {result.max_ms:>8.1f} ms  "
                    f"migration {result.migration_s:>6.2f} s",
                    flush=True,
                )
        django_results = []
        for case in django_chosen:
            for side in DJANGO_SIDES:
                outcome = run_django(
                    case, side, args.rows, args.writers, args.reader, args.snapshot
                )
                django_results.append(outcome)
                print(
                    f"  {case.name:<22} {side:<9} p50 {outcome.p50_ms:>7.2f} ms  "
                    f"p99 {outcome.p99_ms:>8.1f} ms  max {outcome.max_ms:>8.1f} ms  "
                    f"migration {outcome.migration_s:>6.2f} s  {outcome.outcome} "
                    f"(exit {outcome.exit_code})",
                    flush=True,
                )
        drop_database(RUN_DB)
        if not args.keep_template:
            drop_database(TEMPLATE)

    failed: list[Result] = []
    if chosen:
        print()
        print(
            f"{args.rows:,} rows, {args.writers} writers, schemaops lock_timeout {limit:g}s, "
            f"long transaction {args.long_transaction:g}s (scenario 4)"
        )
        print(
            "| scenario | side | baseline p50 / p99 / max (ms) | during p50 (ms) | p99 (ms) "
            "| max (ms) | writes | migration (s) | lock waits |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for scenario in chosen:
            for result in results:
                if result.scenario != scenario.name:
                    continue
                print(
                    f"| {scenario.title} | {result.side} | {result.baseline_p50_ms} / "
                    f"{result.baseline_p99_ms} / {result.baseline_max_ms} | {result.p50_ms} | "
                    f"{result.p99_ms} | **{result.max_ms:,}** | {result.writes:,} | "
                    f"{result.migration_s} | "
                    f"{result.retries if result.side == 'schemaops' else ''} |"
                )
        failed = [r for r in results if r.side == "schemaops" and r.max_ms > limit * 1000.0]
        print()
        for result in results:
            if result.side == "schemaops":
                verdict = "FAIL" if result in failed else "ok"
                print(
                    f"{verdict}: {result.scenario}: the longest write waited "
                    f"{result.max_ms:,} ms (lock_timeout {limit * 1000:g} ms)"
                )
    misses: list[str] = []
    if django_chosen:
        print()
        print(
            f"Django tier: {args.rows:,} rows, {args.writers} writers, Django "
            f"{django.get_version()}, schemaops lock_timeout {limit:g}s, reader open "
            f"{OPEN_BEFORE:g}s before and {args.reader:g}s after migrate starts (1, 2, 4), "
            f"REPEATABLE READ snapshot {OPEN_BEFORE:g}s + {args.snapshot:g}s (3)"
        )
        print_django_table(django_chosen, django_results)
        print()
        print_django_details(django_results)
        print()
        lines, misses = django_verdicts(django_chosen, django_results, limit)
        for line in lines:
            print(line)
    if args.json:
        args.json.write_text(
            json.dumps(
                [{"tier": "sql", **asdict(r)} for r in results]
                + [{"tier": "django", **asdict(r)} for r in django_results],
                indent=2,
            )
        )
    if failed or misses:
        print()
        print(
            f"Target missed: {len(failed)} SQL scenario(s), {len(misses)} Django case(s)."
            if chosen and django_chosen
            else "Target missed."
        )
        raise SystemExit(1)


if __name__ == "__main__":
    main()
