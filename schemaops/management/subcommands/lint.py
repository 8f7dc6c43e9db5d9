"""``schemaops lint``: scripts and Django migrations, for statements that lock or
break production."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError

from schemaops.display import for_display
from schemaops.lint import project as lint_project
from schemaops.lint.options import add_lint_options
from schemaops.management.subcommands.base import Subcommand


class Lint(Subcommand):
    name = "lint"
    summary = (
        "Lint the SQL scripts and the Django migrations for statements that lock or "
        "break production."
    )
    description = (
        "Scripts are linted per location in version order, Django migrations along the "
        "migration plan, with no database (unless --pending). Exit 0: no error finding; "
        "1: error findings; 2: bad input or usage. Rules: docs/rules/."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "app_labels",
            nargs="*",
            metavar="APP_LABEL",
            help="Only these apps' migrations and scripts (a SCRIPT_DIRS location by its name). "
            "Default: every app.",
        )
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Only what is not applied yet on --database (reads the database; its server "
            "version is the target unless --pg-version says otherwise).",
        )
        add_lint_options(parser)

    def reads_database(self, options: dict[str, Any]) -> bool:
        return bool(options.get("pending"))  # otherwise files only

    def handle(
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
            run = lint_project.lint_project(
                options, app_labels=app_labels, using=database, pending=pending
            )
        except lint_project.UsageError as exc:
            raise CommandError(for_display(str(exc)), returncode=2) from exc
        rendered = lint_project.report.render(
            run.findings, run.units, format, detail=run.detail, errors=run.errors
        )
        if rendered:
            self.stdout.write(rendered)
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
