"""A light model of a SQL statement, as the rules read it: its kind, table, columns,
actions and options (:func:`parse`).

Rules read this model, never raw text, so nothing inside a comment, a string
literal or a dollar-quoted body can ever produce a finding: the tokenizer
(:mod:`schemaops.lint.tokens`) turns those into single opaque tokens first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from schemaops.lint import table_syntax
from schemaops.lint.table_syntax import Action, Column, Model
from schemaops.lint.tokens import (
    Token,
    at,
    qualified_name,
    skip,
    split_top_level,
    tokenize,
)
from schemaops.statements import Statement


class SqlStatement(Model):
    """A statement as the rules see it: ``kind`` is create_index, drop_index,
    reindex, create_table, alter_table, drop_table, ... (and
    create_materialized_view, refresh_materialized_view, create_domain,
    alter_domain, vacuum_full, cluster); ``setting`` a SET's name and value."""

    __slots__ = (
        "actions",
        "columns",
        "concurrently",
        "has_where",
        "index_name",
        "kind",
        "only",
        "setting",
        "statement",
        "table",
        "unique",
    )

    def __init__(
        self,
        statement: Statement,
        kind: str,
        table: str = "",
        index_name: str = "",
        concurrently: bool = False,
        only: bool = False,
        unique: bool = False,
        has_where: bool = False,
        columns: tuple[Column, ...] = (),
        actions: tuple[Action, ...] = (),
        setting: tuple[str, str] | None = None,
    ) -> None:
        self.statement = statement
        self.kind = kind
        self.table = table
        self.index_name = index_name
        self.concurrently = concurrently
        self.only = only
        self.unique = unique
        self.has_where = has_where
        self.columns = columns
        self.actions = actions
        self.setting = setting

    @property
    def line(self) -> int:
        return self.statement.line


# The first words of the statements the rules read; any other statement (INSERT,
# SELECT, COMMENT, GRANT, DO, ...) is ``other`` without being tokenized.
_MODELLED = frozenset(
    {"CREATE", "ALTER", "DROP", "REINDEX", "UPDATE", "DELETE", "TRUNCATE", "BEGIN", "START"}
    | {"COMMIT", "END", "ROLLBACK", "ABORT", "SET"}
    | {"WITH", "VACUUM", "CLUSTER", "REFRESH"}
)
_FIRST_WORD = re.compile(r"[A-Za-z]+(?![\w$])")
# CREATE statements decided by their first words, without tokenizing the rest: an
# object no rule reads (a function and its body above all: any word after CREATE
# but those _create reads), and an index, whose model is in its first tokens (the
# column list and WHERE are not read).
# (A word that goes on in a non-ASCII character is told apart by the tokens: the
# same kind either way, create_other or the full model.)
_CREATE_HEAD = re.compile(r"CREATE\s+(UNIQUE\s+)?([A-Za-z]+)(?![\w$])", re.IGNORECASE)
_CREATE_READS = frozenset(
    {"UNIQUE", "INDEX", "TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL", "TABLE"}
    | {"MATERIALIZED", "DOMAIN"}
)
# CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS name ON ONLY catalog.schema.table
_INDEX_HEAD_TOKENS = 16


def parse(statement: Statement) -> SqlStatement:
    """Model ``statement`` (never raises; unknown statements have kind ``other``)."""
    first_word = _FIRST_WORD.match(statement.text)
    if first_word is not None and first_word.group().upper() not in _MODELLED:
        return SqlStatement(statement, "other")
    limit = None
    head = _CREATE_HEAD.match(statement.text)
    if head is not None:
        word = head.group(2).upper()
        if word == "INDEX":
            limit = _INDEX_HEAD_TOKENS
        elif not head.group(1) and word not in _CREATE_READS:
            return SqlStatement(statement, "create_other")
    tokens = tokenize(statement.text, limit)
    if not tokens:
        return SqlStatement(statement, "empty")
    first = tokens[0].value if tokens[0].kind == "word" else ""
    reader = _READERS.get(first)
    if reader is not None:
        return reader(statement, tokens)
    if first in ("BEGIN", "START") and not at(tokens, 1, "ATOMIC"):
        return SqlStatement(statement, "begin")
    if first in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        return SqlStatement(statement, "commit")
    return SqlStatement(statement, "other")


