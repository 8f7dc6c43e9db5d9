"""The ``schemaops`` console script (also ``python -m schemaops``): lint ``.sql``
files and folders with no Django project.

Exit status: 0 without error findings, 1 with, 2 on bad input or usage (bad input is
also an ``invalid-file`` finding in the json, github and sarif reports).
"""

from __future__ import annotations

import os
import sys

from schemaops import __version__

# Importing this module loads no more than the interpreter has: ``--version`` is
# answered with nothing else, and argparse, pathlib, typing and the linter load only
# for a lint (each costs milliseconds; a CI step may start the script many times).
# mypy reads the name TYPE_CHECKING as true; the typing module is not imported for it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from schemaops.lint.changes import Changed

USAGE_ERROR = 2


def _terminal_columns() -> int:
    """The width argparse's formatter asks ``shutil.get_terminal_size`` for, read the
    same way (``COLUMNS``, then the terminal, then 80) without importing shutil and the
    compression modules it imports."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _parser() -> argparse.ArgumentParser:
    import argparse
    from pathlib import Path

    from schemaops.lint.options import add_lint_options

    class Formatter(argparse.HelpFormatter):
        """argparse's formatter at the width it would choose (less 2, as it does)."""

        def __init__(
            self,
            prog: str,
            indent_increment: int = 2,
            max_help_position: int = 24,
            width: int | None = None,
        ) -> None:
            width = _terminal_columns() - 2 if width is None else width
            super().__init__(prog, indent_increment, max_help_position, width)

    parser = argparse.ArgumentParser(
        prog="schemaops",
        formatter_class=Formatter,
        description="schemaops: safe PostgreSQL schema changes. This command lints .sql files "
        "with no Django project; in a project, use 'manage.py schemaops lint', which also "
        "lints Django migrations.",
    )
    parser.add_argument("--version", action="version", version=f"schemaops {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, title="commands")
    lint = subcommands.add_parser(
        "lint",
        formatter_class=Formatter,
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
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        print(f"schemaops {__version__}")
        return 0
    options = _parser().parse_args(args)
    # The linter only now: --help imports none of it.
    from pathlib import Path

    from schemaops.display import for_display
    from schemaops.exceptions import SchemaOpsError
    from schemaops.lint import config as config_module
    from schemaops.lint import report
    from schemaops.lint.files import lint_paths
    from schemaops.lint.options import options_config

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
    from schemaops.output import quiet_when_the_reader_stops

    with quiet_when_the_reader_stops():
        status = main()
    sys.exit(status)
