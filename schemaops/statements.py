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

# Where something the scanner must see can start: a comment (``--``, ``/*``), a
# string (``'``, and ``E'`` whose quote is found first), a quoted identifier, a
# dollar quote, a semicolon, and in a psql file a backslash. A bare character
# class, so the regex engine runs its fast scan for the next such character
# instead of trying an alternation at every position (several times faster: most
# of a file is words and whitespace); what the character opens is decided here.
_INTERESTING = re.compile(r"[-/'\"$;]")
_INTERESTING_PSQL = re.compile(r"[-/'\"$;\\]")
_DOLLAR_TAG = re.compile(DOLLAR_QUOTE)

# Inside a SQL-standard body (BEGIN ATOMIC ... END), where semicolons end nothing
# and BEGIN/CASE ... END nest: one alternation with the keywords, compiled when a
# text first has such a body. Identifier-ish lookbehinds keep ``foo$bar$`` (an
# identifier) and ``some_e'x'`` apart from dollar quotes and E'' strings.
_BODY_TOKEN_SOURCE = rf"""
      (?P<line_comment>--)
    | (?P<block_comment>/\*)
    | (?P<estring>(?<![\w$])[eE]')
    | (?P<string>')
    | (?P<ident>")
    | (?P<dollar>(?<![\w$]){DOLLAR_QUOTE})
    | (?P<keyword>(?<![\w$])(?:begin|case|end)(?![\w$]))
    | (?P<semicolon>;)
    | (?P<backslash>\\)
"""
_BODY_TOKENS: dict[bool, re.Pattern[str]] = {}


def _body_token(psql: bool) -> re.Pattern[str]:
    pattern = _BODY_TOKENS.get(psql)
    if pattern is None:
        source = _BODY_TOKEN_SOURCE
        if not psql:
            source = "\n".join(line for line in source.split("\n") if "backslash" not in line)
        pattern = _BODY_TOKENS[psql] = re.compile(source, re.VERBOSE | re.IGNORECASE)
    return pattern


def _is_word_char(char: str) -> bool:
    """What ``\\w`` or ``$`` matches: a character that continues an identifier."""
    return char.isalnum() or char == "_" or char == "$"


def _opened_at(text: str, start: int) -> tuple[str, int, int] | None:
    """What the interesting character at ``start`` opens: (kind, where it starts,
    where its body starts), or ``None`` (a ``-``, ``/`` or ``$`` that opens nothing)."""
    char = text[start]
    if char == "'":
        if (
            start
            and text[start - 1] in "eE"
            and (start == 1 or not _is_word_char(text[start - 2]))
        ):
            return "estring", start - 1, start + 1
        return "string", start, start + 1
    if char == '"':
        return "ident", start, start + 1
    if char == "-":
        return ("line_comment", start, start + 2) if text.startswith("--", start) else None
    if char == "/":
        return ("block_comment", start, start + 2) if text.startswith("/*", start) else None
    # A dollar sign: a dollar quote unless it continues an identifier ($1, foo$).
    if start and _is_word_char(text[start - 1]):
        return None
    tag = _DOLLAR_TAG.match(text, start)
    return ("dollar", start, tag.end()) if tag else None


def _begin_atomic(text: str, folded: bytes, pos: int) -> tuple[int, int] | None:
    """Where the next ``BEGIN ATOMIC`` starting at or after ``pos`` starts and ends,
    wherever it is (in code or not: the scanner searches again past a literal).

    ``folded`` is ``text`` one byte a character, ASCII letters lower-cased: keywords
    are ASCII and case-insensitive, and bytes are searched much faster than a
    case-insensitive pattern over the whole text."""
    length = len(text)
    search = pos
    while (found := folded.find(b"atomic", search)) >= 0:
        search = found + 1
        after = found + 6
        if after < length and _is_word_char(text[after]):
            continue
        space = found
        while space > 0 and text[space - 1].isspace():
            space -= 1
        begin = space - 5
        if (
            space < found
            and begin >= pos
            and folded.startswith(b"begin", begin)
            and not (begin and _is_word_char(text[begin - 1]))
        ):
            return begin, after
    return None


