"""``schemaops plan`` and ``schemaops migrate``: both tiers, scripts interleaved
after the Django migrations they depend on."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management import call_command

from schemaops import backup as backup_module
from schemaops import conf, plan
from schemaops.lint import gate_deploy
from schemaops.management.subcommands.base import Subcommand, add_allow_arguments
from schemaops.scripts import runner


class Plan(Subcommand):
    name = "plan"
    summary = "Show what 'schemaops migrate' would run, in order, in both tiers."
    description = (
        "Scripts that depend on a Django migration come right after it. Each step shows "
        "its transaction and lint verdict; --sql adds its lock budgets and the SQL it "
        "will send (a Django migration's as sqlmigrate prints it, a script's statements "
        "with their lines). --format json prints one JSON object (keys in "
        "docs/commands/migrate.md). Nothing is written, and no lock is taken."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--sql", action="store_true", help="Show the SQL each step will run, and its budgets."
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text (the default), or one JSON object: the steps, with their statements "
            "with --sql.",
        )

    def handle(self, *, database: str, sql: bool, format: str, **_: Any) -> None:
        steps = plan.planned_steps(database, sql=sql)
        if format == "json":
            document = {"database": database, "steps": [step.as_dict() for step in steps]}
            self.stdout.write(json.dumps(document, indent=2))
            return
        if not steps:
            self.stdout.write("Nothing to do: both tiers are up to date.")
            return
        if sql:
            self._sql(database, steps)
            return
        self.stdout.write(self.style.MIGRATE_HEADING(f"Planned steps ({database}):"))
        for step in steps:
            self.stdout.write(
                f"  {step.number:3}. {step.step}  [{step.transaction}; lint: {step.verdict}]"
            )

    def _sql(self, database: str, steps: list[plan.PlannedStep]) -> None:
        """Each step's heading (as SQL comments), then its SQL."""
        self.stdout.write(
            self.style.MIGRATE_HEADING(f"-- Planned steps ({database}), with their SQL")
        )
        for step in steps:
            by = "the script" if step.tier == plan.SQL else "the migration"
            budgets = " ".join(
                f"{key}={value}" + (f" (set by {by})" if key in step.overridden else "")
                for key, value in step.settings().items()
                if key != "overridden"
            )
            title = " ".join(str(step.step).split())  # without plain plan's alignment
            self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(f"-- {step.number}. {title}"))
            self.stdout.write(f"--    {step.path}")
            self.stdout.write(f"--    {step.transaction}; lint: {step.verdict}")
            self.stdout.write(f"--    {budgets}")
            for statement in step.sql or ():
                if step.tier == plan.SQL:
                    self.stdout.write(f"-- {step.path}:{statement.line}")
                self.stdout.write(statement.sql)


class Migrate(Subcommand):
    name = "migrate"
    summary = (
        "Apply pending Django migrations and scripts; scripts with depends= on a Django "
        "migration run as soon as it is applied."
    )
    description = (
        "Everything is checked before anything runs: malformed scripts, changed, missing, "
        "out-of-order, interrupted and failed scripts stop the run. Each statement gets "
        "SCHEMAOPS['LOCK_TIMEOUT'] (default 1s) with retries and backoff, never queues "
        "behind a long transaction, and reports progress: index builds (phase, percent), "
        "batched backfills (rows done)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--target", metavar="LOCATION:VERSION", help="Stop after this script.")
        parser.add_argument(
            "--no-lint-gate",
            action="store_false",
            dest="lint_gate",
            help="Apply pending scripts even if the linter finds errors in them.",
        )
        parser.add_argument(
            "--no-backup",
            action="store_false",
            dest="backup",
            help="Take no backup first, even with SCHEMAOPS['BACKUP_BEFORE_MIGRATE'] on.",
        )
        add_allow_arguments(parser)

    def handle(
        self,
        *,
        database: str,
        target: str | None,
        allow_changed: bool | None,
        allow_missing: bool | None,
        allow_out_of_order: bool | None,
        lock_wait: float | None,
        lint_gate: bool,
        backup: bool,
        verbosity: int,
        **_: Any,
    ) -> None:
        options = runner.Options(allow_changed, allow_missing, allow_out_of_order)
        with self.lock(database, lock_wait):
            # Every check of both tiers before the first step of either.
            scripts = runner.pending_scripts(database, target=target, options=options)
            steps = runner.interleaved(database, scripts)
            if lint_gate:
                gate_deploy(database, scripts, self.progress)
            if backup and steps and conf.backup_before_migrate():
                backup_module.before_migrate(database, len(steps), self.progress)
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

            runner.run_steps(database, steps, migrate, self.progress, full_run=target is None)
        if not scripts:
            self.stdout.write("No pending scripts.")
