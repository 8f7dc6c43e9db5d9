"""SQL tokens: the statement text as the linter reads it, without whitespace and
comments, and the small cursor functions its parser walks them with.

Strings, quoted identifiers, dollar quotes and comments become single opaque
tokens, so nothing inside them can ever produce a finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import NamedTuple

from schemaops.statements import (
    DOLLAR_QUOTE,
    IDENT_CHAR,
    IDENT_START,
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


# The pattern's groups by number (cheaper to compare than lastgroup's names), and
# tuple.__new__: a named tuple's own __new__ is a Python function, one call more
# per token.
_GROUP = _TOKEN.groupindex
_WORD, _STRING, _DOLLAR, _IDENT = (_GROUP[name] for name in ("word", "string", "dollar", "ident"))
_AS_IS = {_GROUP[name]: name for name in ("punct", "number", "other")}
_NAMES = {index: name for name, index in _GROUP.items()}
_new = tuple.__new__


def tokenize(text: str, limit: int | None = None) -> list[Token]:
    """Return the tokens of ``text``, without whitespace and comments; with
    ``limit``, only its first ``limit`` tokens.

    Strings, quoted identifiers, dollar quotes and (nested) block comments that
    are not closed run to the end of the text, as in the scanner, so each
    character is read a bounded number of times.
    """
    tokens: list[Token] = []
    append = tokens.append
    pos = 0
    length = len(text)
    while pos < length:
        # One finditer for the run of tokens the pattern matches whole; a block
        # comment, an E'' string or an unclosed literal is finished by hand, and
        # the run goes on after it.
        run: Iterator[re.Match[str]] = _TOKEN.finditer(text, pos)
        if limit is not None:  # each match but a block comment's is one token
            run = islice(run, max(0, limit - len(tokens)))
        for match in run:
            if match.start() != pos:  # only whitespace and comments were left
                return tokens
            group = match.lastindex
            pos = match.end()
            if group == _WORD:
                append(_new(Token, ("word", match.group(group).upper(), match.start(group))))
            elif group in _AS_IS:
                append(_new(Token, (_AS_IS[group], match.group(group), match.start(group))))
            elif group in (_STRING, _DOLLAR):
                append(_new(Token, ("string", match.group(group), match.start(group))))
            elif group == _IDENT:
                quoted = match.group(group)
                name = quoted[1:-1].replace('""', '"')
                append(_new(Token, ("ident", name, match.start(group))))
            else:
                assert group is not None  # the alternation always matches one
                pos = _finish(text, _NAMES[group], match.start(group), pos, append)
                break
        else:
            return tokens
    return tokens


def _finish(
    text: str, kind: str | None, start: int, end: int, append: Callable[[Token], None]
) -> int:
    """Finish the block comment, E'' string or unclosed literal of ``kind`` that
    opens at ``start`` (the pattern matched up to ``end``); return where the next
    token may start."""
    if kind == "block_comment":
        return skip_block_comment(text, start)[0]
    if kind == "estring":
        end = skip_estring(text, end)[0]
        append(Token("string", text[start:end], start))
        return end
    end = len(text)  # unclosed: the rest of the text
    if kind == "open_ident":
        append(Token("ident", text[start + 1 : end], start))
    else:
        append(Token("string", text[start:end], start))
    return end


def qualified_name(tokens: list[Token], i: int) -> tuple[str, int]:
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


def skip(tokens: list[Token], i: int, *words: str) -> int:
    """Skip the keyword sequence ``words`` at ``i`` if it is there."""
    # The parser's hottest function: indexes, not zip() over a slice (2.5x faster).
    end = i + len(words)
    if end > len(tokens):
        return i
    for word in words:
        token = tokens[i]
        if token[1] != word or token[0] != "word":
            return end - len(words)
        i += 1
    return end


def at(tokens: list[Token], i: int, *words: str) -> bool:
    """Whether the keyword sequence ``words`` is at ``i``."""
    return skip(tokens, i, *words) != i


def split_top_level(tokens: list[Token], start: int, end: int) -> list[tuple[int, int]]:
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


def text_between(tokens: list[Token], start: int, end: int) -> str:
    out = []
    for token in tokens[start:end]:
        out.append(token.value if token.kind != "ident" else f'"{token.value}"')
    return " ".join(out)