def _create(statement: Statement, tokens: list[Token]) -> SqlStatement:
    unique = at(tokens, 1, "UNIQUE")
    i = skip(tokens, 1, "UNIQUE")
    if at(tokens, i, "INDEX"):
        return _create_index(statement, tokens, i + 1, unique)
    for modifier in ("TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL"):
        i = skip(tokens, i, modifier)
    if at(tokens, i, "TABLE"):
        return _create_table(statement, tokens, i + 1)
    if at(tokens, i, "MATERIALIZED", "VIEW"):
        view, _ = qualified_name(tokens, skip(tokens, i + 2, "IF", "NOT", "EXISTS"))
        return SqlStatement(statement, "create_materialized_view", table=view)
    if at(tokens, i, "DOMAIN"):
        return _create_domain(statement, tokens, i + 1)
    return SqlStatement(statement, "create_other")


def _create_domain(statement: Statement, tokens: list[Token], i: int) -> SqlStatement:
    """``CREATE DOMAIN name [AS] type [constraints]``, from after ``DOMAIN``: each
    ``CHECK`` or ``NOT NULL`` is an ``add_constraint`` action."""
    domain, i = qualified_name(tokens, i)
    actions = []
    depth = 0
    for k in range(i, len(tokens)):
        token = tokens[k]
        if token.kind == "punct" and token.value in ("(", ")"):
            depth += 1 if token.value == "(" else -1
        elif depth == 0 and token.kind == "word":
            if token.value == "CHECK":
                actions.append(
                    Action(kind="add_constraint", offset=token.offset, constraint="check")
                )
            elif token.value == "NOT" and at(tokens, k + 1, "NULL"):
                actions.append(
                    Action(kind="add_constraint", offset=token.offset, constraint="not_null")
                )
    return SqlStatement(statement, "create_domain", table=domain, actions=tuple(actions))


def _create_index(statement: Statement, tokens: list[Token], i: int, unique: bool) -> SqlStatement:
    """``CREATE [UNIQUE] INDEX ...``, from after ``INDEX``."""
    concurrently = at(tokens, i, "CONCURRENTLY")
    i = skip(tokens, i, "CONCURRENTLY")
    i = skip(tokens, i, "IF", "NOT", "EXISTS")
    index = ""
    if not at(tokens, i, "ON"):
        index, i = qualified_name(tokens, i)
    i = skip(tokens, i, "ON")
    only = at(tokens, i, "ONLY")
    i = skip(tokens, i, "ONLY")
    table, _ = qualified_name(tokens, i)
    return SqlStatement(
        statement,
        "create_index",
        table=table,
        index_name=index,
        concurrently=concurrently,
        only=only,
        unique=unique,
    )


def _create_table(statement: Statement, tokens: list[Token], i: int) -> SqlStatement:
    """``CREATE ... TABLE ...``, from after ``TABLE``."""
    i = skip(tokens, i, "IF", "NOT", "EXISTS")
    table, i = qualified_name(tokens, i)
    columns: list[Column] = []
    actions: list[Action] = []
    if i < len(tokens) and tokens[i].value == "(":
        depth = 0
        close = i
        for close in range(i, len(tokens)):
            if tokens[close].kind == "punct" and tokens[close].value == "(":
                depth += 1
            elif tokens[close].kind == "punct" and tokens[close].value == ")":
                depth -= 1
                if depth == 0:
                    break
        for start, end in split_top_level(tokens, i + 1, close):
            if (
                tokens[start].kind == "word"
                and tokens[start].value in table_syntax.CONSTRAINT_WORDS
            ):
                actions.append(table_syntax.constraint(tokens, start, end, tokens[start].offset))
            else:
                column = table_syntax.column(tokens, start, end)
                if column is not None:
                    columns.append(column)
    return SqlStatement(
        statement, "create_table", table=table, columns=tuple(columns), actions=tuple(actions)
    )


