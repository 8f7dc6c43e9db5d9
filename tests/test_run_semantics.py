"""The run semantics that matter in production, proved on a real server with real
processes: exactly once under concurrency, crashes, lock waits, restarts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import connections

from project import embedded
from schemaops.models import HistoryEntry
from tests.conftest import ScriptFolder

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


def runner_params() -> dict[str, object]:
    params = dict(connections["runner"].get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    return params


def outcomes(version: str) -> list[str]:
    return list(
        HistoryEntry.objects.using("runner")
        .filter(tier="sql", location="ops", version=version)
        .order_by("id")
        .values_list("outcome", flat=True)
    )


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_eight_processes_apply_every_script_exactly_once(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql", "CREATE TABLE race (id serial PRIMARY KEY, a int, b int, c text);"
    )
    scripts.write(
        "0002_rows.sql",
        "INSERT INTO race (a, b, c) SELECT g, g % 7, g::text FROM generate_series(1, 20000) g;",
    )
    for n in range(3, 23):
        if n % 4 == 0:
            scripts.write(
                f"{n:04d}_index.sql",
                f"CREATE INDEX CONCURRENTLY race_idx_{n} ON race ((a + {n}));",
            )
        else:
            scripts.write(
                f"{n:04d}_step.sql", f"ALTER TABLE race ADD COLUMN col_{n} int DEFAULT {n};"
            )

    processes = [scripts.popen("migrate", "--lock-wait", "120") for _ in range(8)]
    results = [p.communicate(timeout=300) for p in processes]

    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
    applied = Counter(
        HistoryEntry.objects.using("runner")
        .filter(location="ops", outcome="applied")
        .values_list("version", flat=True)
    )
    assert len(applied) == 22
    assert set(applied.values()) == {1}
    assert sum("No pending scripts." in out for out, _ in results) >= 1
    invalid = connections["runner"].cursor()
    invalid.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
    assert invalid.fetchone() == (0,)


def test_sigkill_during_a_non_atomic_script_leaves_it_interrupted(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE crash (id int);")
    scripts.write(
        "0002_slow.sql",
        """
        -- schemaops: atomic=false
        INSERT INTO crash VALUES (1);
        SELECT pg_sleep(3);
        INSERT INTO crash VALUES (2);
        """,
    )
    process = scripts.popen("migrate")
    wait_for(lambda: outcomes("0002") == ["started"])
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    # The orphaned backend ends when its statement does and it finds the client
    # gone, releasing the runner lock; the next run waits for that.
    with pytest.raises(CommandError) as error:
        scripts.run("migrate", "--lock-wait", "30")
    message = str(error.value)
    assert "ops:0002: a run started this non-atomic script and never finished it" in message
    # The first INSERT was recorded as finished; the kill came during the sleep.
    assert "1 of 3 statements finished (through line 2); statement 2 (line 3) may have" in message
    assert "repair ops:0002 --as applied|pending" in message

    output = scripts.run("repair", "ops:0002", "--as", "pending", "--reason", "killed; redo")
    assert "Recorded ops:0002 as pending (was interrupted)" in output
    scripts.write("0002_slow.sql", "-- schemaops: atomic=false\nINSERT INTO crash VALUES (2);")
    scripts.run("migrate", "--lock-wait", "30", "--allow-changed")
    assert outcomes("0002") == ["started", "repaired", "started", "applied"]


@contextmanager
def open_transaction(
    *statements: str, release_after: float | None = None
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Run ``statements`` in a transaction on the runner database and keep it open:
    until the block ends, or until ``release_after`` seconds when given."""
    conn = psycopg.connect(**runner_params())  # type: ignore[arg-type]
    for statement in statements:
        conn.execute(statement)
    thread = None
    if release_after is not None:
        thread = threading.Thread(target=lambda: (time.sleep(release_after), conn.rollback()))
        thread.start()
    try:
        yield conn
    finally:
        if thread is not None:
            thread.join()
        conn.close()


def share_lock(table: str) -> str:
    return f"LOCK TABLE {table} IN ACCESS SHARE MODE"


