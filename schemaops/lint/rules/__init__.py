"""The lint rules, one family per module, each rule's SQL check and Django-operation
checks side by side: ``indexes``, ``columns``, ``constraints``, ``tables``, ``data``
and ``types``.

A rule is declared once, with :func:`rule` over its SQL check (which reads one
modelled statement and the context); a Django-operation check for it is declared
with :func:`operation_check` in the same module and reports through the public
:class:`~schemaops.lint.django_migrations.operation.OperationCheck`. Rule names
are :class:`~schemaops.lint.names.RuleName` members.

No family imports Django: operation classes are named here and resolved only when
Django migrations are linted, so linting SQL files stays quick to start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from schemaops.lint.context import LintContext
from schemaops.lint.names import RuleName, known_names
from schemaops.lint.syntax import Action, Column, SqlStatement

if TYPE_CHECKING:
    from schemaops.lint.django_migrations.operation import OperationCheck

ERROR = "error"
WARNING = "warning"

SqlCheck = Callable[[SqlStatement, LintContext], Iterator[tuple[int, str]]]
"""Yield (offset in the statement, message detail) for each finding."""
DjangoCheck = Callable[[Any, "OperationCheck"], None]
"""Read one operation (through the :class:`OperationCheck`) and report its findings."""


class Rule:
    """A rule: its name, severity, one-line message and the safe rewrite.

    ``django_hint``: the safe rewrite in a Django migration, where it differs from
    ``hint``. ``kinds``: the statement kinds the check reads (:func:`reads`), the
    only ones the engine runs it on. ``grows_with_table``: the harm is how long the
    lock is held, which grows with the table; on a small table the statement is
    over before a writer notices (the deploy gate lets such findings through as
    warnings). Findings about code that breaks, a dropped column say, stay errors
    whatever the size.
    """

    __slots__ = (
        "check",
        "django_hint",
        "grows_with_table",
        "hint",
        "kinds",
        "message",
        "name",
        "severity",
    )

    def __init__(
        self,
        name: str,
        severity: str,
        message: str,
        hint: str,
        check: SqlCheck,
        django_hint: str = "",
        kinds: frozenset[str] = frozenset(),
        grows_with_table: bool = False,
    ) -> None:
        self.name = name
        self.severity = severity
        self.message = message
        self.hint = hint
        self.check = check
        self.django_hint = django_hint
        self.kinds = kinds
        self.grows_with_table = grows_with_table

    def __repr__(self) -> str:
        return f"Rule({self.name!r})"

    def hint_for(self, django: bool) -> str:
        return self.django_hint if django and self.django_hint else self.hint


_DECLARED: dict[RuleName, Rule] = {}
OPERATION_CHECKS: dict[str, list[DjangoCheck]] = {}
"""Django-operation checks by the name of the operation class they read (a class of
``django.db.migrations.operations`` or ``django.contrib.postgres.operations``)."""

# Statement kinds that no rule reads (each rule's check starts by testing the
# kind): the engine skips the rules for them, which is most of a big file.
SILENT_KINDS = frozenset(
    {"other", "empty", "begin", "commit", "set", "create_other", "drop_other"}
    | {"create_materialized_view"}
)


def rule(
    name: RuleName,
    severity: str,
    message: str,
    hint: str,
    django_hint: str = "",
    *,
    grows_with_table: bool = False,
) -> Callable[[SqlCheck], SqlCheck]:
    """Declare rule ``name`` with the decorated function as its SQL check."""

    def register(check: SqlCheck) -> SqlCheck:
        if name in _DECLARED:
            raise ValueError(f"The rule {name} is declared twice.")
        kinds = getattr(check, "schemaops_kinds", None)
        if not kinds:
            raise ValueError(f"The rule {name} does not say which kinds it reads (@reads).")
        _DECLARED[name] = Rule(
            name.value, severity, message, hint, check, django_hint, kinds, grows_with_table
        )
        return check

    return register


def reads(*kinds: str) -> Callable[[SqlCheck], SqlCheck]:
    """Declare the statement kinds (``SqlStatement.kind``) a SQL check reads, under its
    :func:`rule`: it never runs on the others. ``"kind:action"`` (``"alter_table:
    add_column"``): only on statements of that kind with an action of that kind."""

    def mark(check: SqlCheck) -> SqlCheck:
        check.schemaops_kinds = frozenset(kinds)  # type: ignore[attr-defined]
        return check

    return mark


def operation_check(*operations: str) -> Callable[[DjangoCheck], DjangoCheck]:
    """Declare the decorated function a check of the Django operations named."""

    def register(check: DjangoCheck) -> DjangoCheck:
        for operation in operations:
            OPERATION_CHECKS.setdefault(operation, []).append(check)
        return check

    return register


def existed_before(statement: SqlStatement, context: LintContext) -> bool:
    """Whether the statement's table existed before this unit (so it may be big and busy)."""
    return not context.created_here(statement.table)


def actions_of(statement: SqlStatement, kind: str) -> list[Action]:
    return [action for action in statement.actions if action.kind == kind]


def altered(statement: SqlStatement, context: LintContext, kind: str) -> list[Action]:
    """The ``kind`` actions of an ALTER TABLE on a table that existed before this unit."""
    if statement.kind != "alter_table" or context.created_here(statement.table):
        return []
    return [action for action in statement.actions if action.kind == kind]


_SERIAL = frozenset({"SMALLSERIAL", "SERIAL", "SERIAL2", "SERIAL4", "SERIAL8", "BIGSERIAL"})


def is_serial(column: Column) -> bool:
    return column.type in _SERIAL


from schemaops.lint.rules import (  # noqa: E402  (the families register themselves)
    columns,
    constraints,
    data,
    indexes,
    tables,
    types,
)

_UNDECLARED = (
    set(RuleName)
    - set(_DECLARED)
    - {
        RuleName.SUPPRESSION_MISSING_REASON,
        RuleName.UNUSED_SUPPRESSION,
        RuleName.INVALID_FILE,
    }
)
if _UNDECLARED:
    raise ImportError(f"No rule is declared for {sorted(_UNDECLARED)}.")

RULES: dict[str, Rule] = {name.value: _DECLARED[name] for name in RuleName if name in _DECLARED}
"""Every rule by name, in :class:`RuleName`'s order (the order they run in)."""

BY_KIND: dict[str, tuple[Rule, ...]] = {
    kind: tuple(declared for declared in RULES.values() if kind in declared.kinds)
    for kind in sorted({kind for declared in RULES.values() for kind in declared.kinds})
}
"""The rules that read each statement kind (or ``kind:action``), in :data:`RULES`
order (a kind no rule reads is not here)."""

_BY_ACTIONS: dict[tuple[str, frozenset[str]], tuple[Rule, ...]] = {}


def reading(statement: SqlStatement) -> tuple[Rule, ...]:
    """The rules to run on ``statement``: those of its kind, and those of its kind
    and one of its actions' kinds, in :data:`RULES` order."""
    kind = statement.kind
    if not statement.actions:
        return BY_KIND.get(kind, ())
    key = (kind, frozenset(action.kind for action in statement.actions))
    found = _BY_ACTIONS.get(key)
    if found is None:
        wanted = {kind, *(f"{kind}:{action}" for action in key[1])}
        found = _BY_ACTIONS[key] = tuple(
            declared for declared in RULES.values() if wanted & declared.kinds
        )
    return found


LOCK_RULES = frozenset(name for name, declared in RULES.items() if declared.grows_with_table)
"""The rules whose harm grows with the table (:attr:`Rule.grows_with_table`)."""

__all__ = [
    "BY_KIND",
    "ERROR",
    "LOCK_RULES",
    "OPERATION_CHECKS",
    "RULES",
    "SILENT_KINDS",
    "WARNING",
    "Rule",
    "RuleName",
    "actions_of",
    "altered",
    "columns",
    "constraints",
    "data",
    "existed_before",
    "indexes",
    "is_serial",
    "known_names",
    "operation_check",
    "reading",
    "reads",
    "rule",
    "tables",
    "types",
]
