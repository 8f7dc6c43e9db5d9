"""What the Django models say the database should contain, asked of Django itself:
each field's column type on this connection (``db_parameters``), and each index and
constraint with the name and SQL Django's schema editor would give it.

Nothing here re-implements Django's rules (which fields get an index, which get
a second ``_like`` index, how names are hashed): the schema editor's own
functions answer, so each Django version answers for itself.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db import connections, models, router
from django.db.backends.ddl_references import Statement

from schemaops import status


class Kind(enum.Enum):
    """What an expected index or constraint is, and so how it is found in the database."""

    INDEX = "index"  # found by Django's name, else by its columns and operator classes
    NAMED = "named"  # Meta.indexes and Meta.constraints: found by their name only
    UNIQUE = "unique"  # a unique constraint or unique index on the columns, whatever its name
    PRIMARY_KEY = "primary key"
    CHECK = "check"  # a field's own CHECK (PositiveIntegerField): one on its column
    FOREIGN_KEY = "foreign key"  # on the column, to the target table and column


@dataclasses.dataclass(frozen=True)
class Column:
    field: str  # the field's name
    name: str  # its column
    type: str  # db_parameters()["type"], as Django would create it
    null: bool
    # False for the id of a many-to-many table Django creates: its migrations make it
    # with the project's DEFAULT_AUTO_FIELD, the model with its app's default_auto_field
    # (auth's tables: bigint in the database, integer in the model). Both are right.
    compare_type: bool = True


@dataclasses.dataclass(frozen=True)
class Constraint:
    """An index or constraint the model implies."""

    kind: Kind
    source: str  # what implies it: "db_index", "unique", "Meta.indexes", "ForeignKey", ...
    field: str  # the field it comes from, "" for Meta options
    name: str  # Django's name; "" where PostgreSQL names it (inline UNIQUE, PRIMARY KEY)
    columns: tuple[str, ...]
    opclasses: tuple[str, ...] = ()
    target: tuple[str, str] | None = None  # a foreign key's table and column
    sql: str = ""  # what Django would run to create it


@dataclasses.dataclass(frozen=True)
class Table:
    """A model's table: the app and model it belongs to, its columns and constraints."""

    app: str
    model: str
    table: str
    columns: tuple[Column, ...]
    constraints: tuple[Constraint, ...]
    owner: str = ""  # a many-to-many table Django creates: "Model.field" that owns it

    @property
    def label(self) -> str:
        return f"{self.app}.{self.model}"


@dataclasses.dataclass(frozen=True)
class Scope:
    """The models compared, and the apps left out and why."""

    models: tuple[type[models.Model], ...]
    pending_apps: tuple[str, ...]  # with migrations not applied: their tables are not due yet
    unmigrated_apps: tuple[str, ...]  # without migrations: migrate does not create their tables


def scope(using: str) -> Scope:
    """Return the models whose tables ``manage.py migrate`` creates on ``using``: managed,
    not proxy or swapped, routed there, of apps whose migrations are all applied (plus
    the many-to-many tables Django creates for them)."""
    connection = connections[using]
    migrations = status.django_migrations(using)
    migrated = {m.app for m in migrations}
    pending = {m.app for m in migrations if not m.applied}

    def migrates(model: type[models.Model]) -> bool:
        meta = model._meta
        return (
            meta.managed
            and not meta.proxy
            and not meta.swapped
            and meta.can_migrate(connection)
            and router.allow_migrate_model(using, model)
        )

    chosen: list[type[models.Model]] = []
    left_pending: set[str] = set()
    left_unmigrated: set[str] = set()
    for model in apps.get_models(include_auto_created=True):
        owner = model._meta.auto_created  # a many-to-many table: created with its model
        if not migrates(owner if isinstance(owner, type) else model):
            continue
        label = model._meta.app_label
        if label in pending:
            left_pending.add(label)
        elif label not in migrated:
            left_unmigrated.add(label)
        else:
            chosen.append(model)
    return Scope(tuple(chosen), tuple(sorted(left_pending)), tuple(sorted(left_unmigrated)))


def tables(using: str, chosen: Iterable[type[models.Model]]) -> list[Table]:
    """Return what the ``chosen`` models say ``using`` should contain, table by table."""
    # Never entered, so it runs nothing: only its name and SQL functions are used,
    # most of them private (and so typed Any): Django's own answers, not a copy.
    editor: Any = connections[using].schema_editor(collect_sql=True, atomic=False)
    return [_table(editor, model) for model in chosen]