def _alter(statement: Statement, tokens: list[Token]) -> SqlStatement:
    if at(tokens, 1, "DOMAIN"):
        return _alter_domain(statement, tokens)
    if not at(tokens, 1, "TABLE"):
        return SqlStatement(statement, "other")
    i = skip(tokens, 2, "IF", "EXISTS")
    only = at(tokens, i, "ONLY")
    i = skip(tokens, i, "ONLY")
    table, i = qualified_name(tokens, i)
    actions = [
        table_syntax.alter_action(tokens, s, e) for s, e in split_top_level(tokens, i, len(tokens))
    ]
    return SqlStatement(statement, "alter_table", table=table, only=only, actions=tuple(actions))


def _alter_domain(statement: Statement, tokens: list[Token]) -> SqlStatement:
    """``ALTER DOMAIN name ADD [CONSTRAINT c] CHECK (...) [NOT VALID]`` (an
    ``add_constraint`` action); any other form has no action."""
    domain, i = qualified_name(tokens, 2)
    actions: tuple[Action, ...] = ()
    if at(tokens, i, "ADD"):
        actions = (table_syntax.constraint(tokens, i + 1, len(tokens), tokens[i].offset),)
    return SqlStatement(statement, "alter_domain", table=domain, actions=actions)


def _drop_statement(statement: Statement, tokens: list[Token]) -> SqlStatement:
    if at(tokens, 1, "INDEX"):
        concurrently = at(tokens, 2, "CONCURRENTLY")
        i = skip(tokens, skip(tokens, 2, "CONCURRENTLY"), "IF", "EXISTS")
        index, _ = qualified_name(tokens, i)
        return SqlStatement(statement, "drop_index", index_name=index, concurrently=concurrently)
    if at(tokens, 1, "TABLE"):
        table, _ = qualified_name(tokens, skip(tokens, 2, "IF", "EXISTS"))
        return SqlStatement(statement, "drop_table", table=table)
    if at(tokens, 1, "DATABASE"):
        return SqlStatement(statement, "drop_database")
    return SqlStatement(statement, "drop_other")


def _reindex(statement: Statement, tokens: list[Token]) -> SqlStatement:
    words = {t.value for t in tokens if t.kind == "word"}
    return SqlStatement(statement, "reindex", concurrently="CONCURRENTLY" in words)


def _update_or_delete(statement: Statement, tokens: list[Token]) -> SqlStatement:
    first = tokens[0].value
    i = skip(tokens, 1, "FROM") if first == "DELETE" else 1
    table, _ = qualified_name(tokens, skip(tokens, i, "ONLY"))
    # Only the statement's own WHERE limits its rows: one inside parentheses (a
    # subquery in SET or FROM) does not.
    has_where = any(
        token.kind == "word" and token.value == "WHERE" and depth == 0
        for token, depth in _with_depth(tokens)
    )
    return SqlStatement(statement, first.lower(), table=table, has_where=has_where)


def _with_depth(tokens: list[Token]) -> Iterator[tuple[Token, int]]:
    """Each token with its depth in parentheses (a parenthesis itself is outside)."""
    depth = 0
    for token in tokens:
        if token.kind == "punct" and token.value == ")":
            depth -= 1
        yield token, depth
        if token.kind == "punct" and token.value == "(":
            depth += 1


def _with(statement: Statement, tokens: list[Token]) -> SqlStatement:
    """``WITH ... UPDATE`` or ``WITH ... DELETE``: the main statement after the
    common table expressions, read as if the ``WITH`` were not there. (A
    data-modifying statement inside a CTE is not read.)"""
    for k, (token, depth) in enumerate(_with_depth(tokens)):
        if depth == 0 and token.kind == "word" and token.value in _MAIN_VERBS and k > 1:
            if token.value in ("UPDATE", "DELETE"):
                return _update_or_delete(statement, tokens[k:])
            break
    return SqlStatement(statement, "other")


