"""``manage.py migrate``: Django's command as the deploy step.

Every check of both tiers runs first (the state of the scripts, their
dependencies, the lint gate on pending scripts and pending Django migrations);
then Django's migrations run under the lock discipline
(:mod:`schemaops.django_tier.guard`), each recorded in the registry with
its attempts and lock waits; then the pending SQL scripts. All of it under the
runner lock, so instances started at once apply each step once.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TYPE_CHECKING, Any

from django.core import mail
from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import migrate as django_migrate
from django.db import DatabaseError, connections
from django.db.migrations.migration import Migration
from django.db.models.signals import pre_migrate
from django.utils import timezone
from psycopg import sql

from schemaops import backup, conf, recorder
from schemaops import status as status_module
from schemaops.display import for_display
from schemaops.exceptions import SchemaOpsError
from schemaops.lint import gate_deploy
from schemaops.locking.errors import first_line, original_error
from schemaops.management.arguments import known_database, seconds
from schemaops.models import Direction, Outcome, Tier
from schemaops.output import quiet_when_the_reader_stops
from schemaops.scripts import runner
from schemaops.scripts.lock import RunnerLock
from schemaops.scripts.script import Script

if TYPE_CHECKING:
    from schemaops.django_tier.guard import MigrationGuard

_HEADING_LINES = (
    "Operations to perform:",
    "  Apply all migrations:",
    "  Target specific migration:",
)


class Command(django_migrate.Command):
    help = (
        django_migrate.Command.help
        + " First checks both tiers (changed, missing, out-of-order or interrupted scripts, "
        "unmet depends, the lint gate on pending scripts and migrations): if one refuses, "
        "nothing runs. Applies Django's migrations under lock_timeout and statement_timeout, "
        "never queuing behind a long transaction, retrying on lock_timeout; then pending "
        "schemaops SQL scripts (unless an app label is given, --skip-scripts, or "
        "SCHEMAOPS['MIGRATE_RUNS_SCRIPTS'] is False). Records every migration and script in "
        "the schemaops registry. Instances started at once take turns. With "
        "SCHEMAOPS['BACKUP_BEFORE_MIGRATE'], takes a backup (pg_dump) first when anything is "
        "pending, and stops if it fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--skip-scripts",
            action="store_false",
            dest="run_scripts",
            help="Apply Django's migrations only, not the pending SQL scripts.",
        )
        parser.add_argument(
            "--no-lint-gate",
            action="store_false",
            dest="lint_gate",
            help="Apply pending migrations and scripts even if the linter finds errors in them.",
        )
        parser.add_argument(
            "--no-backup",
            action="store_false",
            dest="backup",
            help="Take no backup first, even with SCHEMAOPS['BACKUP_BEFORE_MIGRATE'] on.",
        )
        parser.add_argument(
            "--lock-wait",
            type=seconds,
            metavar="SECONDS",
            help="How long to wait for another instance's run to finish (the runner lock) "
            "before giving up. Default: SCHEMAOPS['LOCK_WAIT'] (600).",
        )
        # Set by ``schemaops migrate``, which runs the checks itself and calls this
        # command once per stretch of Django migrations, printing the heading once.
        parser.add_argument("--schemaops-checked", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--schemaops-no-heading", action="store_true", help=argparse.SUPPRESS)

    def execute(self, *args: Any, **options: Any) -> Any:
        with quiet_when_the_reader_stops():  # | head
            return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]  # the lock's progress may print before Django's
        database = options["database"]
        known_database(database)  # Django 5.0+ has argparse refuse it first
        if options.get("plan") or options.get("check_unapplied") or options.get("prune"):
            super().handle(*args, **options)
            return
        self._using = database
        self._recorder = recorder.Recorder(database)
        self._buffer: list[dict[str, Any]] = []
        self._running: tuple[Migration, Any, float, str] | None = None
        self._said_while_running = False
        self._registry_current = False
        self._guard: MigrationGuard | None = None  # once Django plans a migration to run
        self._planned_seen = False
        self._pending_scripts: list[Script] = []
        self._backup = False  # SCHEMAOPS["BACKUP_BEFORE_MIGRATE"], this run (see _check)
        self._stack = contextlib.ExitStack()
        run_scripts = bool(
            options.get("run_scripts", True)
            and conf.migrate_runs_scripts()
            and not options.get("app_label")
        )
        if options.get("schemaops_no_heading"):
            self._hide_heading()
        try:
            status_module.ensure_connected(database)
            wait = options.get("lock_wait")
            with RunnerLock(database, conf.lock_wait() if wait is None else wait, self._progress):
                scripts = self._check(database, options, run_scripts)
                self._pending_scripts = scripts
                self._migrate(*args, **options)
                if run_scripts:
                    self._apply_scripts(database, scripts)
        except SchemaOpsError as exc:
            raise CommandError(for_display(str(exc))) from exc

    def _check(self, database: str, options: dict[str, Any], run_scripts: bool) -> list[Script]:
        """The checks of the scripts, before the first step of either tier; return
        the scripts the run will apply. The lint gate follows, once Django has
        planned its migrations (:meth:`_gate`)."""
        self._gate_scripts: list[Script] | None = None
        # ``schemaops migrate`` takes the backup itself, once for all its calls.
        self._backup = bool(
            options.get("backup", True)
            and conf.backup_before_migrate()
            and not options.get("schemaops_checked")
            and not _creating_test_database(options)
        )
        if options.get("schemaops_checked"):
            return []
        if _creating_test_database(options):
            allow_truncate(database)
        scripts: list[Script] = []
        if run_scripts:
            scripts = runner.pending_scripts(database)
            runner.check_django_dependencies(database, scripts)
        if options.get("lint_gate", True) and not _creating_test_database(options):
            self._gate_scripts = scripts
        return scripts

    def _planned(self, plan: list[tuple[Migration, bool]] | None = None, **kwargs: Any) -> None:
        """On ``pre_migrate``: Django has planned the migrations it applies and run none
        yet. The lint gate judges them; the guard is installed if there are any (a run
        with nothing to apply imports none of it). Sent once per app; acted on once."""
        if kwargs.get("using") != self._using or self._planned_seen:
            return
        self._planned_seen = True
        scripts, self._gate_scripts = self._gate_scripts, None
        if scripts is not None:
            planned = {(m.app_label, m.name) for m, backwards in plan or () if not backwards}
            gate_deploy(self._using, scripts, self._progress, planned=planned)
        pending = len(plan or ()) + len(self._pending_scripts)
        if self._backup and pending:
            backup.before_migrate(self._using, pending, self._progress)
        if plan:
            from schemaops.django_tier.guard import MigrationGuard

            self._guard = MigrationGuard(self._using, self._progress, self._applied)
            self._stack.enter_context(self._guard.installed())

    def _migrate(self, *args: Any, **options: Any) -> None:
        """Django's own run, under the guard, gated, every migration recorded."""
        pre_migrate.connect(self._planned, dispatch_uid=f"schemaops-gate-{id(self)}")
        try:
            with self._stack:
                super().handle(*args, **options)
        except BaseException as exc:
            self._record_failure(exc)
            if isinstance(exc, DatabaseError) and self._failed_migration:
                raise CommandError(self._database_failure(exc)) from exc
            raise
        finally:
            pre_migrate.disconnect(dispatch_uid=f"schemaops-gate-{id(self)}")
            self._flush()

    def _progress(self, message: str) -> None:
        if self.verbosity >= 1:
            if self._running is not None and not self._said_while_running:
                self.stdout.write("")  # off the line Django's "Applying ..." left open
                self._said_while_running = True
            self.stdout.write(message)
            self.stdout.flush()

    def _hide_heading(self) -> None:
        """Leave out Django's "Operations to perform" heading: the caller printed it."""
        write = self.stdout.write

        def filtered(msg: str = "", *args: Any, **kwargs: Any) -> None:
            if not any(str(msg).startswith(line) for line in _HEADING_LINES):
                write(msg, *args, **kwargs)

        self.stdout.write = filtered  # type: ignore[method-assign]

    def _apply_scripts(self, database: str, checked: list[Script]) -> None:
        # Checked before the Django migrations; a RunScript may have applied some since.
        scripts = runner.pending_scripts(database) if checked else []
        if not scripts:
            if self.verbosity >= 1:
                self.stdout.write("No SQL scripts to apply.")
            return
        if self.verbosity >= 1:
            self.stdout.write(self.style.MIGRATE_HEADING("Running SQL scripts:"))
        runner.apply_scripts(database, scripts, self._progress)

    def migration_progress_callback(
        self, action: str, migration: Migration | None = None, fake: bool = False
    ) -> None:
        super().migration_progress_callback(action, migration, fake)
        if migration is None:
            return
        if action in ("apply_start", "unapply_start"):
            self._running = (migration, timezone.now(), time.monotonic(), action)
            self._said_while_running = False
            if not fake and self._guard is not None:
                self._guard.started(migration)
        elif action in ("apply_success", "unapply_success") and self._running is not None:
            _, started_at, start, _ = self._running
            self._running = None
            attempts, waited_ms, recorded = self._finished()
            if recorded:
                return
            if action == "apply_success":
                outcome, direction = (Outcome.FAKED if fake else Outcome.APPLIED), Direction.UP
            else:
                outcome, direction = (Outcome.FAKED if fake else Outcome.REVERTED), Direction.DOWN
            self._buffer.append(
                {
                    "tier": Tier.DJANGO,
                    "location": migration.app_label,
                    "version": migration.name,
                    "name": migration.name,
                    "direction": direction,
                    "outcome": outcome,
                    "started_at": started_at,
                    "duration_ms": int((time.monotonic() - start) * 1000),
                    "attempts": None if fake else attempts,
                    "waited_ms": None if fake else waited_ms,
                }
            )
            self._flush()

    def _finished(self) -> tuple[int, int, bool]:
        return (1, 0, False) if self._guard is None else self._guard.finished()

    def _applied(self, migration: Migration, attempts: int, waited_ms: int) -> bool:
        """Record ``migration`` as applied inside its own transaction (the guard calls
        this once it has run): it commits with Django's record of it, so a run
        killed between the two cannot leave one without the other, and costs no
        commit of its own. Returns False, leaving it to the progress callback, while
        earlier rows wait for the registry to exist."""
        if self._running is None or self._buffer or migration.app_label == "schemaops":
            return False  # schemaops's own migrations change the registry's table
        if not self._registry_current:
            if not recorder.registry_current(self._using):
                return False
            self._registry_current = True
        _, started_at, start, action = self._running
        forwards = action == "apply_start"
        self._recorder.record(
            tier=Tier.DJANGO,
            location=migration.app_label,
            version=migration.name,
            name=migration.name,
            direction=Direction.UP if forwards else Direction.DOWN,
            outcome=Outcome.APPLIED if forwards else Outcome.REVERTED,
            started_at=started_at,
            duration_ms=int((time.monotonic() - start) * 1000),
            attempts=attempts,
            waited_ms=waited_ms,
        )
        return True

    @property
    def _failed_migration(self) -> str:
        return getattr(self, "_failed_label", "")

    def _record_failure(self, exc: BaseException) -> None:
        if self._running is None:
            return
        migration, started_at, start, action = self._running
        self._running = None
        attempts, waited_ms, _ = self._finished()
        self._failed_label = f"{migration.app_label}.{migration.name}"
        self._failed_atomic = bool(migration.atomic)
        error = (
            self._database_failure(exc)
            if isinstance(exc, DatabaseError)
            else f"{type(exc).__name__}: {exc}".strip()
        )
        self._buffer.append(
            {
                "tier": Tier.DJANGO,
                "location": migration.app_label,
                "version": migration.name,
                "name": migration.name,
                "direction": Direction.UP if action == "apply_start" else Direction.DOWN,
                "outcome": Outcome.FAILED,
                "started_at": started_at,
                "duration_ms": int((time.monotonic() - start) * 1000),
                "error": error,
                "attempts": attempts,
                "waited_ms": waited_ms,
            }
        )

    def _database_failure(self, exc: BaseException) -> str:
        """What the server said about the failed migration, and what was kept."""
        failure = original_error(exc)
        said = str(failure).strip() or first_line(failure)
        kept = (
            "Nothing of it was kept (its transaction rolled back)."
            if getattr(self, "_failed_atomic", True)
            else "It is not atomic: the statements before the failing one stayed applied; "
            "make them safe to repeat before running migrate again."
        )
        return f"{self._failed_migration} failed: {said}\n{kept}"

    def _flush(self) -> None:
        """Write buffered rows once the registry exists (it is created by a migration
        itself, so the first ones wait for it)."""
        if not self._buffer:
            return
        try:
            if not self._registry_current:
                if not recorder.registry_current(self._using):
                    return  # its table, or a column of it, comes with a migration to run
                self._registry_current = True
            while self._buffer:
                self._recorder.record(**self._buffer[0])
                del self._buffer[0]
        except Exception as exc:  # recording must never hide the migration's own outcome
            self.stderr.write(f"schemaops: could not record migration history: {exc}")


def allow_truncate(using: str) -> None:
    """Let TRUNCATE empty the registry on this (test) database, for this session and
    the next: Django's TransactionTestCase and pytest-django flush every table with
    it between tests. Anywhere else the registry refuses TRUNCATE."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('schemaops.allow_truncate', 'on', false)")
        cursor.execute("SELECT current_database()")
        row = cursor.fetchone()
        assert row is not None
        cursor.execute(
            sql.SQL("ALTER DATABASE {} SET schemaops.allow_truncate = 'on'")
            .format(sql.Identifier(str(row[0])))
            .as_string(cursor.connection)
        )


def _creating_test_database(options: dict[str, Any]) -> bool:
    """Whether Django's test runner (or pytest-django) is creating a test database:
    its ``migrate`` runs with ``run_syncdb`` once the test environment is set up
    (which gives ``django.core.mail`` its ``outbox``). Nothing there is in use."""
    return bool(options.get("run_syncdb")) and hasattr(mail, "outbox")
