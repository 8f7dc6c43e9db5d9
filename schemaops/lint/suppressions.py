"""Suppressions, for both tiers: ``-- schemaops: ignore=RULE reason="..."`` in SQL
and ``Migration.schemaops_lint_ignore = {"rule": "reason"}`` in a Django migration.

One rule for both: a suppression without a reason suppresses nothing and is
itself an error; one that suppresses nothing is a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from schemaops.lint.findings import Finding
from schemaops.lint.names import TRACE_ONLY
from schemaops.lint.rules import ERROR, WARNING, RuleName, known_names

if TYPE_CHECKING:
    from django.db.migrations.migration import Migration

    from schemaops.scripts.directives import Suppression
    from schemaops.statements import Statement


def _missing_reason(path: str, line: int, message: str, hint: str) -> Finding:
    return Finding(RuleName.SUPPRESSION_MISSING_REASON.value, ERROR, path, line, 1, message, hint)


def _unused(path: str, line: int, message: str, hint: str) -> Finding:
    return Finding(RuleName.UNUSED_SUPPRESSION.value, WARNING, path, line, 1, message, hint)


def _in_order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule))


def _covers(suppression: Suppression, finding: Finding, statements: Sequence[Statement]) -> bool:
    """Whether ``suppression`` covers ``finding``: in the header, every finding of its
    rules; elsewhere, those of the first statement after it."""
    if finding.rule not in suppression.rules:
        return False
    if suppression.in_header:
        return True
    following = next((s for s in statements if s.line > suppression.line), None)
    return following is not None and following.line <= finding.line <= following.last_line


def covering_reason(
    rule: str, line: int, suppressions: Sequence[Suppression], statements: Sequence[Statement]
) -> str:
    """The reason of the first ``ignore=`` directive of a SQL file that suppresses
    ``rule`` for the statement at ``line`` ("" if none does; one without a reason
    suppresses nothing)."""
    probe = Finding(rule, ERROR, "", line, 1, "", "")
    for suppression in suppressions:
        if suppression.reason.strip() and _covers(suppression, probe, statements):
            return suppression.reason.strip()
    return ""


def migration_reason(rule: str, migration: Migration) -> str:
    """The reason ``migration.schemaops_lint_ignore`` gives for ``rule`` ("" if none)."""
    ignore = getattr(migration, "schemaops_lint_ignore", None) or {}
    return str(ignore.get(rule, "")).strip() if isinstance(ignore, dict) else ""


def apply_suppressions(
    findings: list[Finding],
    suppressions: Sequence[Suppression],
    statements: Sequence[Statement],
    path: str,
) -> list[Finding]:
    """Drop the findings a SQL file's ``ignore=`` directives suppress; report
    directives without a reason or that suppress nothing."""
    kept = []
    used: set[int] = set()
    for finding in findings:
        covering = [
            index
            for index, suppression in enumerate(suppressions)
            if suppression.reason.strip() and _covers(suppression, finding, statements)
        ]
        used.update(covering)
        if not covering:
            kept.append(finding)
    for index, suppression in enumerate(suppressions):
        rules_text = ",".join(suppression.rules) or "(no rule)"
        if not suppression.reason.strip():
            kept.append(
                _missing_reason(
                    path,
                    suppression.line,
                    f"ignore={rules_text} has no reason, so it suppresses nothing.",
                    'Say why the statement is safe: -- schemaops: ignore=RULE reason="..."',
                )
            )
        elif index not in used and not set(suppression.rules) <= TRACE_ONLY:
            unknown = [r for r in suppression.rules if r not in known_names()]
            detail = f" (unknown rule: {', '.join(unknown)})" if unknown else ""
            kept.append(
                _unused(
                    path,
                    suppression.line,
                    f"ignore={rules_text} suppresses nothing{detail}.",
                    "Remove the directive, or move it to the line above the statement it is for.",
                )
            )
    return _in_order(kept)


def apply_migration_ignore(
    findings: list[Finding], migration: Migration, path: str, ignore_line: Callable[[], int]
) -> list[Finding]:
    """Apply ``migration.schemaops_lint_ignore = {"rule": "reason"}``; ``ignore_line``
    finds the attribute's line (read only when there is one)."""
    ignore = getattr(migration, "schemaops_lint_ignore", None) or {}
    if not isinstance(ignore, dict):
        ignore = {}
    line = ignore_line() if ignore else 0
    kept = [f for f in findings if not str(ignore.get(f.rule, "")).strip()]
    fired = {f.rule for f in findings}
    for rule, reason in ignore.items():
        if not str(reason).strip():
            kept.append(
                _missing_reason(
                    path,
                    line,
                    f"schemaops_lint_ignore[{rule!r}] has no reason, so it suppresses nothing.",
                    'Say why the migration is safe: schemaops_lint_ignore = {"rule": "reason"}.',
                )
            )
        elif rule not in fired and rule not in TRACE_ONLY:
            unknown = "" if rule in known_names() else " (unknown rule)"
            kept.append(
                _unused(
                    path,
                    line,
                    f"schemaops_lint_ignore[{rule!r}] suppresses nothing{unknown}.",
                    "Remove the entry.",
                )
            )
    return _in_order(kept)
