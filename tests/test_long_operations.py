"""Long operations on a real server: lock retries with backoff and jitter, concurrent
index builds with their own lock budget and progress, batched backfills."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import connections

from schemaops.exceptions import ScriptError
from schemaops.locking import progress, retry
from schemaops.scripts import batches
from schemaops.scripts.batches import bind_batch
from schemaops.scripts.loader import Location
from schemaops.scripts.script import Script
from tests.conftest import ScriptFolder
from tests.test_run_semantics import open_transaction, outcomes, runner_params

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])


def query(sql: str) -> list[tuple[object, ...]]:
    with connections["runner"].cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


SNAPSHOT = ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SELECT 1")  # as a long report


# Retries --------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap() -> None:
    for attempt in range(8):
        base = min(retry.RETRY_BASE_DELAY * 2**attempt, retry.RETRY_MAX_DELAY)
        delays = [retry.backoff(attempt) for _ in range(200)]
        assert all(0.5 * base <= delay <= 1.5 * base for delay in delays)
        # Jitter: two runners that collided do not retry in lockstep.
        assert max(delays) - min(delays) > 0.5 * base
    assert retry.backoff(1) > retry.RETRY_BASE_DELAY * 1.5 * 0.5


def test_retries_report_growing_delays(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql", "CREATE TABLE queued (id int, note text); INSERT INTO queued VALUES (1);"
    )
    scripts.run("migrate")
    scripts.write(
        "0002_update.sql",
        """
        -- schemaops: lock_timeout=50ms retries=30
        UPDATE queued SET note = 'x' WHERE id = 1;
        """,
    )
    # A row lock: the UPDATE queues for it, times out, backs off, again.
    with open_transaction("SELECT 1 FROM queued WHERE id = 1 FOR UPDATE", release_after=4.0):
        output = scripts.run("migrate")
    delays = [float(d) for d in re.findall(r"retry \d+/30 in ([0-9.]+)s", output)]
    assert len(delays) >= 4, output
    # Exponential: each delay's base doubles, so the fourth exceeds the first even
    # at the extremes of the jitter (0.5 x 2.0 > 1.5 x 0.25).
    assert delays[3] > delays[0]
    assert outcomes("0002") == ["applied"]


# Concurrent index builds ----------------------------------------------------------


def test_concurrent_index_build_outwaits_an_old_snapshot_beyond_lock_timeout(
    scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)
    scripts.write(
        "0001_table.sql",
        "CREATE TABLE reports (id int); INSERT INTO reports SELECT generate_series(1, 1000);",
    )
    scripts.run("migrate")
    scripts.write(
        "0002_index.sql",
        """
        -- schemaops: lock_timeout=100ms retries=0
        CREATE INDEX CONCURRENTLY reports_id ON reports (id);
        """,
    )
    with open_transaction(*SNAPSHOT, release_after=1.5):
        output = scripts.run("migrate")
    # lock_timeout=100ms would have cancelled the build's wait for the old
    # snapshot; CONCURRENT_LOCK_TIMEOUT (10min) let it wait, blocking nobody.
    assert "ops:0002: line 2: waiting for old snapshots" in output
    assert outcomes("0002") == ["started", "applied"]
    assert query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'reports_id'::regclass") == [
        (True,)
    ]


def test_concurrent_budget_spent_fails_without_leaving_an_invalid_index(
    scripts: ScriptFolder,
) -> None:
    scripts.write(
        "0001_table.sql",
        "CREATE TABLE ledgers (id int); INSERT INTO ledgers SELECT generate_series(1, 1000);",
    )
    scripts.run("migrate")
    path = scripts.write(
        "0002_index.sql",
        """
        -- schemaops: concurrent_lock_timeout=300ms retries=1
        CREATE INDEX CONCURRENTLY ledgers_id ON ledgers (id);
        """,
    )
    with open_transaction(*SNAPSHOT), pytest.raises(CommandError) as error:
        scripts.run("migrate")
    message = str(error.value)
    assert f"{path}:2: could not get" in message
    assert "within lock_timeout=300ms, after 1 retries" in message
    assert "The INVALID index ledgers_id it left was dropped." in message
    assert query("SELECT to_regclass('ledgers_id')") == [(None,)]
    assert outcomes("0002") == ["started", "failed"]


def test_concurrent_index_build_reports_phase_and_percent(
    scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(progress, "REPORT_SECONDS", 0.05)
    # Each row costs the build 1 ms, so scanning 3,000 rows (14 blocks) takes
    # about 3 s: long enough to be seen several times.
    scripts.write(
        "0001_table.sql",
        """
        CREATE TABLE slow_rows (id int);
        INSERT INTO slow_rows SELECT generate_series(1, 3000);
        CREATE FUNCTION slow_key(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
        AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN $1; END $$;
        """,
    )
    scripts.run("migrate")
    scripts.write(
        "0002_index.sql", "CREATE INDEX CONCURRENTLY slow_rows_key ON slow_rows (slow_key(id));"
    )
    try:
        output = scripts.run("migrate")
    finally:
        query("SELECT 1 FROM pg_class LIMIT 1")
        with connections["runner"].cursor() as cursor:
            cursor.execute("DROP FUNCTION IF EXISTS slow_key(int) CASCADE")
    scans = re.findall(
        r"ops:0002: line 1: building index: scanning table (\d+)% \(blocks (\d+)/(\d+)\)", output
    )
    assert len(scans) >= 2, output
    percents = [int(percent) for percent, _, _ in scans]
    # PostgreSQL's first report of the scan can be a stale 100% (blocks_total
    # before blocks_done is reset); after that it only grows.
    assert len(set(percents)) >= 3
    assert percents[1:] == sorted(percents[1:])
    assert outcomes("0002") == ["started", "applied"]


def test_index_progress_text_for_each_measure() -> None:
    describe = progress.describe_index_progress
    assert describe(("building index: scanning table", 50, 200, 0, 0, 0, 0, 0)) == (
        "building index: scanning table 25% (blocks 50/200)",
        25,
    )
    assert describe(("building index: loading tuples in tree", 0, 0, 1500, 2000, 0, 0, 0)) == (
        "building index: loading tuples in tree 75% (tuples 1,500/2,000)",
        75,
    )
    assert describe(("waiting for old snapshots", 0, 0, 0, 0, 1, 3, 4242)) == (
        "waiting for old snapshots 33% (1/3 transactions done, waiting for pid 4242)",
        33,
    )
    assert describe(("initializing", 0, 0, 0, 0, 0, 0, 0)) == ("initializing", None)


# Batched backfills ----------------------------------------------------------------


def make_accounts(scripts: ScriptFolder, rows: int) -> None:
    scripts.write(
        "0001_accounts.sql",
        f"""
        CREATE TABLE accounts_b (id bigint PRIMARY KEY, plan text);
        INSERT INTO accounts_b (id) SELECT g FROM generate_series(1, {rows}) g WHERE g % 10 <> 3;
        """,
    )
    scripts.run("migrate")


def test_batched_backfill_commits_each_range_and_reports_rows_done(
    scripts: ScriptFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "REPORT_SECONDS", 0.0)
    make_accounts(scripts, 25_000)
    scripts.write(
        "0002_backfill.sql",
        """
        -- Fill in every account's plan, a thousand ids at a time.
        -- schemaops: batch size=1000
        UPDATE accounts_b SET plan = 'free'
        WHERE plan IS NULL AND id >= :batch_start AND id < :batch_end;
        """,
    )
    output = scripts.run("migrate")
    assert "ops:0002: line 3: batch 1: 900 rows done, keys up to 1,000 of 25,000 (4%)" in output
    assert "ops:0002: line 3: batch 25: 22,500 rows done, keys up to 25,000 of 25,000 (100%)" in (
        output
    )
    assert "ops:0002: line 3: 22,500 rows done in 25 batches of 1,000 keys" in output
    assert query("SELECT count(*) FROM accounts_b WHERE plan IS NULL") == [(0,)]
    assert outcomes("0002") == ["started", "applied"]


def test_failing_batch_keeps_earlier_batches_and_names_its_range(scripts: ScriptFolder) -> None:
    make_accounts(scripts, 10_000)
    with connections["runner"].cursor() as cursor:
        cursor.execute(
            "ALTER TABLE accounts_b ADD CONSTRAINT no_gold CHECK (id <> 4500 OR plan <> 'gold')"
        )
    path = scripts.write(
        "0002_backfill.sql",
        """
        -- schemaops: batch size=1000 key=id table=accounts_b
        UPDATE accounts_b SET plan = 'gold'
        WHERE plan IS NULL AND id >= :batch_start AND id < :batch_end;
        """,
    )
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    message = str(error.value)
    assert f"{path}:2 (batch of keys 4001..5000): " in message
    assert "no_gold" in message
    assert "The 4 batches before it (keys 1..4000) stayed committed" in message
    assert query("SELECT max(id), count(*) FROM accounts_b WHERE plan = 'gold'") == [(4000, 3600)]
    assert outcomes("0002") == ["started", "failed"]


def test_batch_waits_out_a_row_lock_with_retries(scripts: ScriptFolder) -> None:
    make_accounts(scripts, 5_000)
    scripts.write(
        "0002_backfill.sql",
        """
        -- schemaops: lock_timeout=100ms retries=30
        -- schemaops: batch size=1000
        UPDATE accounts_b SET plan = 'free'
        WHERE plan IS NULL AND id >= :batch_start AND id < :batch_end;
        """,
    )
    with open_transaction(
        "SELECT 1 FROM accounts_b WHERE id = 2500 FOR UPDATE", release_after=1.0
    ):
        output = scripts.run("migrate")
    assert "ops:0002: line 3 waited 100ms for a lock on relation accounts_b" in output
    assert query("SELECT count(*) FROM accounts_b WHERE plan IS NULL") == [(0,)]
    assert outcomes("0002") == ["started", "applied"]


def test_batch_walks_rows_added_while_it_ran(scripts: ScriptFolder) -> None:
    make_accounts(scripts, 3_000)
    # The statement itself adds rows beyond the largest key seen at the start,
    # as the application would while a backfill runs.
    scripts.write(
        "0002_backfill.sql",
        """
        -- schemaops: batch size=1000 table=accounts_b
        WITH filled AS (
            UPDATE accounts_b SET plan = 'free'
            WHERE plan IS NULL AND id >= :batch_start AND id < :batch_end RETURNING id
        )
        INSERT INTO accounts_b (id) SELECT id + 1000000 FROM filled WHERE id = 2999;
        """,
    )
    output = scripts.run("migrate")
    assert query("SELECT count(*) FROM accounts_b WHERE plan IS NULL") == [(0,)]
    assert "(accounts_b.id 1..1,002,999)" in output


def test_batch_key_must_be_an_integer_column(scripts: ScriptFolder) -> None:
    scripts.write(
        "0001_table.sql",
        "CREATE TABLE tagged (code text PRIMARY KEY, label text);"
        " INSERT INTO tagged VALUES ('a', NULL);",
    )
    scripts.run("migrate")
    path = scripts.write(
        "0002_backfill.sql",
        """
        -- schemaops: batch
        UPDATE tagged SET label = code WHERE code >= :batch_start AND code < :batch_end;
        """,
    )
    with pytest.raises(CommandError) as error:
        scripts.run("migrate")
    assert f"{path}:1: batch key tagged.code is text; batches walk an integer key" in str(
        error.value
    )


def test_bind_batch_replaces_placeholders_outside_strings_and_comments() -> None:
    text = (
        "UPDATE t SET note = ':batch_start' -- :batch_end\n"
        "WHERE id >= :batch_start AND id < :batch_end AND x::text <> ''"
    )
    assert bind_batch(text, 1, 101) == (
        "UPDATE t SET note = ':batch_start' -- :batch_end\n"
        "WHERE id >= 1 AND id < 101 AND x::text <> ''"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "-- schemaops: batch size=100\nUPDATE t SET a = 1 WHERE a IS NULL;",
            r"0001_b.sql:2: the batched statement does not use :batch_start and :batch_end",
        ),
        (
            "-- schemaops: atomic=true\n-- schemaops: batch\n"
            "UPDATE t SET a = 1 WHERE id >= :batch_start AND id < :batch_end;",
            r"atomic=true, but line 3: a batched statement cannot run in a transaction",
        ),
        (
            "UPDATE t SET a = 1\n-- schemaops: batch\n"
            "WHERE id >= :batch_start AND id < :batch_end;",
            r"0001_b.sql:2: a batch directive must stand on its own line",
        ),
        (
            "SELECT 1;\n-- schemaops: batch",
            r"0001_b.sql:2: a batch directive must stand on its own line",
        ),
        (
            "-- schemaops: batch size=0\n"
            "UPDATE t SET a = 1 WHERE id >= :batch_start AND id < :batch_end;",
            r"0001_b.sql:1: batch size='0' must be a whole number above 0",
        ),
        (
            "-- schemaops: batch rows=10\n"
            "UPDATE t SET a = 1 WHERE id >= :batch_start AND id < :batch_end;",
            r"0001_b.sql:1: unknown batch option 'rows'. Known: size, key, table, pause\.",
        ),
        (
            "-- schemaops: batch\n"
            "INSERT INTO u SELECT * FROM t WHERE id >= :batch_start AND id < :batch_end;",
            r"0001_b.sql:1: cannot tell which table's keys to walk for the statement at line 2",
        ),
    ],
)
def test_bad_batch_directives_are_refused_with_file_and_line(
    tmp_path: object, text: str, error: str
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "0001_b.sql").write_text(text, encoding="utf-8")
    script = Script(Location("ops", folder), "0001", "b", folder / "0001_b.sql", None)
    with pytest.raises(ScriptError, match=error):
        script.parsed  # noqa: B018


def test_batched_script_is_not_atomic_and_knows_its_batch(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "0001_b.sql").write_text(
        "ALTER TABLE t ADD COLUMN a int;\n"
        "-- schemaops: batch size=500 key=ref pause=20ms\n"
        "UPDATE t SET a = 1 WHERE a IS NULL AND ref >= :batch_start AND ref < :batch_end;\n",
        encoding="utf-8",
    )
    parsed = Script(Location("ops", folder), "0001", "b", folder / "0001_b.sql", None).parsed
    assert not parsed.atomic
    assert parsed.up.non_transactional == "line 3: a batched statement"
    (batch,) = parsed.up.batches.values()
    assert (batch.line, batch.table, batch.size, batch.key, batch.pause) == (
        2,
        "t",
        500,
        "ref",
        0.02,
    )
    assert list(parsed.up.batches) == [1]


@pytest.fixture
def fast_autovacuum() -> Iterator[None]:
    """Let autovacuum look at each database every second (the server's setting)."""
    with psycopg.connect(**runner_params(), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("ALTER SYSTEM SET autovacuum_naptime = '1s'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield
    finally:
        with psycopg.connect(**runner_params(), autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute("ALTER SYSTEM RESET autovacuum_naptime")
            conn.execute("SELECT pg_reload_conf()")


def test_autovacuum_in_the_way_is_cancelled_not_queued_behind(
    scripts: ScriptFolder, fast_autovacuum: None
) -> None:
    # A table autovacuum visits at once and crawls through (a 100 ms sleep per page).
    scripts.write(
        "0001_table.sql",
        """
        CREATE TABLE vacuumed (id int, note text) WITH (
            autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0,
            autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1
        );
        INSERT INTO vacuumed SELECT g, 'x' FROM generate_series(1, 20000) g;
        DELETE FROM vacuumed WHERE id % 2 = 0;
        """,
    )
    scripts.run("migrate")

    def vacuuming() -> bool:
        rows = query(
            "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            " AND query LIKE '%vacuumed%'"
        )
        return bool(rows)

    deadline = time.monotonic() + 60
    while not vacuuming():
        assert time.monotonic() < deadline, "autovacuum never started on the table"
        time.sleep(0.1)
    scripts.write(
        "0002_alter.sql",
        """
        -- schemaops: lock_timeout=200ms retries=0
        ALTER TABLE vacuumed ADD COLUMN extra text;
        """,
    )
    output = scripts.run("migrate")
    assert "ops:0002: line 2 cancelled autovacuum pid " in output
    assert "(ShareUpdateExclusiveLock on vacuumed)" in output
    assert outcomes("0002") == ["applied"]
