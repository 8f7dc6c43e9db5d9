"""Linting statements and scripts: rules, positions and suppressions."""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from schemaops.display import display
from schemaops.lint import rules
from schemaops.lint.context import LintContext
from schemaops.lint.model import parse
from schemaops.scripts.directives import Suppression
from schemaops.scripts.script import Script, read_plain
from schemaops.statements import Statement

_NEWLINE = re.compile("\n")
MISSING_REASON = rules.MISSING_REASON
UNUSED_SUPPRESSION = rules.UNUSED_SUPPRESSION


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding, at a 1-based line and column of a file."""

    rule: str
    severity: str
    path: str
    line: int
    column: int
    message: str
    hint: str
    table: str = ""
    """The table the finding's statement locks, where known (the gate reads its size)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.rule}: {self.message}\n"
            f"    hint: {self.hint}"
        )


class _Positions:
    """Turns offsets in one statement into file lines and columns (a bisect over the
    statement's line starts, built on the first finding), so many findings in one
    long statement cost no more than one pass over it."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._starts: list[int] | None = None

    def __call__(self, offset: int) -> tuple[int, int]:
        statement = self.statement
        if offset <= 0:
            return statement.line, statement.column
        if self._starts is None:
            self._starts = [m.end() for m in _NEWLINE.finditer(statement.text)]
        newlines = bisect_right(self._starts, offset)
        if not newlines:
            return statement.line, statement.column + offset
        return statement.line + newlines, offset - self._starts[newlines - 1] + 1


def lint_statements(
    statements: Iterable[Statement], path: str, context: LintContext
) -> list[Finding]:
    """Run every rule over ``statements`` in order, carrying ``context`` forward."""
    findings = []
    for statement in statements:
        modelled = parse(statement)
        if modelled.kind in rules.SILENT_KINDS:
            context.after(modelled)
            continue
        position = _Positions(statement)
        for rule in rules.RULES.values():
            for offset, detail in rule.check(modelled, context):
                line, column = position(offset)
                message = f"{rule.message} ({detail})" if detail else rule.message
                findings.append(
                    Finding(
                        rule.name,
                        rule.severity,
                        path,
                        line,
                        column,
                        message,
                        rule.hint_for(context.django),
                        modelled.table,
                    )
                )
        context.after(modelled)
    return findings


def _covers(suppression: Suppression, finding: Finding, statements: Sequence[Statement]) -> bool:
    """Whether ``suppression`` covers ``finding``: in the header, every finding of its
    rules; elsewhere, those of the first statement after it."""
    if finding.rule not in suppression.rules:
        return False
    if suppression.in_header:
        return True
    following = next((s for s in statements if s.line > suppression.line), None)
    return following is not None and following.line <= finding.line <= following.last_line


def apply_suppressions(
    findings: list[Finding],
    suppressions: Sequence[Suppression],
    statements: Sequence[Statement],
    path: str,
) -> list[Finding]:
    """Drop suppressed findings; report suppressions without a reason or that
    suppress nothing (a suppression without a reason suppresses nothing)."""
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
                Finding(
                    MISSING_REASON,
                    rules.ERROR,
                    path,
                    suppression.line,
                    1,
                    f"ignore={rules_text} has no reason, so it suppresses nothing.",
                    'Say why the statement is safe: -- schemaops: ignore=RULE reason="..."',
                )
            )
        elif index not in used:
            unknown = [r for r in suppression.rules if r not in rules.known_names()]
            detail = f" (unknown rule: {', '.join(unknown)})" if unknown else ""
            kept.append(
                Finding(
                    UNUSED_SUPPRESSION,
                    rules.WARNING,
                    path,
                    suppression.line,
                    1,
                    f"ignore={rules_text} suppresses nothing{detail}.",
                    "Remove the directive, or move it to the line above the statement it is for.",
                )
            )
    return sorted(kept, key=lambda f: (f.line, f.column, f.rule))


def lint_script(script: Script, context: LintContext) -> list[Finding]:
    """Lint the up section of ``script`` as one unit of ``context``'s sequence.

    Raises:
        ScriptError: the script is malformed (the runner reports that first).
    """
    parsed = script.parsed
    path = display(script.path)
    context.start_unit(atomic=parsed.atomic)
    statements = parsed.up.statements
    findings = lint_statements(statements, path, context)
    return apply_suppressions(findings, parsed.suppressions, statements, path)


def lint_plain(path: Path, context: LintContext) -> list[Finding]:
    """Lint a ``.sql`` file that is not a schemaops script as psql would run it: each
    statement in its own transaction unless the file says ``BEGIN``.

    Raises:
        ScriptError: the file cannot be read or a directive is malformed.
    """
    statements, suppressions = read_plain(path)
    shown = display(path)
    context.start_unit(atomic=False)
    findings = lint_statements(statements, shown, context)
    return apply_suppressions(findings, suppressions, statements, shown)
