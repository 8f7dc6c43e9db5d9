"""A non-atomic script whose run is alive is ``running``, not ``interrupted``: proved
with a real ``manage.py schemaops migrate`` in another process, killed at the end."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schemaops import admin_status, health
from schemaops import status as status_module
from schemaops.models import HistoryEntry, Outcome, Tier
from schemaops.scripts.lock import LOCK_CLASS, LOCK_OBJECT
from tests.conftest import ScriptFolder

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "runner"])

SLOW_SCRIPT = """
-- schemaops: atomic=false
CREATE TABLE live_run (id int);
SELECT pg_sleep(120);
"""


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def newest_row() -> HistoryEntry | None:
    return (
        HistoryEntry.objects.using("runner")
        .filter(tier=Tier.SQL, location="ops", version="0001")
        .order_by("-id")
        .first()
    )


def backend_alive(pid: int) -> bool:
    with connections["runner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row and row[0])


def connection_params(alias: str) -> dict[str, object]:
    params = dict(connections[alias].get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    return params


@contextmanager
def session(alias: str = "runner") -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Another session on ``alias``'s database, in autocommit."""
    conn = psycopg.connect(**connection_params(alias), autocommit=True)  # type: ignore[arg-type]
    try:
        yield conn
    finally:
        conn.close()


