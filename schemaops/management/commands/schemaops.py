"""``manage.py schemaops``: the schemaops subcommands."""

from __future__ import annotations

import argparse
import datetime
import getpass
import itertools
import json
import re
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from schemaops import conf
from schemaops import status as status_module
from schemaops.cli import add_lint_options
from schemaops.exceptions import (
    SchemaOpsError,
    ScriptError,
    ScriptNotFound,
    UnsafeStateError,
    for_display,
)
from schemaops.lint import gate
from schemaops.lint import migrations as lint_migrations
from schemaops.lint import project as lint_module
from schemaops.locking.errors import first_line, original_error, server_details
from schemaops.management.arguments import seconds, whole_number
from schemaops.models import Direction, HistoryEntry, Outcome, Tier
from schemaops.output import quiet_when_the_reader_stops
from schemaops.recorder import Recorder
from schemaops.scripts import adoption, loader, plan, runner
from schemaops.scripts.executor import ScriptExecutor
from schemaops.scripts.lock import RunnerLock

_SLUG = re.compile(r"[^a-z0-9]+")
_TIMESTAMP_DIGITS = 12  # versions this long or longer are timestamps (YYYYMMDDHHMMSS)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a subcommand ``--database``, and ``-v`` after the subcommand's name."""
    parser.add_argument(
        "--database",
        default=DEFAULT_DB_ALIAS,
        help='Nominates a database to use. Defaults to the "default" database.',
    )
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        # SUPPRESS keeps the value given before the subcommand's name.
        default=argparse.SUPPRESS,
        help="Verbosity level; 0=minimal output, 1=normal output, 2=verbose output.",
    )


def _add_allow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-changed",
        action="store_true",
        default=None,
        help="Run although an applied script's file changed (SCHEMAOPS['ALLOW_CHANGED']).",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        default=None,
        help="Run although an applied script's file is gone (SCHEMAOPS['ALLOW_MISSING']).",
    )
    parser.add_argument(
        "--allow-out-of-order",
        action="store_true",
        default=None,
        help="Apply pending scripts older than the newest applied one "
        "(SCHEMAOPS['ALLOW_OUT_OF_ORDER']).",
    )
    parser.add_argument(
        "--lock-wait",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="How long to wait for another run to finish (SCHEMAOPS['LOCK_WAIT'], 600).",
    )


