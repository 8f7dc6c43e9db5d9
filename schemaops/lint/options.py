"""The linter's command-line options, shared by the console script (``schemaops
lint``) and ``manage.py schemaops lint``, and the config they make."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemaops.lint import DEFAULT_PG_VERSION

if TYPE_CHECKING:
    import argparse

    from schemaops.lint import config as config_module

FORMATS = ("text", "json", "github", "sarif", "markdown")
"""The report formats (:func:`schemaops.lint.report.render`)."""


def add_lint_options(parser: argparse.ArgumentParser) -> None:
    """The options ``schemaops lint`` and ``manage.py schemaops lint`` share."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default): path:line:col: rule: message, then the hint; json: one object "
        "with findings and summary; github: workflow annotations; sarif: SARIF 2.1.0; "
        "markdown: a table for a pull-request comment.",
    )
    parser.add_argument(
        "--pg-version",
        metavar="N",
        default=None,
        help=f"Target PostgreSQL major version (default: the server's when a database is "
        f"read, else {DEFAULT_PG_VERSION}).",
    )
    parser.add_argument(
        "--changed",
        nargs="?",
        const="",
        default=None,
        metavar="REF",
        help="Report only the files added or modified since the git ref REF (default: where "
        "the branch left the default branch), linted with everything before them as context; "
        "uncommitted and untracked files count as changed.",
    )
    parser.add_argument("--select", metavar="RULE,...", default=None, help="Run only these rules.")
    parser.add_argument(
        "--ignore", metavar="RULE,...", default=None, help="Never report these rules."
    )


def options_config(options: argparse.Namespace | dict[str, object]) -> config_module.LintConfig:
    """The command line's part of the config.

    Raises:
        LintConfigError: an unknown rule or a bad version.
    """
    from schemaops.lint import config as config_module

    values = options if isinstance(options, dict) else vars(options)
    select, ignore, pg_version = values["select"], values["ignore"], values["pg_version"]
    return config_module.LintConfig(
        select=None if select is None else config_module.parse_rules(select, "--select"),
        ignore=frozenset() if ignore is None else config_module.parse_rules(ignore, "--ignore"),
        pg_version=(
            None
            if pg_version is None
            else config_module.parse_pg_version(pg_version, "--pg-version")
        ),
    )