def _table(editor: Any, model: type[models.Model]) -> Table:
    meta = model._meta
    columns: list[Column] = []
    for field in meta.local_concrete_fields:
        db_type = field.db_parameters(connection=editor.connection)["type"]
        if db_type is None or field.column is None:  # not a column of its own
            continue
        # A generated column is never NOT NULL: Django writes GENERATED ALWAYS instead.
        null = field.null or bool(getattr(field, "generated", False))
        auto_id = field.primary_key and isinstance(meta.auto_created, type)
        columns.append(Column(field.name, field.column, db_type, null, not auto_id))
    owner = ""
    if isinstance(meta.auto_created, type):
        many = [
            f
            for f in meta.auto_created._meta.local_many_to_many
            if f.remote_field.through is model
        ]
        owner = f"{meta.auto_created._meta.object_name}.{many[0].name}" if many else ""
    return Table(
        app=meta.app_label,
        model=meta.object_name or model.__name__,
        table=meta.db_table,
        columns=tuple(columns),
        constraints=tuple(_constraints(editor, model)),
        owner=owner,
    )


def _constraints(editor: Any, model: type[models.Model]) -> Iterator[Constraint]:
    meta = model._meta
    table = meta.db_table
    pk_columns = tuple(f.column for f in _primary_key_fields(model) if f.column)
    if pk_columns:
        yield Constraint(
            Kind.PRIMARY_KEY,
            "primary_key",
            meta.pk.name if meta.pk is not None else "",
            "",
            pk_columns,
            sql=f"ALTER TABLE {editor.quote_name(table)} ADD PRIMARY KEY "
            f"({', '.join(editor.quote_name(c) for c in pk_columns)})",
        )
    named: set[str] = set()
    for field in meta.local_concrete_fields:
        parameters = field.db_parameters(connection=editor.connection)
        column = field.column
        if parameters["type"] is None or column is None:
            continue
        for statement in editor._field_indexes_sql(model, field):
            name = _name(statement)
            named.add(name)
            opclasses = tuple(getattr(statement.parts["columns"], "opclasses", ()) or ())
            source = "db_index" if getattr(field, "db_index", False) else "unique"
            yield Constraint(
                Kind.INDEX,
                source,
                field.name,
                name,
                (column,),
                opclasses,
                sql=_concurrently(statement),
            )
        if field.unique and not field.primary_key:
            unique = editor._create_unique_sql(model, [field])
            yield Constraint(Kind.UNIQUE, "unique", field.name, "", (column,), sql=_sql(unique))
        check = parameters.get("check")
        if check:
            name = editor._create_index_name(table, [column], suffix="_check")
            yield Constraint(
                Kind.CHECK,
                "field check",
                field.name,
                "",
                (column,),
                sql=str(editor._create_check_sql(model, name, check)),
            )
        if field.remote_field is not None and getattr(field, "db_constraint", False):
            target = field.target_field  # type: ignore[attr-defined]
            fk = editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
            yield Constraint(
                Kind.FOREIGN_KEY,
                type(field).__name__,
                field.name,
                _name(fk),
                (column,),
                target=(target.model._meta.db_table, target.column),
                sql=str(fk),
            )
    # Meta.indexes (and index_together before Django 5.1): what the field indexes left.
    for statement in editor._model_indexes_sql(model):
        name = _name(statement)
        if name not in named:
            yield Constraint(
                Kind.NAMED, "Meta.indexes", "", name, (), sql=_concurrently(statement)
            )
    for field_names in meta.unique_together:
        fields = [meta.get_field(name) for name in field_names]
        statement = editor._create_unique_sql(model, fields)
        yield Constraint(
            Kind.UNIQUE,
            "unique_together",
            "",
            _name(statement) if statement else "",
            tuple(f.column for f in fields if isinstance(f, models.Field) and f.column),
            sql=_sql(statement),
        )
    for constraint in meta.constraints:
        yield Constraint(
            Kind.NAMED,
            "Meta.constraints",
            "",
            constraint.name,
            (),
            sql=_sql(constraint.create_sql(model, editor)),
        )


def _primary_key_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The primary key's fields: one, or several for a composite key (Django 5.2+)."""
    meta = model._meta
    fields = getattr(meta, "pk_fields", None)
    if fields is not None:
        return list(fields)
    return [meta.pk] if meta.pk is not None else []


def _name(statement: Statement) -> str:
    return str(statement.parts["name"]).strip('"')


def _sql(statement: object) -> str:
    return "" if statement is None else str(statement)


def _concurrently(statement: Statement) -> str:
    """The index's SQL, built without blocking writes: what a script should run."""
    text = str(statement)
    for plain in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        if text.startswith(plain):
            return plain + "CONCURRENTLY " + text[len(plain) :]
    return text
