"""``manage.py migrate``: Django's command, recording each migration in the registry
and applying pending SQL scripts after Django's migrations."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import migrate as django_migrate
from django.db.migrations.migration import Migration
from django.utils import timezone

from schemaops import conf
from schemaops.exceptions import SchemaOpsError, for_display
from schemaops.models import Direction, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts import plan, runner
from schemaops.scripts.lock import RunnerLock


class Command(django_migrate.Command):
    help = (
        django_migrate.Command.help
        + " Then applies pending schemaops SQL scripts (unless an app label is given, "
        "--skip-scripts, or SCHEMAOPS['MIGRATE_RUNS_SCRIPTS'] is False), and records every "
        "migration and script in the schemaops registry."
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
            help="Apply pending scripts even if the linter finds errors in them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        if options.get("plan") or options.get("check_unapplied") or options.get("prune"):
            super().handle(*args, **options)
            return
        self._using = database
        self._recorder = Recorder(database)
        self._buffer: list[dict[str, Any]] = []
        self._running: tuple[Migration, Any, float, str] | None = None
        with RunnerLock(database, conf.lock_wait(), self._progress):
            try:
                super().handle(*args, **options)
            except BaseException as exc:
                self._record_failure(exc)
                raise
            finally:
                self._flush()
            run_scripts = (
                options.get("run_scripts", True)
                and conf.migrate_runs_scripts()
                and not options.get("app_label")
            )
            if run_scripts:
                self._apply_scripts(database, options["verbosity"], options.get("lint_gate", True))

    def _progress(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)
            self.stdout.flush()

    def _apply_scripts(self, database: str, verbosity: int, lint_gate: bool) -> None:
        try:
            scripts = runner.pending_scripts(database)
            runner.check_django_dependencies(database, scripts)
            if lint_gate:
                runner.lint_gate(database, scripts, self._progress)
            if scripts and verbosity >= 1:
                self.stdout.write(self.style.MIGRATE_HEADING("Running SQL scripts:"))
            runner.apply_scripts(database, scripts, self._progress)
        except SchemaOpsError as exc:
            raise CommandError(for_display(str(exc))) from exc

    def migration_progress_callback(
        self, action: str, migration: Migration | None = None, fake: bool = False
    ) -> None:
        super().migration_progress_callback(action, migration, fake)
        if migration is None:
            return
        if action in ("apply_start", "unapply_start"):
            self._running = (migration, timezone.now(), time.monotonic(), action)
        elif action in ("apply_success", "unapply_success") and self._running is not None:
            _, started_at, start, _ = self._running
            self._running = None
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
                }
            )
            self._flush()

    def _record_failure(self, exc: BaseException) -> None:
        if self._running is None:
            return
        migration, started_at, start, action = self._running
        self._running = None
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
                "error": f"{type(exc).__name__}: {exc}".strip(),
            }
        )

    def _flush(self) -> None:
        """Write buffered rows once the registry exists (it is created by a migration
        itself, so the first ones wait for it)."""
        if not self._buffer:
            return
        try:
            if not plan.registry_installed(self._using):
                return
            while self._buffer:
                self._recorder.record(**self._buffer[0])
                del self._buffer[0]
        except Exception as exc:  # recording must never hide the migration's own outcome
            self.stderr.write(f"schemaops: could not record migration history: {exc}")
