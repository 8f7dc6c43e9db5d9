"""The parts of ``CREATE TABLE`` and ``ALTER TABLE`` the rules read: column
definitions, table constraints and the actions of an ``ALTER TABLE``."""

from __future__ import annotations

import re

from schemaops.lint.tokens import Token, at, qualified_name, skip, text_between


class Model:
    """The statement model's records: slotted classes, not named tuples (each named
    tuple class costs a console start a tenth of a millisecond, and a slot is read
    faster than a tuple field); nothing compares them."""

    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Column(Model):
    """A column definition (``CREATE TABLE`` or ``ADD COLUMN``): ``type`` upper case
    (``"INTEGER"``, ``"VARCHAR(20)"``), ``default`` the default expression's text,
    upper case; ``references`` and ``unique`` an inline REFERENCES or UNIQUE."""

    __slots__ = (
        "default",
        "generated_stored",
        "identity",
        "name",
        "not_null",
        "offset",
        "primary_key",
        "references",
        "type",
        "unique",
    )

    def __init__(
        self,
        name: str,
        type: str,
        not_null: bool = False,
        default: str | None = None,
        generated_stored: bool = False,
        identity: bool = False,
        primary_key: bool = False,
        references: bool = False,
        unique: bool = False,
        offset: int = 0,
    ) -> None:
        self.name = name
        self.type = type
        self.not_null = not_null
        self.default = default
        self.generated_stored = generated_stored
        self.identity = identity
        self.primary_key = primary_key
        self.references = references
        self.unique = unique
        self.offset = offset


class Action(Model):
    """One action of an ``ALTER TABLE`` (or the whole of another statement):
    ``constraint`` is check, foreign_key, unique, primary_key or exclude (a domain's:
    not_null); ``expression`` a CHECK's, upper case, spaces normalised;
    ``concurrently`` DETACH PARTITION ... CONCURRENTLY (or FINALIZE)."""

    __slots__ = (
        "column",
        "column_name",
        "concurrently",
        "constraint",
        "constraint_name",
        "expression",
        "kind",
        "new_name",
        "new_type",
        "not_valid",
        "offset",
        "using_index",
    )

    def __init__(
        self,
        kind: str,
        offset: int = 0,
        column: Column | None = None,
        column_name: str = "",
        constraint: str = "",
        constraint_name: str = "",
        not_valid: bool = False,
        using_index: bool = False,
        expression: str = "",
        new_name: str = "",
        new_type: str = "",
        concurrently: bool = False,
    ) -> None:
        self.kind = kind
        self.offset = offset
        self.column = column
        self.column_name = column_name
        self.constraint = constraint
        self.constraint_name = constraint_name
        self.not_valid = not_valid
        self.using_index = using_index
        self.expression = expression
        self.new_name = new_name
        self.new_type = new_type
        self.concurrently = concurrently


CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"}
_COLUMN_STOP = {
    "NOT",
    "NULL",
    "DEFAULT",
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "REFERENCES",
    "GENERATED",
    "COLLATE",
    "USING",
}


def _until_word(tokens: list[Token], start: int, end: int, words: set[str]) -> int:
    """Return the index of the first of ``words`` outside parentheses in
    ``tokens[start:end]``, or ``end``."""
    depth = 0
    for i in range(start, end):
        token = tokens[i]
        if token.kind == "punct" and token.value == "(":
            depth += 1
        elif token.kind == "punct" and token.value == ")":
            depth -= 1
        elif depth == 0 and token.kind == "word" and token.value in words:
            return i
    return end


def column(tokens: list[Token], start: int, end: int) -> Column | None:
    if start >= end or tokens[start].kind not in ("word", "ident"):
        return None
    name = tokens[start].name
    type_start = start + 1
    i = _until_word(tokens, type_start, end, _COLUMN_STOP)
    column_type = text_between(tokens, type_start, i).replace(" (", "(").replace("( ", "(")
    column_type = column_type.replace(" )", ")").replace(" ,", ",")
    rest = tokens[i:end]
    words = [t.value for t in rest if t.kind == "word"]
    not_null = any(
        rest[k].value == "NOT" and k + 1 < len(rest) and rest[k + 1].value == "NULL"
        for k in range(len(rest))
    )
    default = None
    for k, token in enumerate(rest):
        if token.kind == "word" and token.value == "DEFAULT":
            stop = _until_word(rest, k + 1, len(rest), _COLUMN_STOP)
            default = " ".join(t.value for t in rest[k + 1 : stop])
            break
    generated_stored = "GENERATED" in words and "STORED" in words
    identity = "GENERATED" in words and "IDENTITY" in words
    primary_key = "PRIMARY" in words and "KEY" in words
    return Column(
        name=name,
        type=column_type,
        not_null=not_null or primary_key,
        default=default,
        generated_stored=generated_stored,
        identity=identity,
        primary_key=primary_key,
        references="REFERENCES" in words,
        unique="UNIQUE" in words,
        offset=tokens[start].offset,
    )


def constraint(tokens: list[Token], start: int, end: int, offset: int) -> Action:
    i = start
    name = ""
    if at(tokens, i, "CONSTRAINT"):
        name, i = qualified_name(tokens, i + 1)
    words = [t.value for t in tokens[i:end] if t.kind == "word"]
    kind = "check"
    if at(tokens, i, "FOREIGN"):
        kind = "foreign_key"
    elif at(tokens, i, "UNIQUE"):
        kind = "unique"
    elif at(tokens, i, "PRIMARY"):
        kind = "primary_key"
    elif at(tokens, i, "EXCLUDE"):
        kind = "exclude"
    expression = ""
    if kind == "check":
        expression = text_between(tokens, i + 1, end)
        expression = re.sub(r"\s*NOT\s+VALID\s*$", "", expression)
        expression = re.sub(r"\s*NO\s+INHERIT\s*$", "", expression)
    return Action(
        kind="add_constraint",
        offset=offset,
        constraint=kind,
        constraint_name=name,
        not_valid="VALID" in words and "NOT" in words,
        using_index="USING" in words and "INDEX" in words,
        expression=expression,
    )


