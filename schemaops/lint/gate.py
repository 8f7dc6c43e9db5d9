"""The migrate gate: what a deploy would apply, linted against the database's facts.

An unsuppressed error finding in a pending script or a pending Django
migration refuses the run before the first step of either tier. The gate does
not cry wolf: tables created earlier in the same deploy are new, and a
lock-heavy finding on a table smaller than ``SCHEMAOPS["SMALL_TABLE_SIZE"]`` is
a warning (its lock lasts milliseconds; ``bench/small_tables.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from schemaops import conf
from schemaops.exceptions import LintRefused
from schemaops.lint import config as config_module
from schemaops.lint import database, rules
from schemaops.lint.config import LintConfig
from schemaops.lint.engine import lint_script
from schemaops.lint.findings import Finding
from schemaops.scripts.script import Script


def lint_pending(
    using: str, scripts: list[Script], config: LintConfig | None = None
) -> list[Finding]:
    """Lint ``scripts`` (pending, in run order) as one sequence against ``using``'s
    facts, keeping the findings of the rules ``config`` (default: the settings) enables."""
    config = config_module.from_settings() if config is None else config
    context = database.database_context(using, config.pg_version)
    findings: list[Finding] = []
    for script in scripts:
        findings.extend(lint_script(script, context))
    return config.keep(findings)


def lint_deploy(
    using: str,
    scripts: list[Script],
    *,
    planned: set[tuple[str, str]] | None = None,
    config: LintConfig | None = None,
) -> list[Finding]:
    """Lint what a deploy applies: the Django migrations it runs (``planned``, as
    ``(app_label, name)``; every pending one when None), then ``scripts``, as one
    sequence against ``using``'s facts; lock-heavy findings on small tables softened
    to warnings."""
    from schemaops.lint.django_migrations.walk import MigrationLinter

    config = config_module.from_settings() if config is None else config
    context = database.database_context(using, config.pg_version)
    findings: list[Finding] = []
    if planned is None or planned:
        loader = MigrationLoader(connections[using], ignore_no_migrations=True)
        if planned is None:
            applied = set(loader.applied_migrations or {})
        else:
            applied = {key for key in loader.graph.nodes if key not in planned}
        if any(key not in applied for key in loader.graph.nodes):
            linter = MigrationLinter(config, using=using, facts=context)
            findings.extend(linter.lint(loader, None, applied).findings)
        context.django = False
    for script in scripts:
        findings.extend(config.keep(lint_script(script, context)))
    return soften_small_tables(using, findings)


def soften_small_tables(
    using: str, findings: list[Finding], limit: int | None = None
) -> list[Finding]:
    """Turn the lock-heavy error findings on tables of at most ``limit`` bytes (default
    ``SMALL_TABLE_SIZE``) into warnings that say why.

    A table the database does not have is left alone: tables this deploy creates
    are known to the linter already, and one renamed by an earlier step may be big.
    """
    limit = conf.small_table_size() if limit is None else limit
    candidates = {
        f.table
        for f in findings
        if f.severity == rules.ERROR and f.rule in rules.LOCK_RULES and f.table
    }
    if limit <= 0 or not candidates:
        return findings
    sizes = database.table_sizes(using, candidates)
    result = []
    for finding in findings:
        size = sizes.get(finding.table)
        if (
            finding.severity == rules.ERROR
            and finding.rule in rules.LOCK_RULES
            and size is not None
        ):
            rows, size_bytes = size
            if size_bytes <= limit:
                finding = finding._replace(
                    severity=rules.WARNING,
                    message=f"{finding.message} [a warning here: {finding.table} is small "
                    f"(~{rows:,} rows, {_kib(size_bytes)}), so its lock is brief; "
                    f"SMALL_TABLE_SIZE is {_kib(limit)}]",
                )
        result.append(finding)
    return result


def _kib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} kB"


def check(
    using: str, scripts: list[Script], *, planned: set[tuple[str, str]] | None = None
) -> list[Finding]:
    """Raise :class:`LintRefused` if what the deploy applies has an error finding;
    return the warnings otherwise."""
    findings = lint_deploy(using, scripts, planned=planned)
    errors = [f for f in findings if f.severity == rules.ERROR]
    if errors:
        raise LintRefused(refusal(errors))
    return findings


def refusal(errors: Iterable[Finding]) -> str:
    """The message of a refused run: every error, and what to do."""
    errors = list(errors)
    in_scripts = any(f.path.endswith(".sql") for f in errors)
    in_migrations = any(f.path.endswith(".py") for f in errors)
    where = (
        "pending scripts and migrations"
        if in_scripts and in_migrations
        else ("pending migrations" if in_migrations else "pending scripts")
    )
    listed = "\n".join(str(f) for f in errors)
    suppress = []
    if in_scripts:
        suppress.append('in a script, -- schemaops: ignore=RULE reason="..." on the line above it')
    if in_migrations:
        suppress.append('in a migration, schemaops_lint_ignore = {"RULE": "reason"} on its class')
    return (
        f"{listed}\n{len(errors)} lint error(s) in {where}: nothing was applied. Rewrite the "
        f"statement as the hint says, suppress it ({'; '.join(suppress)}), or run with "
        "--no-lint-gate."
    )
