"""Where SQL statements start and end: one scanner for the runner and the linter.

PostgreSQL's own lexer decides where a statement ends; a semicolon inside a
comment, a string, a quoted identifier, a dollar-quoted body or a SQL-standard
``BEGIN ATOMIC ... END`` function body does not end one. This scanner knows
exactly those cases and nothing more, so it is linear in the size of the text
and never fails: an unterminated construct runs to the end of the text and is
reported through :attr:`Statement.unterminated`.

The runner executes the statements it yields, and the linter reports findings
at their positions, so a finding and a run error always point at the same line.

:func:`scan` with ``psql=True`` also reads a file as psql reads it: an unquoted
backslash starts a meta-command (``\\set``, ``\\i``, ``\\connect``), which runs
to the end of its line or to a ``\\\\`` separator and is not SQL; after ``COPY
... FROM STDIN`` (or ``\\copy ... from stdin``) the lines up to one that is just
``\\.`` are data. Outside a string or comment a backslash is never SQL, so a
text the server can run reads the same either way (COPY ... FROM STDIN aside,
whose rows only psql sends).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from schemaops.psql import PsqlInput, PsqlReader

# PostgreSQL's identifier characters: ASCII letters, underscore and every non-ASCII
# character to start; digits and (outside dollar-quote tags) $ after that. Written
# as negated ASCII classes: a \u0080-\uffff range costs ~5 ms to compile, and
# the console script compiles these on every start.
IDENT_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"
TAG_CHAR = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
IDENT_CHAR = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
DOLLAR_QUOTE = r"\$(?:" + IDENT_START + TAG_CHAR + r"*)?\$"

# One alternation, tried at each interesting position. Identifier-ish
# lookbehinds keep ``foo$bar$`` (an identifier) and ``some_e'x'`` apart from
# dollar quotes and E'' strings.
_TOKEN_SOURCE = rf"""
      (?P<line_comment>--)
    | (?P<block_comment>/\*)
    | (?P<estring>(?<![\w$])[eE]')
    | (?P<string>')
    | (?P<ident>")
    | (?P<dollar>(?<![\w$]){DOLLAR_QUOTE})
    | (?P<keyword>(?<![\w$])(?:begin|case|end|atomic)(?![\w$]))
    | (?P<semicolon>;)
    | (?P<backslash>\\)
"""
_TOKENS: dict[tuple[bool, bool], re.Pattern[str]] = {}


def _token(keywords: bool, psql: bool) -> re.Pattern[str]:
    """The token pattern: without the word ATOMIC there is no BEGIN ATOMIC body and
    the keywords need no tracking (a text is scanned a quarter faster without
    them); only a psql file has backslash meta-commands. Compiled when first used."""
    pattern = _TOKENS.get((keywords, psql))
    if pattern is None:
        lines = _TOKEN_SOURCE.split("\n")
        if not keywords:
            lines = [line for line in lines if "keyword" not in line]
        if not psql:
            lines = [line for line in lines if "backslash" not in line]
        pattern = _TOKENS[keywords, psql] = re.compile(
            "\n".join(lines), re.VERBOSE | re.IGNORECASE
        )
    return pattern


_ATOMIC = re.compile("atomic", re.IGNORECASE)
_LINE_END = re.compile(r"\n")
_BLOCK_TOKEN = re.compile(r"/\*|\*/")
_ESTRING_END = re.compile(r"\\.|''|'", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


class Statement(NamedTuple):
    """One SQL statement of a text, without its terminating semicolon.

    ``start`` and ``end`` are offsets into the scanned text; ``line`` and
    ``column`` (1-based) are where its first token starts, after any leading
    whitespace and comments.
    """

    text: str
    start: int
    end: int
    line: int
    column: int
    unterminated: str | None = None

    @property
    def last_line(self) -> int:
        """Return the line of the statement's last character."""
        return self.line + self.text.count("\n")


class Scan(NamedTuple):
    """What :func:`scan` found: the statements, what only psql reads (with
    ``psql=True``), and the construct left open at the end of the text, as
    (what, line where it opened), even when no statement holds it (a comment)."""

    statements: tuple[Statement, ...]
    psql_input: tuple[PsqlInput, ...] = ()
    unterminated: tuple[str, int] | None = None


def skip_block_comment(text: str, pos: int) -> tuple[int, bool]:
    """Return the offset after the (nested) comment opened at ``pos``, and whether it closed."""
    depth = 0
    for match in _BLOCK_TOKEN.finditer(text, pos):
        depth += 1 if match.group() == "/*" else -1
        if depth == 0:
            return match.end(), True
    return len(text), False


def skip_quoted(text: str, pos: int, quote: str) -> tuple[int, bool]:
    """Return the offset after a ``'...'`` or ``"..."`` opened at ``pos``.

    A doubled quote inside is an escaped quote, not the end.
    """
    while True:
        close = text.find(quote, pos)
        if close < 0:
            return len(text), False
        if text.startswith(quote, close + 1):
            pos = close + 2
            continue
        return close + 1, True


def skip_estring(text: str, pos: int) -> tuple[int, bool]:
    """Return the offset after an ``E'...'`` string whose body starts at ``pos``."""
    for match in _ESTRING_END.finditer(text, pos):
        if match.group() == "'":
            return match.end(), True
    return len(text), False


def _first_token(text: str, start: int, end: int) -> int:
    """Return the offset of the first character in ``[start, end)`` that is not
    whitespace or comment, or ``end``."""
    pos = start
    while pos < end:
        ws = _WHITESPACE.match(text, pos, end)
        if ws:
            pos = ws.end()
            continue
        if text.startswith("--", pos):
            newline = text.find("\n", pos, end)
            pos = end if newline < 0 else newline + 1
            continue
        if text.startswith("/*", pos):
            pos = min(skip_block_comment(text, pos)[0], end)
            continue
        return pos
    return end


def _skip_literal(
    text: str, kind: str | None, match: re.Match[str], pos: int
) -> tuple[int, str | None]:
    """Return the offset after the comment, string, quoted identifier or dollar quote
    ``match`` opened (its body starting at ``pos``), and what was left open, if it
    was not closed."""
    if kind == "line_comment":
        newline = text.find("\n", pos)
        return (len(text) if newline < 0 else newline + 1), None
    if kind == "block_comment":
        end, closed = skip_block_comment(text, match.start())
        return end, None if closed else "block comment"
    if kind == "string" or kind == "ident":
        end, closed = skip_quoted(text, pos, match.group())
        return end, None if closed else ("string" if kind == "string" else "quoted identifier")
    if kind == "estring":
        end, closed = skip_estring(text, pos)
        return end, None if closed else "string"
    tag = match.group()  # a dollar quote
    close = text.find(tag, pos)
    if close < 0:
        return len(text), f"dollar-quoted string {tag}"
    return close + len(tag), None


class _Scanner:
    """Split ``text`` at top-level semicolons (and, as psql reads a file, around
    meta-commands and COPY data)."""

    def __init__(self, text: str, psql: bool = False) -> None:
        self.text = text
        self.psql_input: list[PsqlInput] = []
        self.unterminated: tuple[str, int] | None = None
        # Offsets of line starts, for turning offsets into line and column
        # with a bisect instead of counting newlines again for each statement.
        self.line_starts = [0] + [m.end() for m in _LINE_END.finditer(text)]
        self.reader: PsqlReader | None = None
        if psql:
            from schemaops.psql import PsqlReader  # only files read as psql reads them

            self.reader = PsqlReader(self)

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def statements(self) -> Iterator[Statement]:
        text = self.text
        length = len(text)
        chunk_start = 0
        pos = 0
        # BEGIN ATOMIC bodies: depth of BEGIN/CASE ... END nesting inside one.
        atomic_depth = 0
        previous_keyword = ""
        previous_keyword_end = 0
        unterminated: str | None = None
        unterminated_at = 0
        # Meta-commands inside the statement being read: blanked out of its text.
        holes: list[tuple[int, int]] = []
        reader = self.reader
        copies = reader is not None and reader.has_copies
        token = _token(_ATOMIC.search(text) is not None, reader is not None)
        while pos < length:
            match = token.search(text, pos)
            if match is None:
                break
            kind = match.lastgroup
            pos = match.end()
            if kind == "keyword":
                word = match.group().lower()
                if (
                    word == "atomic"
                    and previous_keyword == "begin"
                    and atomic_depth == 0
                    and not text[previous_keyword_end : match.start()].strip()
                ):
                    atomic_depth = 1
                elif atomic_depth and word in ("begin", "case"):
                    atomic_depth += 1
                elif atomic_depth and word == "end":
                    atomic_depth -= 1
                previous_keyword = word
                previous_keyword_end = pos
                continue
            elif kind == "semicolon":
                if atomic_depth:
                    continue
                statement = self.make(chunk_start, match.start(), None, holes)
                holes = []
                chunk_start = pos
                if statement is not None:
                    yield statement
                    if copies and reader is not None and reader.copy_follows(statement):
                        pos = chunk_start = reader.copy_data(pos)
            elif kind == "backslash" and reader is not None:
                step = reader.backslash(match, chunk_start, holes, atomic_depth)
                pos, chunk_start, holes = step.pos, step.chunk_start, step.holes
                yield from step.statements
                if step.keeps_keyword:
                    continue
            else:  # a comment, string, quoted identifier or dollar quote
                pos, open_kind = _skip_literal(text, kind, match, pos)
                if open_kind is not None:
                    unterminated, unterminated_at = open_kind, match.start()
            previous_keyword = ""
        if unterminated is not None:
            self.unterminated = (unterminated, self.position(unterminated_at)[0])
        statement = self.make(chunk_start, length, unterminated, holes)
        if statement is not None:
            yield statement

    def make(
        self, start: int, end: int, unterminated: str | None, holes: list[tuple[int, int]]
    ) -> Statement | None:
        text = self.text
        offset = 0
        if holes:
            # Same length, so offsets still match: the meta-commands become spaces.
            pieces = []
            cursor = start
            for hole_start, hole_end in holes:
                hole_start, hole_end = max(hole_start, cursor), min(hole_end, end)
                if hole_start >= hole_end:
                    continue
                pieces.append(text[cursor:hole_start])
                pieces.append(" " * (hole_end - hole_start))
                cursor = hole_end
            pieces.append(text[cursor:end])
            text, offset = "".join(pieces), start
        first = _first_token(text, start - offset, end - offset) + offset
        if first >= end:
            return None
        body = text[first - offset : end - offset].rstrip()
        line, column = self.position(first)
        return Statement(body, first, first + len(body), line, column, unterminated)


_LITERAL = re.compile(
    rf"""(?P<line_comment>--)|(?P<block_comment>/\*)|(?P<estring>(?<![\w$])[eE]')
    |(?P<string>')|(?P<ident>")|(?P<dollar>(?<![\w$]){DOLLAR_QUOTE})""",
    re.VERBOSE,
)


def without_literals(text: str) -> str:
    """Return ``text`` with every comment, string, quoted identifier and dollar-quoted
    body blanked out (same length, so offsets still match): what is left is code."""
    parts: list[str] = []
    pos = 0
    while (match := _LITERAL.search(text, pos)) is not None:
        kind = match.lastgroup
        start = match.start()
        end = match.end()
        if kind == "line_comment":
            newline = text.find("\n", end)
            end = len(text) if newline < 0 else newline
        elif kind == "block_comment":
            end = skip_block_comment(text, start)[0]
        elif kind == "string" or kind == "ident":
            end = skip_quoted(text, end, match.group())[0]
        elif kind == "estring":
            end = skip_estring(text, end)[0]
        else:
            close = text.find(match.group(), end)
            end = len(text) if close < 0 else close + len(match.group())
        parts.append(text[pos:start])
        parts.append(" " * (end - start))
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def scan(text: str, *, psql: bool = False) -> Scan:
    """Split ``text`` into its statements, as :func:`split` does; with ``psql``, read
    it as psql reads a file (meta-commands and COPY data are not statements).

    Returns:
        The statements, the psql-only input met (:class:`PsqlInput`, in order), and
        the construct left open at the end of the text.
    """
    scanner = _Scanner(text, psql)
    found = tuple(scanner.statements())
    return Scan(found, tuple(scanner.psql_input), scanner.unterminated)


def split(text: str) -> list[Statement]:
    """Split ``text`` into its statements, in order; empty statements are dropped.

    Args:
        text: SQL text, any size; it is scanned once.

    Returns:
        The statements, each with its offsets, 1-based line and column, and
        ``unterminated`` naming a string, comment or dollar quote left open at
        the end of the text (only ever set on the last statement).
    """
    return list(_Scanner(text).statements())