def alter_action(tokens: list[Token], start: int, end: int) -> Action:
    offset = tokens[start].offset
    i = start
    if at(tokens, i, "ADD"):
        return _add(tokens, i + 1, end, offset)
    if at(tokens, i, "DROP"):
        return _drop(tokens, i + 1, end, offset)
    if at(tokens, i, "ALTER"):
        return _alter_column(tokens, i + 1, end, offset)
    if at(tokens, i, "VALIDATE", "CONSTRAINT"):
        return Action(
            kind="validate_constraint",
            offset=offset,
            constraint_name=tokens[i + 2].name if i + 2 < end else "",
        )
    if at(tokens, i, "RENAME"):
        return _rename(tokens, i, end, offset)
    if at(tokens, i, "SET", "LOGGED") or at(tokens, i, "SET", "UNLOGGED"):
        return Action(kind="set_logged", offset=offset)
    if at(tokens, i, "SET", "TABLESPACE"):
        return Action(kind="set_tablespace", offset=offset)
    if at(tokens, i, "SET", "ACCESS", "METHOD"):
        return Action(kind="set_access_method", offset=offset)
    if at(tokens, i, "ATTACH", "PARTITION"):
        return Action(kind="attach_partition", offset=offset)
    if at(tokens, i, "DETACH", "PARTITION"):
        words = {t.value for t in tokens[i:end] if t.kind == "word"}
        return Action(
            kind="detach_partition",
            offset=offset,
            # FINALIZE ends a concurrent detach that was interrupted: no long lock.
            concurrently="CONCURRENTLY" in words or "FINALIZE" in words,
        )
    return Action(kind="other", offset=offset)


def _add(tokens: list[Token], i: int, end: int, offset: int) -> Action:
    """``ADD [COLUMN] ...`` or ``ADD <constraint>``, from after ``ADD``."""
    if at(tokens, i, "COLUMN"):
        i += 1
    i = skip(tokens, i, "IF", "NOT", "EXISTS")
    if i < end and tokens[i].kind == "word" and tokens[i].value in CONSTRAINT_WORDS - {"LIKE"}:
        return constraint(tokens, i, end, offset)
    return Action(kind="add_column", offset=offset, column=column(tokens, i, end))


def _drop(tokens: list[Token], i: int, end: int, offset: int) -> Action:
    """``DROP CONSTRAINT ...`` or ``DROP [COLUMN] ...``, from after ``DROP``."""
    if at(tokens, i, "CONSTRAINT"):
        i = skip(tokens, i + 1, "IF", "EXISTS")
        return Action(
            kind="drop_constraint",
            offset=offset,
            constraint_name=tokens[i].name if i < end else "",
        )
    if at(tokens, i, "COLUMN"):
        i += 1
    i = skip(tokens, i, "IF", "EXISTS")
    return Action(kind="drop_column", offset=offset, column_name=tokens[i].name if i < end else "")


def _alter_column(tokens: list[Token], i: int, end: int, offset: int) -> Action:
    """``ALTER [COLUMN] name ...``, from after ``ALTER``."""
    if at(tokens, i, "COLUMN"):
        i += 1
    name = tokens[i].name if i < end else ""
    i += 1
    if at(tokens, i, "SET", "NOT", "NULL"):
        return Action(kind="set_not_null", offset=offset, column_name=name)
    if at(tokens, i, "DROP", "NOT", "NULL"):
        return Action(kind="drop_not_null", offset=offset, column_name=name)
    if at(tokens, i, "TYPE") or at(tokens, i, "SET", "DATA", "TYPE"):
        i = i + 1 if at(tokens, i, "TYPE") else i + 3
        stop = i
        while stop < end and not (
            tokens[stop].kind == "word" and tokens[stop].value in ("USING", "COLLATE")
        ):
            stop += 1
        return Action(
            kind="alter_column_type",
            offset=offset,
            column_name=name,
            new_type=text_between(tokens, i, stop),
        )
    if at(tokens, i, "SET", "DEFAULT"):
        return Action(kind="set_default", offset=offset, column_name=name)
    if at(tokens, i, "SET", "EXPRESSION"):
        return Action(kind="set_expression", offset=offset, column_name=name)
    return Action(kind="alter_column", offset=offset, column_name=name)


def _rename(tokens: list[Token], i: int, end: int, offset: int) -> Action:
    """``RENAME TO``, ``RENAME CONSTRAINT`` or ``RENAME [COLUMN] a TO b``."""
    if at(tokens, i, "RENAME", "TO"):
        return Action(
            kind="rename_table", offset=offset, new_name=tokens[i + 2].name if i + 2 < end else ""
        )
    if at(tokens, i, "RENAME", "CONSTRAINT"):
        return Action(kind="rename_constraint", offset=offset)
    i += 1
    if at(tokens, i, "COLUMN"):
        i += 1
    old = tokens[i].name if i < end else ""
    new = tokens[i + 2].name if i + 2 < end else ""
    return Action(kind="rename_column", offset=offset, column_name=old, new_name=new)