_MAIN_VERBS = frozenset({"UPDATE", "DELETE", "INSERT", "SELECT", "MERGE", "VALUES", "TABLE"})


def _vacuum(statement: Statement, tokens: list[Token]) -> SqlStatement:
    """``VACUUM FULL [table]`` or ``VACUUM (FULL ...) [table]``; any other VACUUM is
    ``other``. An empty table means every table of the database."""
    i = 1
    full = at(tokens, i, "FULL")
    if full:
        i += 1
    elif i < len(tokens) and tokens[i].value == "(":
        close = _closing(tokens, i)
        options = tokens[i + 1 : close]
        full = any(
            t.value == "FULL"
            and not (n + 1 < len(options) and options[n + 1].value in ("FALSE", "OFF", "0"))
            for n, t in enumerate(options)
        )
        i = close + 1
    if not full:
        return SqlStatement(statement, "other")
    for word in ("FREEZE", "VERBOSE", "ANALYZE"):
        i = skip(tokens, i, word)
    table, _ = qualified_name(tokens, i)
    return SqlStatement(statement, "vacuum_full", table=table)


def _closing(tokens: list[Token], i: int) -> int:
    """The index of the parenthesis that closes the one at ``i`` (or the last token)."""
    for k, (token, depth) in enumerate(_with_depth(tokens[i:]), start=i):
        if depth == 0 and k > i and token.kind == "punct" and token.value == ")":
            return k
    return len(tokens) - 1


def _cluster(statement: Statement, tokens: list[Token]) -> SqlStatement:
    """``CLUSTER [VERBOSE | (options)] [table [USING index]]`` (an empty table means
    every table clustered before)."""
    i = skip(tokens, 1, "VERBOSE")
    if i < len(tokens) and tokens[i].value == "(":
        i = _closing(tokens, i) + 1
    table, _ = qualified_name(tokens, i)
    return SqlStatement(statement, "cluster", table=table)


def _refresh(statement: Statement, tokens: list[Token]) -> SqlStatement:
    """``REFRESH MATERIALIZED VIEW [CONCURRENTLY] name``."""
    if not at(tokens, 1, "MATERIALIZED", "VIEW"):
        return SqlStatement(statement, "other")
    concurrently = at(tokens, 3, "CONCURRENTLY")
    view, _ = qualified_name(tokens, skip(tokens, 3, "CONCURRENTLY"))
    return SqlStatement(
        statement, "refresh_materialized_view", table=view, concurrently=concurrently
    )


def _truncate(statement: Statement, tokens: list[Token]) -> SqlStatement:
    table, _ = qualified_name(tokens, skip(tokens, skip(tokens, 1, "TABLE"), "ONLY"))
    return SqlStatement(statement, "truncate", table=table)


def _set(statement: Statement, tokens: list[Token]) -> SqlStatement:
    i = skip(tokens, skip(tokens, 1, "LOCAL"), "SESSION")
    if i >= len(tokens):
        return SqlStatement(statement, "other")
    name = tokens[i].name
    value_tokens = [t.value for t in tokens[i + 1 :] if t.value not in ("=", "TO")]
    return SqlStatement(statement, "set", setting=(name, " ".join(value_tokens)))


# How each modelled statement is read, by its first word.
_READERS: dict[str, Callable[[Statement, list[Token]], SqlStatement]] = {
    "CREATE": _create,
    "ALTER": _alter,
    "DROP": _drop_statement,
    "REINDEX": _reindex,
    "UPDATE": _update_or_delete,
    "DELETE": _update_or_delete,
    "TRUNCATE": _truncate,
    "SET": _set,
    "WITH": _with,
    "VACUUM": _vacuum,
    "CLUSTER": _cluster,
    "REFRESH": _refresh,
}

__all__ = ["Action", "Column", "SqlStatement", "parse"]