def hold_runner_lock(
    conn: psycopg.Connection[tuple[object, ...]],
) -> tuple[int, datetime.datetime]:
    """Take the runner lock on ``conn``; return its backend's pid and start time."""
    conn.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, LOCK_OBJECT])
    row = conn.execute(
        "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    ).fetchone()
    assert row is not None
    pid, backend_start = row
    assert isinstance(pid, int)
    assert isinstance(backend_start, datetime.datetime)
    return pid, backend_start


def record_start(
    scripts: ScriptFolder, backend_pid: int | None, started_at: datetime.datetime
) -> None:
    """Write the file of ops:0001 and a ``started`` row for it, as a run would."""
    scripts.write("0001_slow.sql", SLOW_SCRIPT)
    HistoryEntry.objects.using("runner").create(
        tier=Tier.SQL,
        location="ops",
        version="0001",
        name="slow",
        outcome=Outcome.STARTED,
        started_at=started_at,
        database="runner",
        backend_pid=backend_pid,
    )


def script_state() -> str:
    """The state of ops:0001 in ``status --format json`` on the runner database."""
    out = StringIO()
    call_command("schemaops", "status", "--format", "json", "--database", "runner", stdout=out)
    (script,) = [s for s in json.loads(out.getvalue())["scripts"] if s["location"] == "ops"]
    return str(script["state"])


def validate_errors() -> str:
    """Run ``validate`` on the runner database; return its stderr ("" if it passed)."""
    err = StringIO()
    try:
        call_command(
            "schemaops", "validate", "--database", "runner", stdout=StringIO(), stderr=err
        )
    except CommandError:
        return err.getvalue() or "failed"
    return ""


class LiveRun:
    """``schemaops migrate`` applying ops:0001 (a non-atomic script that sleeps) in
    another process, its ``started`` row recorded."""

    def __init__(self, process: subprocess.Popen[str], backend_pid: int) -> None:
        self.process = process
        self.backend_pid = backend_pid

    def kill_runner(self) -> None:
        """SIGKILL the process: its backend goes on with its statement."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def end(self) -> None:
        """Kill the process and terminate its backend, and wait until it is gone."""
        if self.process.poll() is None:
            self.kill_runner()
        with session() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [self.backend_pid])
        wait_for(lambda: not backend_alive(self.backend_pid), "the backend to end")


@pytest.fixture
def live_run(scripts: ScriptFolder) -> Iterator[LiveRun]:
    scripts.write("0001_slow.sql", SLOW_SCRIPT)
    process = scripts.popen("migrate", "--lock-wait", "5")

    def started() -> bool:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"migrate exited with {process.returncode}: {err}")
        row = newest_row()
        return row is not None and row.outcome == Outcome.STARTED

    wait_for(started, "the started row of ops:0001")
    row = newest_row()
    assert row is not None
    assert row.backend_pid is not None
    pid = row.backend_pid

    def sleeping() -> bool:
        with session() as admin:
            found = admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND state = 'active'"
                " AND query LIKE '%%pg_sleep%%'",
                [pid],
            ).fetchone()
        return found is not None

    # The started row is written just before the statement is sent.
    wait_for(sleeping, "the script's statement to run")
    run = LiveRun(process, pid)
    try:
        yield run
    finally:
        run.end()
        process.communicate()


# While the run lives ---------------------------------------------------------


def test_status_json_says_running_while_the_runner_lives(live_run: LiveRun) -> None:
    assert script_state() == "running"


def test_status_text_says_running_with_its_backend(
    live_run: LiveRun, scripts: ScriptFolder
) -> None:
    output = scripts.run("status")
    assert re.search(
        rf"ops:0001 slow\s+running\s+since \S+ \S+ \(backend pid {live_run.backend_pid}\)", output
    ), output
    assert "1 script(s): 1 running." in output


def test_validate_passes_while_the_runner_lives(live_run: LiveRun, scripts: ScriptFolder) -> None:
    output = scripts.run("validate")
    assert "ops:0001: running now" in output
    assert "OK: 1 script(s), no problems." in output


def test_health_says_migrating_not_dirty_while_the_runner_lives(live_run: LiveRun) -> None:
    found = health.check("runner")
    assert found.status == health.MIGRATING
    assert found.as_dict(names=True)["dirty_names"] == []
    assert "ops:0001" not in found.pending


def test_admin_status_page_lists_a_live_run_as_running_not_as_a_problem(
    live_run: LiveRun,
) -> None:
    page = admin_status.collect("runner")
    assert page.problems == []
    assert [s.id for s in page.running] == ["ops:0001"]
    assert not page.clean


def test_a_killed_runners_backend_ends_its_statement_and_the_start_is_interrupted(
    live_run: LiveRun,
) -> None:
    live_run.kill_runner()
    # The runner's session checks for its client while a statement runs
    # (client_connection_check_interval, 1 s), so the 120 s sleep ends, and its
    # lock with it, without anyone terminating the backend.
    wait_for(lambda: not backend_alive(live_run.backend_pid), "the backend to notice", 15)
    assert script_state() == "interrupted"


# Once the run is gone --------------------------------------------------------


def test_status_says_interrupted_once_the_runner_and_its_backend_are_gone(
    live_run: LiveRun,
) -> None:
    live_run.end()
    assert script_state() == "interrupted"


def test_validate_asks_for_a_repair_once_the_runner_is_gone(live_run: LiveRun) -> None:
    live_run.end()
    errors = validate_errors()
    assert "ops:0001: a run started this non-atomic script and never finished it" in errors
    assert "repair ops:0001 --as applied|pending" in errors


def test_an_interrupted_run_says_how_far_it_got(live_run: LiveRun) -> None:
    # The CREATE TABLE (line 2 of the file written) committed and was recorded;
    # the run was killed in the pg_sleep (line 3).
    live_run.end()
    how_far = "1 of 2 statements finished (through line 2); statement 2 (line 3) may have run."
    assert how_far in validate_errors()

    out = StringIO()
    call_command("schemaops", "status", "--database", "runner", stdout=out, no_color=True)
    lines = out.getvalue().splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.lstrip().startswith("ops:0001 slow")]
    assert "interrupted" in lines[at]
    assert lines[at + 1].strip() == how_far[0].upper() + how_far[1:]

    out = StringIO()
    call_command("schemaops", "status", "--format", "json", "--database", "runner", stdout=out)
    (script,) = [s for s in json.loads(out.getvalue())["scripts"] if s["location"] == "ops"]
    assert script["finished_statements"] == [1]

    (problem,) = admin_status.collect("runner").problems
    assert how_far in problem.message


def test_health_says_dirty_once_the_runner_is_gone(live_run: LiveRun) -> None:
    live_run.end()
    found = health.check("runner")
    assert found.status == health.DIRTY
    assert found.as_dict(names=True)["dirty_names"] == ["ops:0001: interrupted"]


# How liveness is decided -------------------------------------------------------


def test_a_start_whose_pid_was_reused_by_a_later_session_is_interrupted(
    scripts: ScriptFolder,
) -> None:
    with session() as later:
        pid, backend_start = hold_runner_lock(later)
        # Written by an earlier backend with the same pid, before a restart.
        record_start(scripts, pid, backend_start - datetime.timedelta(minutes=5))
        assert script_state() == "interrupted"


def test_a_start_without_a_recorded_backend_is_interrupted(scripts: ScriptFolder) -> None:
    with session() as holder:
        hold_runner_lock(holder)
        record_start(scripts, None, timezone.now())
        assert script_state() == "interrupted"


def test_a_start_whose_backend_lives_without_the_runner_lock_is_interrupted(
    scripts: ScriptFolder,
) -> None:
    # As in the instant a killed run's backend exits: its locks are released
    # before it leaves pg_stat_activity, and the next run must not skip the script.
    with session() as connected:
        row = connected.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        assert isinstance(row[0], int)
        record_start(scripts, row[0], timezone.now())
        assert script_state() == "interrupted"


def test_status_reads_the_runner_lock_only_when_a_start_is_recorded(
    scripts: ScriptFolder,
) -> None:
    scripts.write("0001_slow.sql", SLOW_SCRIPT)

    def reads_the_lock() -> bool:
        with CaptureQueriesContext(connections["runner"]) as queries:
            status_module.collect("runner")
        return any("pg_locks" in q["sql"] for q in queries)

    assert not reads_the_lock()
    record_start(scripts, 12345, timezone.now())
    assert reads_the_lock()


# Health: a run in progress -----------------------------------------------------


def test_health_endpoint_answers_503_migrating_while_a_session_holds_the_runner_lock(
    client: Client,
) -> None:
    # A Django migration being applied has no registry row yet: only the lock says so.
    with session("default") as runner:
        hold_runner_lock(runner)
        response = client.get("/schemaops/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "migrating"


def test_health_says_dirty_rather_than_migrating_when_both(scripts: ScriptFolder) -> None:
    with session() as runner:
        hold_runner_lock(runner)
        record_start(scripts, None, timezone.now())  # an old run's interrupted start
        assert health.check("runner").status == health.DIRTY
