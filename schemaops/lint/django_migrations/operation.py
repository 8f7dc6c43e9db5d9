"""What a Django-operation check reads and reports: :class:`OperationCheck`, the
public context of one operation of one migration, and the registry of checks
resolved to operation classes."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from schemaops.exceptions import InvalidMigration
from schemaops.lint.context import LintContext
from schemaops.lint.names import RuleName

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.state import ModelState, ProjectState
    from django.db.models import Field

    from schemaops.lint.rules import DjangoCheck

_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")


def db_table(app_label: str, model_name_lower: str, db_table: object = None) -> str:
    """The model's table: ``Meta.db_table``, else Django's ``app_model``."""
    return str(db_table or f"{app_label}_{model_name_lower}")


def as_regclass(table: str) -> str:
    """A Django ``db_table`` as ``to_regclass`` reads it (quoted unless it is lower case)."""
    if not table or _PLAIN_NAME.match(table):
        return table
    return '"' + table.replace('"', '""') + '"'


def column_name(name: str, field: Field[Any, Any]) -> str:
    """The column of field ``name``: ``db_column``, else ``name`` (``name_id`` for a
    relation)."""
    if field.db_column:
        return str(field.db_column)
    if field.many_to_one or field.one_to_one:
        return f"{name}_id"
    return name


def join_table(table: str, name: str, field: Field[Any, Any]) -> str:
    """The table of many-to-many field ``name`` of the model whose table is ``table``:
    its ``db_table``, else Django's ``table_name`` (cut to PostgreSQL's 63 bytes)."""
    from django.db.backends.utils import truncate_name

    through = getattr(field.remote_field, "through", None)
    if through is not None:  # an explicit through model has a table of its own
        return ""
    explicit: object = getattr(field, "db_table", None)
    if explicit:
        return str(explicit)
    return str(truncate_name(f"{table}_{name}", 63))


def forward(operation: Any, app_label: str, state: ProjectState, where: str) -> None:
    """``operation.state_forwards``, with a failure reported as the migration's fault.

    Raises:
        InvalidMigration: the operation cannot apply to ``state`` (``where`` names it).
    """
    try:
        operation.state_forwards(app_label, state)
    except Exception as exc:  # any failure: Django's own migrate would fail here too
        raise InvalidMigration(
            f"{where} ({type(operation).__name__}) cannot be applied to the models' state: "
            f"{type(exc).__name__}: {exc}. Django's migrate would fail on it too; fix the "
            "migration (an operation on a model or field that an earlier one removed?)."
        ) from exc


class Found:
    """A finding of a Django-operation check, before it has a file position."""

    __slots__ = ("detail", "hint", "message", "path", "rule", "table")

    def __init__(
        self,
        rule: RuleName,
        path: tuple[int, ...],
        detail: str,
        message: str,
        table: str,
        hint: str = "",
    ) -> None:
        self.rule = rule
        self.path = path
        self.detail = detail
        self.message = message
        self.table = table
        self.hint = hint


class MigrationUnit:
    """The migration being linted: what its checks share, ``created``: the models
    (lower-case names) it creates, and what its checks found."""

    def __init__(
        self, app_label: str, atomic: bool, context: LintContext, connection: BaseDatabaseWrapper
    ) -> None:
        self.app_label = app_label
        self.atomic = atomic
        self.context = context
        self.connection = connection
        self.created: set[str] = set()
        self.found: list[Found] = []


class OperationCheck:
    """One operation of a migration, as its checks see it: the project state before
    it, the migration's facts (:class:`LintContext`), and :meth:`find`. ``table`` is
    the operation's table, once :meth:`existing` found its model.
    """

    def __init__(self, unit: MigrationUnit, state: ProjectState, path: tuple[int, ...]) -> None:
        self.unit = unit
        self.state = state
        self.path = path
        self.table = ""

    @property
    def app_label(self) -> str:
        return self.unit.app_label

    @property
    def atomic(self) -> bool:
        """Whether the migration runs in a transaction."""
        return self.unit.atomic

    @property
    def context(self) -> LintContext:
        return self.unit.context

    def find(self, rule: RuleName, detail: str, message: str = "", hint: str = "") -> None:
        """Report ``rule`` at this operation; ``message`` replaces the rule's where
        the SQL wording would mislead, ``hint`` its Django hint where that names the
        wrong operation."""
        self.unit.found.append(Found(rule, self.path, detail, message, self.table, hint))

    def model(self, name: str) -> ModelState | None:
        """The model ``name`` of this app in the state before the operation."""
        return self.state.models.get((self.app_label, name.lower()))

    def existing(self, name: str) -> ModelState | None:
        """The model's state when it existed before this migration and Django manages
        its table; None otherwise (new, unmanaged, proxy or unknown: nothing to lock)."""
        model = self.model(name)
        if (
            model is None
            or name.lower() in self.unit.created
            or model.options.get("managed", True) is False
            or model.options.get("proxy")
        ):
            return None
        table = self.table_of(model)
        if self.context.carry_created and self.context.created_here(table):
            return None  # created by an earlier migration of this deploy: new and empty
        self.table = table
        return model

    def table_of(self, model: ModelState) -> str:
        return db_table(self.app_label, model.name_lower, model.options.get("db_table"))

    def db_type(self, field: Field[Any, Any]) -> str | None:
        """The column type Django would use, or None when that needs more than the
        field (a relation's target, or a database)."""
        if field.is_relation:
            return None
        try:
            value = field.db_type(self.unit.connection)
        except Exception:  # custom fields may need a rendered model
            return None
        return None if value is None else str(value)

    def column_type(self, field: Field[Any, Any]) -> str | None:
        """The column type of ``field``, a relation's included (its target field's,
        found in the state); None when that needs more than the state."""
        if not (field.many_to_one or field.one_to_one):
            return self.db_type(field)
        remote = field.remote_field
        if remote is None:
            return None
        target: object = remote.model
        if not isinstance(target, str):
            meta = getattr(target, "_meta", None)
            target = f"{meta.app_label}.{meta.model_name}" if meta is not None else ""
        app_label, _, model_name = str(target).rpartition(".")
        model = self.state.models.get((app_label or self.app_label, model_name.lower()))
        if model is None:
            return None
        to_field = getattr(remote, "field_name", None)
        found = next(
            (
                candidate
                for name, candidate in model.fields.items()
                if (name == to_field if to_field else candidate.primary_key)
            ),
            None,
        )
        if found is None or found.is_relation:
            return None
        try:
            value = found.rel_db_type(self.unit.connection)
        except Exception:  # custom fields may need a rendered model
            return None
        return None if value is None else str(value)

    def added_together(self, name: str, value: Any, option: str) -> list[tuple[str, ...]]:
        """The field tuples ``AlterUniqueTogether``/``AlterIndexTogether`` adds to
        ``option`` of model ``name`` (none for a model with nothing to lock)."""
        model = self.existing(name)
        if model is None:
            return []
        old = {tuple(names) for names in model.options.get(option) or ()}
        return sorted(set(value or ()) - old)


_INDEX_ONLY = ("condition", "expressions", "include", "opclasses")


def builds_unique_index(constraint: object) -> bool:
    """Whether Django makes ``constraint`` a unique index rather than a table
    constraint: a ``UniqueConstraint`` with a condition, expressions, ``include``
    or ``opclasses`` (``CREATE UNIQUE INDEX`` to add it, ``DROP INDEX`` to remove it)."""
    from django.db.models import UniqueConstraint

    if not isinstance(constraint, UniqueConstraint):
        return False
    return any(getattr(constraint, name, None) for name in _INDEX_ONLY)


# Operations some Django versions do not have.
_OPTIONAL = frozenset({"AlterIndexTogether", "AlterModelTableComment", "AlterConstraint"})


@cache
def operation_class(name: str) -> type | None:
    """The class of Django operation ``name`` (None: this Django has none, which only
    names in ``_OPTIONAL`` may be)."""
    from django.contrib.postgres import operations as pg_operations
    from django.db.migrations import operations as ops

    found = getattr(ops, name, None) or getattr(pg_operations, name, None)
    if found is None and name not in _OPTIONAL:
        raise LookupError(f"No Django migration operation is named {name!r}.")
    return found if isinstance(found, type) else None


@cache
def checks_by_class() -> dict[type, tuple[DjangoCheck, ...]]:
    """Every rule family's Django-operation checks, by operation class."""
    from schemaops.lint import rules

    resolved: dict[type, tuple[DjangoCheck, ...]] = {}
    for name, checks in rules.OPERATION_CHECKS.items():
        cls = operation_class(name)
        if cls is not None:
            resolved[cls] = tuple(checks)
    return resolved