def test_lock_timeout_rolls_back_retries_and_succeeds_once_the_lock_is_free(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE busy (id int);")
    scripts.run("migrate")
    scripts.write(
        "0002_alter.sql",
        """
        -- schemaops: lock_timeout=1s retries=20
        CREATE TABLE busy_audit (id int);
        ALTER TABLE busy ADD COLUMN note text;
        """,
    )
    # Younger than lock_timeout at the first attempt, so the runner queues for
    # the lock and times out; older at the next, so it backs off unqueued.
    with open_transaction(share_lock("busy"), release_after=1.8):
        output = scripts.run("migrate")
    assert "ops:0002: line 3 waited 1s for a lock on relation busy" in output
    assert "rolled back, retry 1/20" in output
    assert outcomes("0002") == ["applied"]


def test_lock_timeout_fails_after_its_retries_naming_the_relation(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql", "CREATE TABLE locked (id int, note text); INSERT INTO locked VALUES (1);"
    )
    scripts.run("migrate")
    path = scripts.write(
        "0002_update.sql",
        """
        -- schemaops: lock_timeout=50ms retries=2
        CREATE TABLE locked_side (id int);
        UPDATE locked SET note = 'x' WHERE id = 1;
        """,
    )
    with (
        open_transaction("SELECT 1 FROM locked WHERE id = 1 FOR UPDATE"),
        pytest.raises(CommandError) as error,
    ):
        scripts.run("migrate")
    message = str(error.value)
    assert f"{path}:3: could not get a lock on relation locked, held by pid" in message
    assert "RowShareLock" in message
    assert "within lock_timeout=50ms, after 2 retries" in message
    assert outcomes("0002") == ["failed"]
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT to_regclass('locked_side')")
        assert cursor.fetchone() == (None,)


def test_no_queue_behind_a_long_transaction_so_writers_go_on(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE orders_q (id int);")
    scripts.run("migrate")
    path = scripts.write(
        "0002_alter.sql",
        """
        -- schemaops: lock_timeout=200ms retries=4
        ALTER TABLE orders_q ADD COLUMN note text;
        """,
    )
    waits: list[float] = []
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(**runner_params(), autocommit=True) as writer:  # type: ignore[arg-type]
            while not stop.is_set():
                began = time.monotonic()
                writer.execute("INSERT INTO orders_q VALUES (1)")
                waits.append(time.monotonic() - began)
                time.sleep(0.01)

    writer = threading.Thread(target=write)
    with open_transaction(share_lock("orders_q")):
        time.sleep(0.3)  # the reader's transaction is now older than lock_timeout
        writer.start()
        try:
            with pytest.raises(CommandError) as error:
                scripts.run("migrate")
        finally:
            stop.set()
            writer.join()
    message = str(error.value)
    # retries=4: it waits as long as four backoffs would take, 0.25+0.5+1+2 s.
    assert f"{path}:2: waited 4s for pid " in message
    assert "(idle in transaction for" in message
    assert "holds AccessShareLock on orders_q) to end." in message
    assert outcomes("0002") == ["failed"]
    # The runner never queued for ACCESS EXCLUSIVE, so no insert waited behind it
    # (a queued ALTER would have held each one for lock_timeout, 200 ms).
    assert len(waits) > 20
    assert max(waits) < 0.2


def test_long_transaction_ending_lets_the_change_through(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE shipments (id int);")
    scripts.run("migrate")
    scripts.write(
        "0002_alter.sql",
        """
        -- schemaops: lock_timeout=100ms retries=20
        ALTER TABLE shipments ADD COLUMN note text;
        """,
    )
    with open_transaction(share_lock("shipments"), release_after=1.5):
        time.sleep(0.2)
        output = scripts.run("migrate")
    assert "ops:0002: line 2 waits for pid " in output
    assert "holds AccessShareLock on shipments) to end before taking its lock; not queuing" in (
        output
    )
    assert "retry" not in output
    assert outcomes("0002") == ["applied"]


def test_a_foreign_key_waits_for_a_long_writer_of_the_table_it_references(
    scripts: ScriptFolder,
) -> None:
    scripts.write(
        "0001_tables.sql",
        "CREATE TABLE customers (id int PRIMARY KEY); CREATE TABLE invoices (customer int);",
    )
    scripts.run("migrate")
    # invoices is idle; customers has a writer whose transaction stays open. The
    # foreign key takes SHARE ROW EXCLUSIVE on customers too: queued behind that
    # writer, it would hold every other writer of customers behind it.
    scripts.write(
        "0002_fk.sql",
        """
        -- schemaops: lock_timeout=100ms retries=20
        ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk
            FOREIGN KEY (customer) REFERENCES customers (id) NOT VALID;
        """,
    )
    with open_transaction("UPDATE customers SET id = id WHERE false", release_after=1.5):
        time.sleep(0.2)
        output = scripts.run("migrate")
    assert "ops:0002: line 2 waits for pid " in output
    assert "holds RowExclusiveLock on customers) to end before taking its lock" in output
    assert "retry" not in output
    assert outcomes("0002") == ["applied"]


def test_waiting_run_names_the_holder_and_gives_up_after_lock_wait(scripts: ScriptFolder) -> None:
    scripts.write("0001_a.sql", "SELECT 1;")
    holder = psycopg.connect(**runner_params(), autocommit=True)  # type: ignore[arg-type]
    holder.execute("SET application_name = 'other deploy'")
    holder.execute("SELECT pg_advisory_lock(23566, 1)")
    try:
        with pytest.raises(CommandError) as error:
            scripts.run("migrate", "--lock-wait", "1")
    finally:
        holder.close()
    message = str(error.value)
    assert "held the runner lock on database 'runner' for more than 1s" in message
    assert "(other deploy)" in message
    assert outcomes("0001") == []


def test_connection_lost_mid_run_stops_with_a_clear_error_and_consistent_registry(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE lost (id int);")
    scripts.write("0002_slow.sql", "INSERT INTO lost VALUES (1);\nSELECT pg_sleep(60);")
    process = scripts.popen("migrate")
    admin = psycopg.connect(**runner_params(), autocommit=True)  # type: ignore[arg-type]
    try:
        wait_for(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"
                ).fetchone()
                == (1,)
            )
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'SELECT pg_sleep(60)%'"
        )
    finally:
        admin.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "ops:0002 failed at" in err
    assert "0002_slow.sql:2" in err
    assert "terminating connection due to administrator command" in err
    assert "The connection to the database was lost." in err
    # The atomic script rolled back with its transaction: nothing of it, and its
    # failure recorded on a new connection.
    assert outcomes("0001") == ["applied"]
    assert outcomes("0002") == ["failed"]
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM lost")
        assert cursor.fetchone() == (0,)
    assert "ops:0002 slow  failed" in scripts.run("status")


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="restarts the server: embedded PostgreSQL only"
)
def test_database_restart_mid_run_stops_with_a_clear_error(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE restarted (id int);")
    scripts.write(
        "0002_slow.sql",
        "-- schemaops: atomic=false\nINSERT INTO restarted VALUES (1);\nSELECT pg_sleep(60);",
    )
    process = scripts.popen("migrate")
    wait_for(lambda: outcomes("0002") == ["started"])
    time.sleep(0.5)
    connections.close_all()
    assert embedded.stop_server()
    embedded.ensure_server()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "ops:0002 failed at" in err
    assert "0002_slow.sql:3" in err
    assert "The statements before this one stayed applied" in err
    # Either the failure was recorded on a new connection once the server was
    # back (failed), or it could not be (interrupted): both stop the next run.
    assert outcomes("0002")[-1] in ("failed", "started")
    with pytest.raises(CommandError, match="ops:0002: "):
        scripts.run("migrate")
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM restarted")
        assert cursor.fetchone() == (1,)


def test_a_scripts_row_records_its_attempts_and_lock_waits(scripts: ScriptFolder) -> None:
    scripts.write("0001_table.sql", "CREATE TABLE waited (id int);")
    scripts.run("migrate")
    scripts.write("0002_alter.sql", "-- schemaops: lock_timeout=1s\nALTER TABLE waited ADD c int;")
    # Younger than lock_timeout when the script looks (the run's checks before it
    # take a few hundred milliseconds on a loaded machine, hence 1s): it queues,
    # times out, and retries once the holder is gone.
    with open_transaction(share_lock("waited"), release_after=1.8):
        scripts.run("migrate")
    row = HistoryEntry.objects.using("runner").get(version="0002", outcome="applied")
    assert row.attempts is not None
    assert row.attempts >= 2
    assert row.waited_ms is not None
    assert row.waited_ms > 0
    first = HistoryEntry.objects.using("runner").get(version="0001", outcome="applied")
    assert (first.attempts, first.waited_ms) == (1, 0)
