"""The migrate gate: pending scripts with error findings do not run."""

from __future__ import annotations

import re

from django.db import DEFAULT_DB_ALIAS, connections

from schemaops.exceptions import LintRefused
from schemaops.lint import config as config_module
from schemaops.lint import rules
from schemaops.lint.config import LintConfig
from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext
from schemaops.lint.engine import Finding, lint_script
from schemaops.scripts.loader import Script

_CHECK_NOT_NULL = re.compile(r'^CHECK \(\(?"?(?P<column>[\w$]+)"? IS NOT NULL\)?\)$', re.I)


def server_version(using: str = DEFAULT_DB_ALIAS) -> int:
    """The major version of the PostgreSQL server behind ``using``."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
        row = cursor.fetchone()
    return int(row[0]) if row else DEFAULT_PG_VERSION


def database_context(using: str = DEFAULT_DB_ALIAS, pg_version: int | None = None) -> LintContext:
    """Return a context with the facts of database ``using``: its PostgreSQL version
    (unless ``pg_version`` is given), and the validated ``CHECK (col IS NOT NULL)``
    constraints it already has. Pending units run in one deploy, so a table one of
    them creates is still new in the next."""
    if pg_version is None:
        pg_version = server_version(using)
    context = LintContext(pg_version=pg_version, carry_created=True)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.contype = 'c' AND c.convalidated"
        )
        for table, definition in cursor.fetchall():
            match = _CHECK_NOT_NULL.match(definition)
            if match:
                context.validated_not_null.add((table, match.group("column").lower()))
    return context


def lint_pending(
    using: str, scripts: list[Script], config: LintConfig | None = None
) -> list[Finding]:
    """Lint ``scripts`` (pending, in run order) as one sequence against ``using``'s
    facts, keeping the findings of the rules ``config`` (default: the settings) enables."""
    config = config_module.from_settings() if config is None else config
    context = database_context(using, config.pg_version)
    findings: list[Finding] = []
    for script in scripts:
        findings.extend(lint_script(script, context))
    return config.keep(findings)


def check(using: str, scripts: list[Script]) -> list[Finding]:
    """Raise :class:`LintRefused` if a pending script has an error finding; return the
    warnings otherwise."""
    findings = lint_pending(using, scripts)
    errors = [f for f in findings if f.severity == rules.ERROR]
    if errors:
        listed = "\n".join(str(f) for f in errors)
        raise LintRefused(
            f"{listed}\n{len(errors)} lint error(s) in pending scripts: nothing was applied. "
            "Rewrite the statement as the hint says, suppress it with -- schemaops: "
            'ignore=RULE reason="..." on the line above it, or run with --no-lint-gate.'
        )
    return findings
