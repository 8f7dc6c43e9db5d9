"""The ``schemaops`` console script (also ``python -m schemaops``): lint ``.sql``
files and folders with no Django project.

Exit status: 0 without error findings, 1 with, 2 on bad input or usage (bad input is
also an ``invalid-file`` finding in the json, github and sarif reports).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from schemaops import __version__
from schemaops.display import for_display
from schemaops.exceptions import SchemaOpsError
from schemaops.lint.options import add_lint_options, options_config
from schemaops.output import quiet_when_the_reader_stops

if TYPE_CHECKING:
    from schemaops.lint.changes import Changed

USAGE_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="schemaops",
        description="schemaops: safe PostgreSQL schema changes. This command lints .sql files "
        "with no Django project; in a project, use 'manage.py schemaops lint', which also "
        "lints Django migrations.",
    )
    parser.add_argument("--version", action="version", version=f"schemaops {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, title="commands")
    lint = subcommands.add_parser(
        "lint",
        help="Lint .sql files and folders for statements that lock or break production.",
        description="Lint .sql files and folders for statements that lock or break "
        "production. A folder of schemaops scripts (NNNN_slug.sql) is linted as one sequence "
        "in version order, as the runner applies it; other .sql files statement by statement, "
        "as psql runs them (a file named here whatever its suffix). Settings come from "
        "[tool.schemaops.lint] in the nearest pyproject.toml; options win over it. Exit 0: no "
        "error finding; 1: error findings; 2: bad input or usage.",
    )
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="SQL file or folder")
    add_lint_options(lint)
    lint.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PYPROJECT",
        help="Read [tool.schemaops.lint] from this file instead of the nearest pyproject.toml.",
    )
    return parser


def _changed(ref: str) -> Changed:
    from schemaops.lint.changes import Changed  # git is run only for --changed

    return Changed(ref)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; return its exit status."""
    options = _parser().parse_args(argv)
    # The linter only now: --version and --help import none of it.
    from schemaops.lint import config as config_module
    from schemaops.lint import report
    from schemaops.lint.files import lint_paths

    try:
        pyproject = options.config or config_module.find_pyproject(Path.cwd())
        base = config_module.from_pyproject(pyproject) if pyproject else config_module.LintConfig()
        config = options_config(options).over(base)
        only = None if options.changed is None else _changed(options.changed)
    except (config_module.LintConfigError, SchemaOpsError) as exc:
        print(f"schemaops lint: {for_display(str(exc))}", file=sys.stderr)
        return USAGE_ERROR
    run = lint_paths(options.paths, config, only)
    findings = run.findings  # in sequence order, each unit's by line
    rendered = report.render(findings, run.units, options.format, errors=run.errors)
    if rendered:
        print(rendered)
    for note in run.notes:
        print(f"schemaops lint: note: {for_display(note)}", file=sys.stderr)
    for error in run.errors:
        print(f"schemaops lint: {for_display(error)}", file=sys.stderr)
    if run.errors:
        return USAGE_ERROR
    return report.exit_code(findings)


def main_entry() -> None:
    """The ``schemaops`` console script's entry point."""
    with quiet_when_the_reader_stops():
        status = main()
    sys.exit(status)