_BLOCK_TOKEN = re.compile(r"/\*|\*/")
_ESTRING_END = re.compile(r"\\.|''|'", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
# A run of line comments (a licence header, say) in one match, with the newline
# after the last; it always matches at a ``--``.
_LINE_COMMENTS = re.compile(r"--[^\n]*(?:\n\s*--[^\n]*)*\n?")


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


class Scan:
    """What :func:`scan` found: the statements, what only psql reads (with
    ``psql=True``), and the construct left open at the end of the text, as
    (what, line where it opened), even when no statement holds it (a comment)."""

    __slots__ = ("psql_input", "statements", "unterminated")

    def __init__(
        self,
        statements: tuple[Statement, ...],
        psql_input: tuple[PsqlInput, ...] = (),
        unterminated: tuple[str, int] | None = None,
    ) -> None:
        self.statements = statements
        self.psql_input = psql_input
        self.unterminated = unterminated


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


def _skip_literal(text: str, kind: str, start: int, body: int) -> tuple[int, str | None]:
    """Return the offset after the comment, string, quoted identifier or dollar quote
    of ``kind`` that opens at ``start`` (its body starting at ``body``), and what was
    left open, if it was not closed."""
    if kind == "line_comment":  # and the comment lines right after it
        run = _LINE_COMMENTS.match(text, start)
        assert run is not None  # it matches at any "--"
        return run.end(), None
    if kind == "block_comment":
        end, closed = skip_block_comment(text, start)
        return end, None if closed else "block comment"
    if kind == "string" or kind == "ident":
        end, closed = skip_quoted(text, body, text[body - 1])
        return end, None if closed else ("string" if kind == "string" else "quoted identifier")
    if kind == "estring":
        end, closed = skip_estring(text, body)
        return end, None if closed else "string"
    tag = text[start:body]  # a dollar quote
    close = text.find(tag, body)
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
        # The last offset turned into a line: offsets mostly come in order, so
        # each newline is counted once.
        self._counted = (0, 1)
        self.reader: PsqlReader | None = None
        if psql:
            from schemaops.psql import PsqlReader  # only files read as psql reads them

            self.reader = PsqlReader(self)

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset``."""
        text = self.text
        counted, line = self._counted
        if offset < counted:
            counted, line = 0, 1
        line += text.count("\n", counted, offset)
        self._counted = (offset, line)
        return line, offset - text.rfind("\n", 0, offset)

    def statements(self) -> Iterator[Statement]:
        text = self.text
        length = len(text)
        chunk_start = 0
        pos = 0
        # A BEGIN ATOMIC body: the depth of BEGIN/CASE ... END nesting inside it,
        # and the next BEGIN ATOMIC of the text (searched again once passed, as
        # it may have been inside a string or comment).
        atomic_depth = 0
        folded = text.encode("latin-1", "replace").lower()
        atomic = _begin_atomic(text, folded, 0)
        unterminated: str | None = None
        unterminated_at = 0
        # Everything in [chunk_start, lead) is whitespace and comments, as long as
        # ``leading``: where make() looks for the statement's first token.
        lead, leading = 0, True
        # Meta-commands inside the statement being read: blanked out of its text.
        holes: list[tuple[int, int]] = []
        reader = self.reader
        copies = reader is not None and reader.has_copies
        interesting = (_INTERESTING if reader is None else _INTERESTING_PSQL).search
        while pos < length:
            if atomic_depth:
                match = _body_token(reader is not None).search(text, pos)
                if match is None:
                    break
                kind = match.lastgroup
                start, pos = match.start(), match.end()
                if kind == "keyword":
                    atomic_depth += -1 if match.group().lower() == "end" else 1
                    continue
                if kind == "semicolon":
                    continue
                body = pos
            else:
                if atomic is not None and atomic[0] < pos:
                    atomic = _begin_atomic(text, folded, pos)
                match = interesting(text, pos)
                if atomic is not None and (match is None or atomic[0] < match.start()):
                    atomic_depth, pos = 1, atomic[1]
                    continue
                if match is None:
                    break
                start = match.start()
                pos = start + 1
                char = text[start]
                if char == ";":
                    statement = self.make(chunk_start, start, None, holes, lead)
                    holes = []
                    chunk_start = pos
                    if statement is not None:
                        yield statement
                        if copies and reader is not None and reader.copy_follows(statement):
                            pos = chunk_start = reader.copy_data(pos)
                    lead, leading = chunk_start, True
                    continue
                kind = "backslash" if char == "\\" else None
                if kind is None:
                    opened = _opened_at(text, start)
                    if opened is None:
                        leading = False
                        continue
                    kind, start, body = opened
            if kind == "backslash" and reader is not None:
                step = reader.backslash(start, chunk_start, holes, atomic_depth)
                pos, chunk_start, holes = step.pos, step.chunk_start, step.holes
                yield from step.statements
                lead, leading = chunk_start, True  # make() reads holes itself
                continue
            assert kind is not None
            pos, open_kind = _skip_literal(text, kind, start, body)
            if open_kind is not None:
                unterminated, unterminated_at = open_kind, start
            if leading:
                if kind[-7:] == "comment" and (start == lead or text[lead:start].isspace()):
                    lead = pos
                else:
                    leading = False
        if unterminated is not None:
            self.unterminated = (unterminated, self.position(unterminated_at)[0])
        statement = self.make(chunk_start, length, unterminated, holes, lead)
        if statement is not None:
            yield statement

    def make(
        self,
        start: int,
        end: int,
        unterminated: str | None,
        holes: list[tuple[int, int]],
        lead: int | None = None,
    ) -> Statement | None:
        """The statement of ``text[start:end]``, or ``None`` if it is empty; ``lead``:
        where its leading whitespace and comments are known to go at least to."""
        text = self.text
        offset = 0
        if lead is not None and not holes:
            start = lead
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
