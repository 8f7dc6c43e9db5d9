"""A light model of a SQL statement: its kind, table, columns and options.

Rules read this model, never raw text, so nothing inside a comment, a string
literal or a dollar-quoted body can ever produce a finding: the tokenizer
below turns those into single opaque tokens first.
"""

from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple

from schemaops.statements import (
    DOLLAR_QUOTE,
    IDENT_CHAR,
    IDENT_START,
    Statement,
    skip_block_comment,
    skip_estring,
)

# Leading whitespace and line comments are consumed with each token (an atomic
# group: never given back, so no comment's tail can become a token). Closed
# strings, quoted identifiers and dollar quotes match whole; an unclosed one (or a
# block comment, which nests) matches only its opening and is finished by hand.
_TOKEN = re.compile(
    rf"""
    (?>(?:\s+|--[^\n]*)*)
    (?:
      (?P<estring>[eE]')
    | (?P<word>{IDENT_START}{IDENT_CHAR}*)
    | (?P<punct>::|[(),.;=])
    | (?P<number>[0-9]+(?:\.[0-9]+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<ident>"(?:[^"]|"")*")
    | (?P<dollar>(?P<tag>{DOLLAR_QUOTE}).*?(?P=tag))
    | (?P<block_comment>/\*)
    | (?P<open_string>')
    | (?P<open_ident>")
    | (?P<open_dollar>{DOLLAR_QUOTE})
    | (?P<other>.)
    )
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):
    """A token: ``kind`` is word, ident, string, number, punct or other.

    ``value`` is upper case for words (keywords and unquoted names alike),
    unquoted for quoted identifiers; ``name`` is how PostgreSQL folds it.
    (A tuple: a big script has tens of thousands of tokens.)
    """

    kind: str
    value: str
    offset: int

    @property
    def name(self) -> str:
        return self.value.lower() if self.kind == "word" else self.value


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text``, without whitespace and comments.

    Strings, quoted identifiers, dollar quotes and (nested) block comments that
    are not closed run to the end of the text, as in the scanner, so each
    character is read a bounded number of times.
    """
    tokens: list[Token] = []
    append = tokens.append
    pos = 0
    length = len(text)
    while pos < length:
        match = _TOKEN.match(text, pos)
        if match is None:  # only whitespace and comments were left
            break
        kind = match.lastgroup
        start = match.start(kind) if kind else match.end()
        end = match.end()
        if kind == "word":
            append(Token("word", text[start:end].upper(), start))
        elif kind in ("punct", "number", "other"):
            append(Token(kind, text[start:end], start))
        elif kind in ("string", "dollar"):
            append(Token("string", text[start:end], start))
        elif kind == "ident":
            append(Token("ident", text[start + 1 : end - 1].replace('""', '"'), start))
        elif kind == "block_comment":
            end = skip_block_comment(text, start)[0]
        elif kind == "estring":
            end = skip_estring(text, end)[0]
            append(Token("string", text[start:end], start))
        elif kind in ("open_string", "open_ident", "open_dollar"):
            end = length  # unclosed: the rest of the text
            if kind == "open_ident":
                append(Token("ident", text[start + 1 : end], start))
            else:
                append(Token("string", text[start:end], start))
        pos = end
    return tokens


@dataclasses.dataclass(frozen=True)
class Column:
    """A column definition (``CREATE TABLE`` or ``ADD COLUMN``)."""

    name: str
    type: str  # upper case, e.g. "INTEGER", "VARCHAR(20)", "TIMESTAMP"
    not_null: bool = False
    default: str | None = None  # the default expression's text, upper case
    generated_stored: bool = False
    identity: bool = False
    primary_key: bool = False
    references: bool = False  # an inline REFERENCES (a foreign key)
    unique: bool = False  # an inline UNIQUE
    offset: int = 0


@dataclasses.dataclass(frozen=True)
class Action:
    """One action of an ``ALTER TABLE`` (or the whole of another statement)."""

    kind: str
    offset: int = 0
    column: Column | None = None
    column_name: str = ""
    constraint: str = ""  # constraint kind: check, foreign_key, unique, primary_key, exclude
    constraint_name: str = ""
    not_valid: bool = False
    using_index: bool = False
    expression: str = ""  # a CHECK's expression, upper case, normalised spaces
    new_name: str = ""
    new_type: str = ""


@dataclasses.dataclass(frozen=True)
class SqlStatement:
    """A statement as the rules see it."""

    statement: Statement
    kind: str  # create_index, drop_index, reindex, create_table, alter_table, drop_table, ...
    table: str = ""
    index: str = ""
    concurrently: bool = False
    only: bool = False
    unique: bool = False
    has_where: bool = False
    columns: tuple[Column, ...] = ()
    actions: tuple[Action, ...] = ()
    setting: tuple[str, str] | None = None  # SET name = value

    @property
    def line(self) -> int:
        return self.statement.line


def _qualified_name(tokens: list[Token], i: int) -> tuple[str, int]:
    """Read ``name`` or ``schema.name`` at ``i``; return it (folded) and the next index."""
    if i >= len(tokens) or tokens[i].kind not in ("word", "ident"):
        return "", i
    name = tokens[i].name
    i += 1
    while (
        i + 1 < len(tokens) and tokens[i].value == "." and tokens[i + 1].kind in ("word", "ident")
    ):
        name = f"{name}.{tokens[i + 1].name}"
        i += 2
    return name, i


def _skip(tokens: list[Token], i: int, *words: str) -> int:
    """Skip the keyword sequence ``words`` at ``i`` if it is there."""
    end = i + len(words)
    if end > len(tokens):
        return i
    for token, word in zip(tokens[i:end], words, strict=True):
        if token.value != word or token.kind != "word":
            return i
    return end


def _is(tokens: list[Token], i: int, *words: str) -> bool:
    """Whether the keyword sequence ``words`` is at ``i``."""
    return _skip(tokens, i, *words) != i


def _split_top_level(tokens: list[Token], start: int, end: int) -> list[tuple[int, int]]:
    """Split ``tokens[start:end]`` at commas outside parentheses."""
    parts = []
    depth = 0
    part_start = start
    for i in range(start, end):
        value = tokens[i].value if tokens[i].kind == "punct" else ""
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
        elif value == "," and depth == 0:
            parts.append((part_start, i))
            part_start = i + 1
    if part_start < end:
        parts.append((part_start, end))
    return parts


def _text(tokens: list[Token], start: int, end: int) -> str:
    out = []
    for token in tokens[start:end]:
        out.append(token.value if token.kind != "ident" else f'"{token.value}"')
    return " ".join(out)


_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"}
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


def _column(tokens: list[Token], start: int, end: int) -> Column | None:
    if start >= end or tokens[start].kind not in ("word", "ident"):
        return None
    name = tokens[start].name
    type_start = start + 1
    i = _until_word(tokens, type_start, end, _COLUMN_STOP)
    column_type = _text(tokens, type_start, i).replace(" (", "(").replace("( ", "(")
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


def _constraint(tokens: list[Token], start: int, end: int, offset: int) -> Action:
    i = start
    name = ""
    if _is(tokens, i, "CONSTRAINT"):
        name, i = _qualified_name(tokens, i + 1)
    words = [t.value for t in tokens[i:end] if t.kind == "word"]
    kind = "check"
    if _is(tokens, i, "FOREIGN"):
        kind = "foreign_key"
    elif _is(tokens, i, "UNIQUE"):
        kind = "unique"
    elif _is(tokens, i, "PRIMARY"):
        kind = "primary_key"
    elif _is(tokens, i, "EXCLUDE"):
        kind = "exclude"
    expression = ""
    if kind == "check":
        expression = _text(tokens, i + 1, end)
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


def _alter_action(tokens: list[Token], start: int, end: int) -> Action:
    offset = tokens[start].offset
    i = start
    if _is(tokens, i, "ADD"):
        i += 1
        if _is(tokens, i, "COLUMN"):
            i += 1
        i = _skip(tokens, i, "IF", "NOT", "EXISTS")
        if (
            i < end
            and tokens[i].kind == "word"
            and tokens[i].value in _CONSTRAINT_WORDS - {"LIKE"}
        ):
            return _constraint(tokens, i, end, offset)
        return Action(kind="add_column", offset=offset, column=_column(tokens, i, end))
    if _is(tokens, i, "DROP"):
        i += 1
        if _is(tokens, i, "CONSTRAINT"):
            i = _skip(tokens, i + 1, "IF", "EXISTS")
            return Action(
                kind="drop_constraint",
                offset=offset,
                constraint_name=tokens[i].name if i < end else "",
            )
        if _is(tokens, i, "COLUMN"):
            i += 1
        i = _skip(tokens, i, "IF", "EXISTS")
        return Action(
            kind="drop_column", offset=offset, column_name=tokens[i].name if i < end else ""
        )
    if _is(tokens, i, "ALTER"):
        i += 1
        if _is(tokens, i, "COLUMN"):
            i += 1
        column = tokens[i].name if i < end else ""
        i += 1
        if _is(tokens, i, "SET", "NOT", "NULL"):
            return Action(kind="set_not_null", offset=offset, column_name=column)
        if _is(tokens, i, "DROP", "NOT", "NULL"):
            return Action(kind="drop_not_null", offset=offset, column_name=column)
        if _is(tokens, i, "TYPE") or _is(tokens, i, "SET", "DATA", "TYPE"):
            i = i + 1 if _is(tokens, i, "TYPE") else i + 3
            stop = i
            while stop < end and not (
                tokens[stop].kind == "word" and tokens[stop].value in ("USING", "COLLATE")
            ):
                stop += 1
            return Action(
                kind="alter_column_type",
                offset=offset,
                column_name=column,
                new_type=_text(tokens, i, stop),
            )
        if _is(tokens, i, "SET", "DEFAULT"):
            return Action(kind="set_default", offset=offset, column_name=column)
        return Action(kind="alter_column", offset=offset, column_name=column)
    if _is(tokens, i, "VALIDATE", "CONSTRAINT"):
        return Action(
            kind="validate_constraint",
            offset=offset,
            constraint_name=tokens[i + 2].name if i + 2 < end else "",
        )
    if _is(tokens, i, "RENAME", "TO"):
        return Action(
            kind="rename_table", offset=offset, new_name=tokens[i + 2].name if i + 2 < end else ""
        )
    if _is(tokens, i, "RENAME", "CONSTRAINT"):
        return Action(kind="rename_constraint", offset=offset)
    if _is(tokens, i, "RENAME"):
        i += 1
        if _is(tokens, i, "COLUMN"):
            i += 1
        old = tokens[i].name if i < end else ""
        new = tokens[i + 2].name if i + 2 < end else ""
        return Action(kind="rename_column", offset=offset, column_name=old, new_name=new)
    if _is(tokens, i, "SET", "LOGGED") or _is(tokens, i, "SET", "UNLOGGED"):
        return Action(kind="set_logged", offset=offset)
    if _is(tokens, i, "ATTACH", "PARTITION"):
        return Action(kind="attach_partition", offset=offset)
    return Action(kind="other", offset=offset)


# The first words of the statements the rules read; any other statement (INSERT,
# SELECT, COMMENT, GRANT, DO, ...) is ``other`` without being tokenized.
_MODELLED = frozenset(
    {"CREATE", "ALTER", "DROP", "REINDEX", "UPDATE", "DELETE", "TRUNCATE", "BEGIN", "START"}
    | {"COMMIT", "END", "ROLLBACK", "ABORT", "SET"}
)
_FIRST_WORD = re.compile(r"[A-Za-z]+(?![\w$])")


def parse(statement: Statement) -> SqlStatement:
    """Model ``statement`` (never raises; unknown statements have kind ``other``)."""
    first_word = _FIRST_WORD.match(statement.text)
    if first_word is not None and first_word.group().upper() not in _MODELLED:
        return SqlStatement(statement, "other")
    tokens = tokenize(statement.text)
    if not tokens:
        return SqlStatement(statement, "empty")
    first = tokens[0].value if tokens[0].kind == "word" else ""
    i = 1
    if first == "CREATE":
        unique = _is(tokens, i, "UNIQUE")
        i = _skip(tokens, i, "UNIQUE")
        if _is(tokens, i, "INDEX"):
            i += 1
            concurrently = _is(tokens, i, "CONCURRENTLY")
            i = _skip(tokens, i, "CONCURRENTLY")
            i = _skip(tokens, i, "IF", "NOT", "EXISTS")
            index = ""
            if not _is(tokens, i, "ON"):
                index, i = _qualified_name(tokens, i)
            i = _skip(tokens, i, "ON")
            only = _is(tokens, i, "ONLY")
            i = _skip(tokens, i, "ONLY")
            table, _ = _qualified_name(tokens, i)
            return SqlStatement(
                statement,
                "create_index",
                table=table,
                index=index,
                concurrently=concurrently,
                only=only,
                unique=unique,
            )
        for modifier in ("TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL"):
            i = _skip(tokens, i, modifier)
        if _is(tokens, i, "TABLE"):
            i = _skip(tokens, i + 1, "IF", "NOT", "EXISTS")
            table, i = _qualified_name(tokens, i)
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
                for start, end in _split_top_level(tokens, i + 1, close):
                    if tokens[start].kind == "word" and tokens[start].value in _CONSTRAINT_WORDS:
                        actions.append(_constraint(tokens, start, end, tokens[start].offset))
                    else:
                        column = _column(tokens, start, end)
                        if column is not None:
                            columns.append(column)
            return SqlStatement(
                statement,
                "create_table",
                table=table,
                columns=tuple(columns),
                actions=tuple(actions),
            )
        return SqlStatement(statement, "create_other")
    if first == "ALTER" and _is(tokens, i, "TABLE"):
        i = _skip(tokens, i + 1, "IF", "EXISTS")
        only = _is(tokens, i, "ONLY")
        i = _skip(tokens, i, "ONLY")
        table, i = _qualified_name(tokens, i)
        actions = [
            _alter_action(tokens, s, e) for s, e in _split_top_level(tokens, i, len(tokens))
        ]
        return SqlStatement(
            statement, "alter_table", table=table, only=only, actions=tuple(actions)
        )
    if first == "DROP":
        if _is(tokens, i, "INDEX"):
            i += 1
            concurrently = _is(tokens, i, "CONCURRENTLY")
            i = _skip(tokens, _skip(tokens, i, "CONCURRENTLY"), "IF", "EXISTS")
            index, _ = _qualified_name(tokens, i)
            return SqlStatement(statement, "drop_index", index=index, concurrently=concurrently)
        if _is(tokens, i, "TABLE"):
            i = _skip(tokens, i + 1, "IF", "EXISTS")
            table, _ = _qualified_name(tokens, i)
            return SqlStatement(statement, "drop_table", table=table)
        if _is(tokens, i, "DATABASE"):
            return SqlStatement(statement, "drop_database")
        return SqlStatement(statement, "drop_other")
    if first == "REINDEX":
        words = {t.value for t in tokens if t.kind == "word"}
        return SqlStatement(statement, "reindex", concurrently="CONCURRENTLY" in words)
    if first in ("UPDATE", "DELETE"):
        i = _skip(tokens, i, "FROM") if first == "DELETE" else i
        i = _skip(tokens, i, "ONLY")
        table, _ = _qualified_name(tokens, i)
        has_where = any(t.kind == "word" and t.value == "WHERE" for t in tokens)
        return SqlStatement(statement, first.lower(), table=table, has_where=has_where)
    if first == "TRUNCATE":
        i = _skip(tokens, _skip(tokens, i, "TABLE"), "ONLY")
        table, _ = _qualified_name(tokens, i)
        return SqlStatement(statement, "truncate", table=table)
    if first in ("BEGIN", "START") and not _is(tokens, i, "ATOMIC"):
        return SqlStatement(statement, "begin")
    if first in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        return SqlStatement(statement, "commit")
    if first == "SET":
        i = _skip(tokens, _skip(tokens, i, "LOCAL"), "SESSION")
        if i < len(tokens):
            name = tokens[i].name
            value_tokens = [t.value for t in tokens[i + 1 :] if t.value not in ("=", "TO")]
            return SqlStatement(statement, "set", setting=(name, " ".join(value_tokens)))
    return SqlStatement(statement, "other")
