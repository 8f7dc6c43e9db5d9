"""Linting statements and scripts: every rule over each statement, findings at file
positions, then the suppressions."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from pathlib import Path

from schemaops.display import display
from schemaops.lint import rules
from schemaops.lint.context import LintContext
from schemaops.lint.findings import Finding
from schemaops.lint.suppressions import apply_suppressions
from schemaops.lint.syntax import parse
from schemaops.locking import transactions
from schemaops.scripts.script import Script, Section, read_plain
from schemaops.statements import Statement, split

_NEWLINE = re.compile("\n")


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
    """Run the rules that read each statement's kind over ``statements`` in order,
    carrying ``context`` forward."""
    findings = []
    for statement in statements:
        modelled = parse(statement)
        reading = rules.reading(modelled)
        if not reading:
            context.after(modelled)
            continue
        position = _Positions(statement)
        for rule in reading:
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


def lint_script(script: Script, context: LintContext) -> list[Finding]:
    """Lint the up section of ``script`` as one unit of ``context``'s sequence.

    Raises:
        ScriptError: the script is malformed (the runner reports that first).
    """
    parsed = script.parsed
    path = display(script.path)
    context.start_unit(atomic=parsed.atomic, dropped_wrapper=_dropped_wrapper(parsed.up))
    statements = parsed.up.statements
    findings = lint_statements(statements, path, context)
    return apply_suppressions(findings, parsed.suppressions, statements, path)


def _dropped_wrapper(section: Section) -> bool:
    """Whether the loader dropped ``section``'s ``BEGIN; ... COMMIT;`` and runs it
    statement by statement: the atomicity its author asked for is not there.

    (Around an atomic section the wrapper is harmless: the section runs in one
    transaction anyway.)"""
    if section.atomic:
        return False
    written = split(section.text)
    return (
        len(written) == len(section.statements) + 2
        and transactions.opens_transaction(written[0].text)
        and transactions.commits_transaction(written[-1].text)
    )


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
