"""Benchmark: live writes during schema changes, the naive way against schemaops.

    python bench/stall.py [--rows 2000000] [--writers 4] [--long-transaction 6]

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
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
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

from apply import drop_database, manage, psql_binary, server_url

TEMPLATE = "schemaops_stall_template"
RUN_DB = "schemaops_stall_run"
BASELINE_SECONDS = 3.0
AFTER_SECONDS = 1.0
WRITE_INTERVAL = 0.01  # each writer sleeps this long between writes
OPEN_BEFORE = 2.0  # scenario 4: how long the long transaction is open before the change


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


def long_transaction(url: str, seconds: float, ready: object) -> None:
    """Read the table in a transaction and keep it open until ``seconds`` after the
    change starts (a report, an idle-in-transaction request, a pg_dump)."""
    with psycopg.connect(url) as conn:
        conn.execute("SET application_name = 'long report'")
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


def lock_timeout_seconds() -> float:
    from schemaops.scripts.loader import seconds

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from schemaops import conf

    return seconds(conf.lock_timeout())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--long-transaction", type=float, default=6.0, help="seconds (scenario 4)")
    parser.add_argument("--only", help="run only these scenarios (comma-separated names)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    limit = lock_timeout_seconds()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "empty").mkdir()
        started = time.perf_counter()
        build_template(args.rows, work)
        print(f"template: {args.rows:,} orders in {time.perf_counter() - started:.1f}s")
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
        drop_database(RUN_DB)
        drop_database(TEMPLATE)

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
                f"{result.migration_s} | {result.retries if result.side == 'schemaops' else ''} |"
            )
    failed = [r for r in results if r.side == "schemaops" and r.max_ms > limit * 1000.0]
    print()
    for result in results:
        if result.side == "schemaops":
            verdict = "FAIL" if result in failed else "ok"
            print(
                f"{verdict}: {result.scenario}: the longest write waited {result.max_ms:,} ms "
                f"(lock_timeout {limit * 1000:g} ms)"
            )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
