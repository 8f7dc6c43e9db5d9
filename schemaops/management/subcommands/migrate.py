"""``schemaops plan`` and ``schemaops migrate``: both tiers, scripts interleaved
after the Django migrations they depend on."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from schemaops import backup as backup_module
from schemaops import conf
from schemaops.display import display
from schemaops.lint import gate, gate_deploy
from schemaops.lint.django_migrations import source as migration_source
from schemaops.management.subcommands.base import Subcommand, add_allow_arguments
from schemaops.scripts import runner


class Plan(Subcommand):
    name = "plan"
    summary = "Show what 'schemaops migrate' would run, in order, in both tiers."
    description = "Scripts that depend on a Django migration come right after it."

    def handle(self, *, database: str, **_: Any) -> None:
        scripts = runner.pending_scripts(database)
        loader = MigrationLoader(connections[database], ignore_no_migrations=True)
        steps = runner.interleaved(database, scripts, loader)
        if not steps:
            self.stdout.write("Nothing to do: both tiers are up to date.")
            return
        findings: dict[str, list[str]] = {}
        for finding in gate.lint_deploy(database, scripts):
            findings.setdefault(finding.path, []).append(
                f"{finding.severity} at line {finding.line}: {finding.rule}"
            )
        graph = loader.graph
        self.stdout.write(self.style.MIGRATE_HEADING(f"Planned steps ({database}):"))
        for number, step in enumerate(steps, start=1):
            if step.script is not None:
                parsed = step.script.parsed
                kind = (
                    "atomic"
                    if parsed.atomic
                    else f"non-atomic ({parsed.up.non_transactional or 'atomic=false'})"
                )
                path = display(step.script.path)
            else:
                assert step.migration is not None
                migration = graph.nodes[step.migration]
                kind = "atomic" if migration.atomic else "non-atomic (atomic = False)"
                path = display(migration_source.migration_path(migration))
            found = findings.get(path, [])
            verdict = "; ".join(found) if found else "clean"
            self.stdout.write(f"  {number:3}. {step}  [{kind}; lint: {verdict}]")


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