def _format_time(value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def _when(entry: plan.Latest) -> str:
    """When a change's row happened: its end, or its start while it has none."""
    return _format_time(entry.finished_at or entry.started_at)


class Command(BaseCommand):
    help = (
        "schemaops: the SQL scripts beside Django's migrations, their state, history and "
        "repair. Run 'manage.py schemaops SUBCOMMAND --help' for each subcommand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(title="subcommands", dest="subcommand", required=True)

        def add(name: str, summary: str, description: str) -> argparse.ArgumentParser:
            sub: argparse.ArgumentParser = subparsers.add_parser(
                name, help=summary, description=f"{summary} {description}".strip()
            )
            _add_common_arguments(sub)
            sub.set_defaults(handler=getattr(self, f"handle_{name}"))
            return sub

        status = add(
            "status",
            "Show both tiers: Django migrations and SQL scripts, applied or pending.",
            "Pending migrations and every script are listed; applied migrations and the "
            "registry's latest rows with -v 2. --format json prints one JSON object (keys in "
            "docs/commands/status.md).",
        )
        status.add_argument("--format", choices=["text", "json"], default="text")

        new = add(
            "new",
            "Write the next script file, with its header and both sections.",
            "The version follows the location's newest one (a sequence, or a UTC timestamp "
            "when the location uses timestamps).",
        )
        new.add_argument("name", help="What the script does, e.g. 'add gin index to logs'.")
        where = new.add_mutually_exclusive_group()
        where.add_argument("--app", metavar="LABEL", help="Write into this app's sqlmigrations/.")
        where.add_argument("--location", metavar="NAME", help="Write into this location.")
        new.add_argument("--author", default=None, help="Author for the header (OS user).")

        add(
            "plan",
            "Show what 'schemaops migrate' would run, in order, in both tiers.",
            "Scripts that depend on a Django migration come right after it.",
        )

        migrate = add(
            "migrate",
            "Apply pending Django migrations and scripts; scripts with depends= on a Django "
            "migration run as soon as it is applied.",
            "Everything is checked before anything runs: malformed scripts, changed, missing, "
            "out-of-order, interrupted and failed scripts stop the run. Each statement gets "
            "SCHEMAOPS['LOCK_TIMEOUT'] (default 1s) with retries and backoff, never queues "
            "behind a long transaction, and reports progress: index builds (phase, percent), "
            "batched backfills (rows done).",
        )
        migrate.add_argument(
            "--target", metavar="LOCATION:VERSION", help="Stop after this script."
        )
        migrate.add_argument(
            "--no-lint-gate",
            action="store_false",
            dest="lint_gate",
            help="Apply pending scripts even if the linter finds errors in them.",
        )
        _add_allow_arguments(migrate)

        rollback = add(
            "rollback",
            "Run the down sections of applied scripts, newest first.",
            "Without --to, rolls back --steps scripts (1). Refuses, before running anything, "
            "when a selected script has no down section.",
        )
        rollback.add_argument("location", nargs="?", help="Only scripts of this location.")
        how_far = rollback.add_mutually_exclusive_group()
        how_far.add_argument(
            "--to", metavar="VERSION", help="Roll back every script newer than VERSION."
        )
        how_far.add_argument(
            "--steps", type=whole_number(1), default=None, help="How many scripts (1)."
        )
        rollback.add_argument("--lock-wait", type=seconds, default=None, metavar="SECONDS")

        add(
            "validate",
            "Check the scripts against the registry; exit 1 with one line per problem.",
            "Reports malformed files, changed checksums (both values), missing files, "
            "out-of-order pending scripts and interrupted or failed scripts. Exit 0 when clean.",
        )

        history = add("history", "Show the registry, newest first.", "")
        history.add_argument("--format", choices=["text", "json"], default="text")
        history.add_argument(
            "--limit", type=whole_number(0), default=50, help="Rows to show (50; 0: all)."
        )
        history.add_argument("--tier", choices=[t.value for t in Tier], default=None)
        history.add_argument("--location", default=None, help="Only this app or location.")

        repair = add(
            "repair",
            "Resolve an interrupted, failed or changed script by recording its real state.",
            "Runs no SQL: appends a row saying the script is applied (recording the file's "
            "current checksum) or pending.",
        )
        repair.add_argument("script", metavar="LOCATION:VERSION")
        repair.add_argument("--as", dest="as_state", choices=["applied", "pending"], required=True)
        repair.add_argument("--reason", required=True, help="Why; kept in the registry.")

        baseline = add(
            "baseline",
            "Mark every script of a location up to VERSION as applied, without running them.",
            "For a database that already has those changes (brought over from "
            "golang-migrate, Flyway or dbmate).",
        )
        baseline.add_argument(
            "script",
            metavar="LOCATION:VERSION | LOCATION",
            help="Up to which script; with --from, the location only (the other tool says "
            "how far).",
        )
        baseline.add_argument("--reason", default="", help="Kept in the registry.")
        baseline.add_argument(
            "--from",
            dest="from_tool",
            choices=sorted(adoption.TOOLS),
            help="Baseline what this tool applied, read from its own history table on the "
            "same database (golang-migrate and dbmate: schema_migrations; Flyway: "
            "flyway_schema_history). Refuses when it says a migration is dirty or failed.",
        )
        baseline.add_argument(
            "--table", help="The other tool's history table, if not its default name."
        )

        lint = add(
            "lint",
            "Lint the SQL scripts and the Django migrations for statements that lock or "
            "break production.",
            "Scripts are linted per location in version order, Django migrations along the "
            "migration plan, with no database (unless --pending). Exit 0: no error finding; "
            "1: error findings; 2: bad input or usage. Rules: docs/rules/.",
        )
        lint.add_argument(
            "app_labels",
            nargs="*",
            metavar="APP_LABEL",
            help="Only these apps' migrations and scripts (a SCRIPT_DIRS location by its name). "
            "Default: every app.",
        )
        lint.add_argument(
            "--pending",
            action="store_true",
            help="Only what is not applied yet on --database (reads the database; its server "
            "version is the target unless --pg-version says otherwise).",
        )
        add_lint_options(lint)

        fake = add("fake", "Mark one script as applied without running it.", "")
        fake.add_argument("script", metavar="LOCATION:VERSION")
        fake.add_argument("--reason", default="", help="Kept in the registry.")

    def execute(self, *args: Any, **options: Any) -> Any:
        with quiet_when_the_reader_stops():  # | head
            return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        database = options["database"]
        if database not in connections:
            choices = ", ".join(repr(alias) for alias in connections)
            raise CommandError(f"Unknown database {database!r}. Choose one of: {choices}.")
        try:
            status_module.ensure_postgresql(database)
            # lint reads no database unless --pending; new writes a file only.
            offline = options["subcommand"] == "new" or (
                options["subcommand"] == "lint" and not options.get("pending")
            )
            if not offline:
                status_module.ensure_connected(database)
            options["handler"](**options)
        except SchemaOpsError as exc:
            raise CommandError(for_display(str(exc))) from exc
        except DatabaseError as exc:
            # Whatever query failed, a person gets PostgreSQL's words, not a traceback.
            failure = original_error(exc)
            raise CommandError(
                f"Database {database!r} refused a query of schemaops "
                f"{options['subcommand']}: {first_line(failure)}{server_details(failure)}\n"
                "If the registry is missing or old, run manage.py migrate schemaops "
                f"--database {database}; otherwise check the database, then run the command "
                "again."
            ) from exc

    # Output helpers -------------------------------------------------------

    def progress(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def lock(self, database: str, wait: float | None) -> RunnerLock:
        return RunnerLock(database, conf.lock_wait() if wait is None else wait, self.progress)

    def require_registry(self, database: str) -> None:
        """Refuse a subcommand that writes the registry before its table exists."""
        if not plan.registry_installed(database):
            raise CommandError(
                f"The schemaops registry is not on database {database!r} yet, so there is "
                f"nowhere to record this. Run: manage.py migrate schemaops --database {database}"
                ", then this command again."
            )

    # lint --------------------------------------------------------------------

    def handle_lint(
        self,
        *,
        database: str,
        app_labels: list[str],
        pending: bool,
        format: str,
        verbosity: int,
        **options: Any,
    ) -> None:
        try:
            run = lint_module.lint_project(
                options, app_labels=app_labels, using=database, pending=pending
            )
        except lint_module.UsageError as exc:
            raise CommandError(for_display(str(exc)), returncode=2) from exc
        self.stdout.write(
            lint_module.report.render(run.findings, run.units, format, detail=run.detail)
        )
        if verbosity >= 2:
            for skipped in run.not_rendered:
                self.stderr.write(f"Not linted (rendering its SQL failed): {skipped}")
        if run.errors:
            raise CommandError(
                for_display("\n".join(run.errors))
                + "\nThese files were not linted: fix them (docs/scripts.md).",
                returncode=2,
            )
        errors = [f for f in run.findings if f.severity == "error"]
        if errors:
            raise CommandError(f"{len(errors)} error finding(s).", returncode=1)

    # status ------------------------------------------------------------------

    def handle_status(self, *, database: str, format: str, verbosity: int, **_: Any) -> None:
        status = status_module.collect(database)
        if format == "json":
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
            return

        pending = status.pending_migrations
        self.stdout.write(self.style.MIGRATE_HEADING(f"Django migrations ({database})"))
        for app, group in itertools.groupby(status.migrations, key=lambda m: m.app):
            states = list(group)
            app_pending = [m for m in states if not m.applied]
            summary = f"{len(states) - len(app_pending)} applied"
            if app_pending:
                summary += ", " + self.style.WARNING(f"{len(app_pending)} pending")
            self.stdout.write(f"  {app}: {summary}")
            for state in states:
                if not state.applied:
                    self.stdout.write(f"    [ ] {state.name}")
                elif verbosity >= 2:
                    self.stdout.write(f"    [X] {state.name}")
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(pending)} Django migration(s) pending: run manage.py migrate."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("All Django migrations are applied."))

        self.stdout.write(self.style.MIGRATE_HEADING(f"SQL scripts ({database})"))
        for error in status.script_errors:
            self.stdout.write(self.style.ERROR(f"  {for_display(error)}"))
        if not status.scripts and not status.script_errors:
            self.stdout.write("  No scripts: add .sql files to an app's sqlmigrations/ folder.")
        width = max((len(s.id) + len(s.name) for s in status.scripts), default=0) + 1
        for script in status.scripts:
            label = f"{script.id} {script.name}".ljust(width)
            when = ""
            if script.latest is not None and script.is_applied:
                when = _when(script.latest)
            elif script.latest is not None and script.state == plan.State.RUNNING:
                when = (
                    f"since {_format_time(script.latest.started_at)} "
                    f"(backend pid {script.latest.backend_pid})"
                )
            shown = script.state.value.ljust(11)
            if script.state in (plan.State.PENDING, plan.State.REVERTED, plan.State.RUNNING):
                shown = self.style.WARNING(shown)
            elif script.state not in (plan.State.APPLIED, plan.State.BASELINED):
                shown = self.style.ERROR(shown)
            self.stdout.write(f"  {label} {shown} {when}".rstrip())
            if script.state == plan.State.INTERRUPTED:
                how_far = script.how_far()
                self.stdout.write(f"    {how_far[0].upper()}{how_far[1:]}")
        counts: dict[str, int] = {}
        for script in status.scripts:
            counts[script.state.value] = counts.get(script.state.value, 0) + 1
        if status.scripts:
            summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            self.stdout.write(f"{len(status.scripts)} script(s): {summary}.")

        self.stdout.write(self.style.MIGRATE_HEADING("Registry (latest row of each change)"))
        if not status.registry_installed:
            self.stdout.write(
                self.style.WARNING(
                    "  The registry table does not exist yet: run manage.py migrate schemaops."
                )
            )
        elif not status.registry:
            self.stdout.write("  No changes recorded yet.")
        elif verbosity < 2:
            newest = max(status.registry, key=lambda e: e.pk)
            self.stdout.write(
                f"  {len(status.registry)} change(s) recorded; newest: {newest.location}:"
                f"{newest.version} {newest.outcome} at {_when(newest)} "
                "(-v 2 lists them; 'schemaops history' shows every row)."
            )
        else:
            for entry in status.registry:
                duration = "" if entry.duration_ms is None else f" {entry.duration_ms} ms"
                self.stdout.write(
                    f"  {_when(entry)} {entry.tier:6} "
                    f"{entry.location}:{entry.version} {entry.direction} "
                    f"{entry.outcome}{duration}"
                )

    # new ---------------------------------------------------------------------

    def handle_new(
        self,
        *,
        database: str,
        name: str,
        app: str | None,
        location: str | None,
        author: str | None,
        **_: Any,
    ) -> None:
        target = self._new_location(app, location)
        existing = loader.scripts_in(target) if target.path.is_dir() else []
        slug = _SLUG.sub("_", name.lower()).strip("_")
        if not slug:
            raise CommandError(f"Name {name!r} has no letters or digits to make a file name of.")
        now = timezone.now()
        newest = existing[-1] if existing else None
        if newest is not None and len(newest.version) >= _TIMESTAMP_DIGITS:
            version = now.strftime("%Y%m%d%H%M%S")
            if int(version) <= newest.number:
                version = str(newest.number + 1)
        else:
            width = len(newest.version) if newest else 4
            version = str((newest.number if newest else 0) + 1).zfill(width)
        try:
            who = author or getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        header = (
            f"-- Purpose: {name}\n"
            f"-- Author: {who}\n"
            f"-- Date: {now:%Y-%m-%d}\n"
            "-- Depends: none. To run after a Django migration or another script, add e.g.\n"
            "--   -- schemaops: depends=app_label.0002_migration_name,location:0001\n"
            "-- Directives (optional): atomic=false lock_timeout=1s statement_timeout=0 "
            "retries=10\n"
        )
        # Follow the location's layout: golang-migrate's up/down pairs, or one file
        # with dbmate's sections.
        if newest is not None and newest.down_path is not None:
            files = {
                target.path / f"{version}_{slug}.up.sql": header + "\n",
                target.path / f"{version}_{slug}.down.sql": f"-- Undoes: {name}\n\n",
            }
        else:
            files = {
                target.path / f"{version}_{slug}.sql": header
                + "\n-- migrate:up\n\n\n-- migrate:down\n\n"
            }
        for path in files:
            if path.exists():
                raise CommandError(f"{loader.display(path)} already exists.")
        try:
            target.path.mkdir(parents=True, exist_ok=True)
            for path, text in files.items():
                path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(
                f"Cannot write {loader.display(path)}: {exc.strerror or exc}. Check the "
                "folder's permissions, or choose another location (--location)."
            ) from exc
        for path in files:
            self.stdout.write(f"Created {loader.display(path)}")
        self.stdout.write(f"Refer to it as {target.name}:{version}.")

    def _new_location(self, app: str | None, location: str | None) -> loader.Location:
        found = {loc.name: loc for loc in loader.locations()}
        if app is not None:
            try:
                app_config = apps.get_app_config(app)
            except LookupError:
                raise CommandError(f"No installed app with label {app!r}.") from None
            return found.get(
                app, loader.Location(app, Path(app_config.path) / loader.SCRIPTS_FOLDER)
            )
        if location is not None:
            if location not in found:
                known = ", ".join(sorted(found)) or "none"
                raise CommandError(
                    f"No location {location!r} (known: {known}). Use --app LABEL to start an "
                    "app's sqlmigrations/ folder, or add the folder to SCHEMAOPS['SCRIPT_DIRS']."
                )
            return found[location]
        if len(found) == 1:
            return next(iter(found.values()))
        known = ", ".join(sorted(found)) or "none yet"
        raise CommandError(f"Say where: --app LABEL or --location NAME (locations: {known}).")

    # plan / migrate ----------------------------------------------------------

    def handle_plan(self, *, database: str, **_: Any) -> None:
        scripts = runner.pending_scripts(database)
        steps = runner.interleaved(database, scripts)
        if not steps:
            self.stdout.write("Nothing to do: both tiers are up to date.")
            return
        findings: dict[str, list[str]] = {}
        for finding in gate.lint_deploy(database, scripts):
            findings.setdefault(finding.path, []).append(
                f"{finding.severity} at line {finding.line}: {finding.rule}"
            )
        graph = MigrationLoader(connections[database], ignore_no_migrations=True).graph
        self.stdout.write(self.style.MIGRATE_HEADING(f"Planned steps ({database}):"))
        for number, step in enumerate(steps, start=1):
            if step.script is not None:
                parsed = step.script.parsed
                kind = (
                    "atomic"
                    if parsed.atomic
                    else f"non-atomic ({parsed.up.non_transactional or 'atomic=false'})"
                )
                path = loader.display(step.script.path)
            else:
                assert step.migration is not None
                migration = graph.nodes[step.migration]
                kind = "atomic" if migration.atomic else "non-atomic (atomic = False)"
                path = loader.display(lint_migrations.migration_path(migration))
            found = findings.get(path, [])
            verdict = "; ".join(found) if found else "clean"
            self.stdout.write(f"  {number:3}. {step}  [{kind}; lint: {verdict}]")

    def handle_migrate(
        self,
        *,
        database: str,
        target: str | None,
        allow_changed: bool | None,
        allow_missing: bool | None,
        allow_out_of_order: bool | None,
        lock_wait: float | None,
        lint_gate: bool,
        verbosity: int,
        **_: Any,
    ) -> None:
        options = runner.Options(allow_changed, allow_missing, allow_out_of_order)
        with self.lock(database, lock_wait):
            # Every check of both tiers before the first step of either.
            scripts = runner.pending_scripts(database, target=target, options=options)
            steps = runner.interleaved(database, scripts)
            if lint_gate:
                runner.lint_gate(database, scripts, self.progress)
            calls = 0

            def migrate(*args: str) -> None:
                nonlocal calls
                call_command(
                    "migrate",
                    *args,
                    database=database,
                    verbosity=verbosity,
                    # The stream itself: an OutputWrapper around ours would end each
                    # write with a newline ("Applying ..." and "OK" on two lines).
                    stdout=self.stdout._out,
                    run_scripts=False,
                    schemaops_checked=True,
                    schemaops_no_heading=calls > 0,
                )
                calls += 1

            stretch: list[tuple[str, str]] = []  # migrations since the last script
            for index, step in enumerate(steps):
                if step.script is not None:
                    runner.apply_scripts(database, [step.script], self.progress)
                    continue
                assert step.migration is not None
                stretch.append(step.migration)
                following = steps[index + 1] if index + 1 < len(steps) else None
                if following is None or following.script is None:
                    continue  # the migrate calls before the next script cover it
                if any(s.migration is not None for s in steps[index + 1 :]):
                    # Each app to its last migration of the stretch, in plan order:
                    # the script may follow migrations of several apps (the ones it
                    # depends on, and schemaops's own, which create the registry).
                    last = {app: (app, name) for app, name in stretch}
                    for node in sorted(last.values(), key=stretch.index):
                        migrate(*node)
                else:
                    migrate()
                stretch = []
            if target is None:
                # Django migrations after the last script, if any, and the
                # post-migrate signals of a full run.
                migrate()
        if not scripts:
            self.stdout.write("No pending scripts.")

    # rollback ----------------------------------------------------------------

    def handle_rollback(
        self,
        *,
        database: str,
        location: str | None,
        to: str | None,
        steps: int | None,
        lock_wait: float | None,
        **_: Any,
    ) -> None:
        with self.lock(database, lock_wait):
            found = plan.load(database)
            blocking = [
                p
                for p in plan.problems(found, allow_out_of_order=True)
                if p.kind in ("interrupted", "failed")
            ]
            if blocking:
                raise UnsafeStateError(
                    "\n".join(str(p) for p in blocking) + "\nNothing was rolled back."
                )
            applied = [
                s for s in found if s.is_applied and (location is None or s.location == location)
            ]
            if location is not None and not any(s.location == location for s in found):
                raise ScriptNotFound(f"No location {location!r} with scripts.")
            # Newest first: within a location by version (as golang-migrate's
            # down does), across locations by when they were applied.
            if location is not None:
                applied.sort(key=lambda s: s.number, reverse=True)
            else:
                applied.sort(key=lambda s: s.latest.pk if s.latest else 0, reverse=True)
            if to is not None:
                if location is None:
                    locations = {s.location for s in applied}
                    if len(locations) > 1:
                        raise CommandError(
                            f"--to {to} needs a LOCATION (scripts are applied in: "
                            f"{', '.join(sorted(locations))})."
                        )
                if not to.isdigit():
                    raise CommandError(f"--to {to!r} is not a version number.")
                selected = [s for s in applied if s.number > int(to)]
            else:
                selected = applied[: steps or 1]
            if not selected:
                self.stdout.write("Nothing to roll back.")
                return
            for status in selected:
                if status.script is None:
                    raise ScriptNotFound(
                        f"{status.id} is applied but its file is gone, so its down section "
                        "cannot run. Restore the file. Nothing was rolled back."
                    )
                if status.script.parsed.down is None:
                    raise ScriptError(
                        f"{status.id} ({status.script.path}) has no down section, so it cannot "
                        "be rolled back. Add a -- migrate:down section (or a .down.sql file). "
                        "Nothing was rolled back."
                    )
            executor = ScriptExecutor(database, self.progress)
            for status in selected:
                assert status.script is not None
                self.progress(f"  Reverting {status.id} {status.name}...")
                entry = executor.revert(status.script)
                self.progress(f"  Reverted {status.id} in {entry.duration_ms} ms")

    # validate / history --------------------------------------------------------

    def handle_validate(self, *, database: str, **_: Any) -> None:
        try:
            found = plan.load(database)
        except ScriptError as exc:
            for line in str(exc).splitlines():
                self.stderr.write(for_display(line))
            raise CommandError("Validation failed: malformed script files.") from exc
        lines: list[str] = []
        for status in found:
            if status.script is not None and status.state in plan.RUNNABLE_STATES:
                try:
                    status.script.parsed  # noqa: B018
                except ScriptError as exc:
                    lines.append(str(exc))
        lines.extend(str(p) for p in plan.validation_problems(found))
        for line in lines:
            self.stderr.write(for_display(line))
        if lines:
            raise CommandError(f"Validation failed: {len(lines)} problem(s).")
        for status in found:
            if status.state == plan.State.RUNNING:
                self.stdout.write(f"{status.id}: running now; not a problem while its run lives.")
        self.stdout.write(self.style.SUCCESS(f"OK: {len(found)} script(s), no problems."))

    def handle_history(
        self,
        *,
        database: str,
        format: str,
        limit: int,
        tier: str | None,
        location: str | None,
        **_: Any,
    ) -> None:
        if not plan.registry_installed(database):
            self.stdout.write(
                f"No history yet: the schemaops registry is not on database {database!r}. "
                f"Run manage.py migrate schemaops --database {database} (or manage.py migrate)."
            )
            return
        rows = HistoryEntry.objects.using(database).order_by("-id")
        if tier:
            rows = rows.filter(tier=tier)
        if location:
            rows = rows.filter(location=location)
        if limit:
            rows = rows[:limit]
        entries = list(rows)
        if format == "json":
            self.stdout.write(
                json.dumps(
                    [
                        {
                            **status_module.entry_as_dict(entry),
                            "database_user": entry.db_user,
                            "os_user": entry.os_user,
                            "host": entry.host,
                            "note": entry.note,
                        }
                        for entry in entries
                    ],
                    indent=2,
                )
            )
            return
        if not entries:
            self.stdout.write("No history yet.")
        for entry in entries:
            duration = "" if entry.duration_ms is None else f" {entry.duration_ms} ms"
            line = (
                f"{_format_time(entry.started_at)} {entry.tier:6} {entry.location}:"
                f"{entry.version} {entry.direction:4} {entry.outcome}{duration}"
                f"  ({entry.os_user}@{entry.host})"
            )
            self.stdout.write(line)
            if entry.error:
                self.stdout.write(f"    error: {entry.error.splitlines()[0]}")
            if entry.note:
                self.stdout.write(f"    note: {entry.note}")

    # repair / baseline / fake -------------------------------------------------

    def _append(
        self, database: str, status: plan.ScriptStatus, outcome: str, direction: str, note: str
    ) -> HistoryEntry:
        return Recorder(database).record(
            tier=Tier.SQL,
            location=status.location,
            version=status.version,
            name=status.name,
            checksum=status.checksum,
            direction=direction,
            outcome=outcome,
            started_at=timezone.now(),
            duration_ms=0,
            note=note,
        )

    def handle_repair(
        self, *, database: str, script: str, as_state: str, reason: str, **_: Any
    ) -> None:
        if not reason.strip():
            raise CommandError("--reason must say why; it is kept in the registry.")
        self.require_registry(database)
        with self.lock(database, None):
            status = plan.find(plan.load(database), script)
            direction = Direction.UP if as_state == "applied" else Direction.DOWN
            self._append(database, status, Outcome.REPAIRED, direction, reason)
        self.stdout.write(
            f"Recorded {status.id} as {as_state} (was {status.state.value}). Reason: {reason}"
        )

    def handle_baseline(
        self,
        *,
        database: str,
        script: str,
        reason: str,
        from_tool: str | None,
        table: str | None,
        **_: Any,
    ) -> None:
        self.require_registry(database)
        if table and not from_tool:
            raise CommandError("--table names the other tool's history table: add --from TOOL.")
        with self.lock(database, None):
            found = plan.load(database)
            if from_tool:
                location = self._baseline_location(found, script)
                history = adoption.read(from_tool, table, database)
                applied = [
                    s for s in found if s.location == location and history.applied(s.number)
                ]
                known = {s.number for s in found if s.location == location}
                unknown = sorted(v for v in history.versions if v not in known)
                if unknown:
                    raise CommandError(
                        f"{history.describe()} has version(s) {', '.join(map(str, unknown))} "
                        f"that location {location!r} has no script for. Add their files (or "
                        "check that this is the right location), then baseline again; nothing "
                        "was recorded."
                    )
                reason = reason or f"baselined from {history.describe()}"
                upto = f"from {history.describe()}"
            else:
                wanted = plan.find(found, script)
                location = wanted.location
                applied = [
                    s for s in found if s.location == location and s.number <= wanted.number
                ]
                upto = f"up to {wanted.version}"
            # Only scripts that never ran: a reverted or failed one has a history that
            # says its change is not there.
            selected = [s for s in applied if s.latest is None and s.script is not None]
            for status in selected:
                self._append(database, status, Outcome.BASELINED, Direction.UP, reason)
                self.stdout.write(f"  Baselined {status.id} {status.name}")
        self.stdout.write(f"Baselined {len(selected)} script(s) of {location} {upto}.")

    @staticmethod
    def _baseline_location(found: list[plan.ScriptStatus], given: str) -> str:
        if ":" in given:
            raise CommandError(
                f"With --from, name the location only ({given.partition(':')[0]!r}): the "
                "other tool's history says how far to baseline."
            )
        known = sorted({s.location for s in found})
        if given not in known:
            raise CommandError(
                f"No script location {given!r}. Locations: {', '.join(known) or 'none'}."
            )
        return given

    def handle_fake(self, *, database: str, script: str, reason: str, **_: Any) -> None:
        self.require_registry(database)
        with self.lock(database, None):
            status = plan.find(plan.load(database), script)
            if status.is_applied:
                raise CommandError(f"{status.id} is already {status.state.value}.")
            if status.script is None:
                raise ScriptNotFound(f"{status.id} has no file to fake.")
            self._append(database, status, Outcome.FAKED, Direction.UP, reason)
        self.stdout.write(f"Marked {status.id} as applied without running it.")
