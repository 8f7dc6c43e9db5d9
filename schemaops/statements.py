"""Where SQL statements start and end: one scanner for the runner and the linter.

PostgreSQL's own lexer decides where a statement ends; a semicolon inside a
comment, a string, a quoted identifier, a dollar-quoted body or a SQL-standard
``BEGIN ATOMIC ... END`` function body does not end one. This scanner knows
exactly those cases and nothing more, so it is linear in the size of the text
and never fails: an unterminated construct runs to the end of the text and is
reported through :attr:`Statement.unterminated`.

The runner executes the statements it yields, and the linter reports findings
at their positions, so a finding and a run error always point at the same line.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Iterator

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
"""
_TOKEN = re.compile(_TOKEN_SOURCE, re.VERBOSE | re.IGNORECASE)
# Without the word ATOMIC there is no BEGIN ATOMIC body, and the keywords need
# no tracking: a text without it is scanned a quarter faster with this one.
_TOKEN_NO_KEYWORDS = re.compile(
    "\n".join(line for line in _TOKEN_SOURCE.split("\n") if "keyword" not in line),
    re.VERBOSE | re.IGNORECASE,
)
_ATOMIC = re.compile("atomic", re.IGNORECASE)
_LINE_END = re.compile(r"\n")
_BLOCK_TOKEN = re.compile(r"/\*|\*/")
_ESTRING_END = re.compile(r"\\.|''|'", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


@dataclasses.dataclass(frozen=True)
class Statement:
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


class _Scanner:
    """Split ``text`` at top-level semicolons."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Offsets of line starts, for turning offsets into line and column
        # with a bisect instead of counting newlines again for each statement.
        self.line_starts = [0] + [m.end() for m in _LINE_END.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def first_token(self, start: int, end: int) -> int:
        """Return the offset of the first character in ``[start, end)`` that is not
        whitespace or comment, or ``end``."""
        text = self.text
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
        token = _TOKEN if _ATOMIC.search(text) else _TOKEN_NO_KEYWORDS
        while pos < length:
            match = token.search(text, pos)
            if match is None:
                break
            kind = match.lastgroup
            pos = match.end()
            if kind == "line_comment":
                newline = text.find("\n", pos)
                pos = length if newline < 0 else newline + 1
            elif kind == "block_comment":
                pos, closed = skip_block_comment(text, match.start())
                if not closed:
                    unterminated = "block comment"
            elif kind == "string" or kind == "ident":
                pos, closed = skip_quoted(text, pos, match.group())
                if not closed:
                    unterminated = "string" if kind == "string" else "quoted identifier"
            elif kind == "estring":
                pos, closed = skip_estring(text, pos)
                if not closed:
                    unterminated = "string"
            elif kind == "dollar":
                tag = match.group()
                close = text.find(tag, pos)
                if close < 0:
                    pos = length
                    unterminated = f"dollar-quoted string {tag}"
                else:
                    pos = close + len(tag)
            elif kind == "keyword":
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
                statement = self.make(chunk_start, match.start(), None)
                if statement is not None:
                    yield statement
                chunk_start = pos
            previous_keyword = ""
        statement = self.make(chunk_start, length, unterminated)
        if statement is not None:
            yield statement

    def make(self, start: int, end: int, unterminated: str | None) -> Statement | None:
        first = self.first_token(start, end)
        if first >= end:
            return None
        body = self.text[first:end].rstrip()
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
