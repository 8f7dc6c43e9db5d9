"""Reading a file as psql reads it, for the scanner (:func:`schemaops.statements.scan`
with ``psql=True``): an unquoted backslash starts a meta-command, which runs to the
end of its line or to a ``\\\\`` separator and is not SQL; ``\\;`` ends a statement
without sending it; ``\\g`` and its kin send the query typed so far, as a
semicolon does; after ``COPY ... FROM STDIN`` (or ``\\copy ... from stdin``) the
lines up to one that is just ``\\.`` are data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from schemaops.statements import Statement, without_literals

if TYPE_CHECKING:
    from schemaops.statements import _Scanner

_STDIN = re.compile("stdin", re.IGNORECASE)
_COPY_FROM_STDIN = re.compile(r"copy\b.*\bfrom\s+stdin\b", re.IGNORECASE | re.DOTALL)
# psql ends COPY data at a line that is exactly \. (or at the end of the file).
_END_OF_COPY = re.compile(r"^\\\.(?:\n|\Z)", re.MULTILINE)
# A meta-command's name, then its arguments: quoted ones may hold a \\.
_META_NAME = re.compile(r"[^\s\\]*")
_META_ARGUMENT = re.compile(r"'(?:[^'\\\n]|\\.)*'?|`[^`\n]*`?|\\\\|[^'`\\\n]+|\\")
# The meta-commands that send the query typed so far, as a semicolon does.
_SENDS_QUERY = frozenset({"g", "gx", "gset", "gexec", "gdesc", "crosstabview", "watch"})


class PsqlInput:
    """Text psql reads itself and never sends as SQL: a meta-command, or the data
    lines of a ``COPY ... FROM STDIN``. ``line`` (1-based) is where it starts.

    (Plain classes here: every class a console start defines costs, a named tuple
    about a tenth of a millisecond, and these are never compared or replaced.)
    """

    __slots__ = ("end", "kind", "line", "start", "text")

    def __init__(self, kind: str, text: str, start: int, end: int, line: int) -> None:
        self.kind = kind  # "meta-command" or "copy data"
        self.text = text  # the meta-command as written, or the data's first line
        self.start = start
        self.end = end
        self.line = line

    def __repr__(self) -> str:
        return f"PsqlInput({self.kind!r}, {self.text!r}, line {self.line})"


class Step:
    """Where the scanner goes on after a backslash, and the statements it ended."""

    __slots__ = ("chunk_start", "holes", "pos", "statements")

    def __init__(
        self,
        pos: int,
        chunk_start: int,
        holes: list[tuple[int, int]],
        statements: Sequence[Statement] = (),
    ) -> None:
        self.pos = pos
        self.chunk_start = chunk_start
        self.holes = holes
        self.statements = statements


def _meta_command_end(text: str, pos: int, line_end: int) -> tuple[int, int]:
    """Return where the meta-command whose backslash is at ``pos`` ends and where SQL
    resumes: at a ``\\\\`` separator (after it), or at the end of the line."""
    for match in _META_ARGUMENT.finditer(text, pos, line_end):
        if match.group() == "\\\\":
            return match.start(), match.end()
    return line_end, line_end


def _is_copy_from_stdin(statement: str) -> bool:
    """Whether ``statement`` is COPY ... FROM STDIN (psql then reads the data lines)."""
    return statement[:4].lower() == "copy" and bool(
        _COPY_FROM_STDIN.match(without_literals(statement))
    )


class PsqlReader:
    """What the scanner does differently for a file psql would run."""

    def __init__(self, scanner: _Scanner) -> None:
        self.scanner = scanner
        self.has_copies = _STDIN.search(scanner.text) is not None

    def copy_follows(self, statement: Statement) -> bool:
        """Whether data lines follow ``statement`` (a COPY ... FROM STDIN)."""
        return _is_copy_from_stdin(statement.text)

    def copy_data(self, pos: int) -> int:
        """Record the data lines after a COPY ... FROM STDIN that ends at ``pos``
        (from the next line to a line ``\\.``); return the offset after them."""
        scanner = self.scanner
        text = scanner.text
        newline = text.find("\n", pos)
        if newline < 0:
            return len(text)
        start = newline + 1
        end_marker = _END_OF_COPY.search(text, start)
        end = len(text) if end_marker is None else end_marker.end()
        if end > start:
            first_line_end = text.find("\n", start, end)
            first_line = text[start : end if first_line_end < 0 else first_line_end]
            line, _ = scanner.position(start)
            scanner.psql_input.append(PsqlInput("copy data", first_line, start, end, line))
        return end

    def backslash(
        self,
        start: int,
        chunk_start: int,
        holes: list[tuple[int, int]],
        atomic_depth: int,
    ) -> Step:
        """Read the meta-command (or ``\\;``, ``\\\\``) whose backslash is at ``start``."""
        scanner = self.scanner
        text = scanner.text
        pos = start + 1
        line, _ = scanner.position(start)
        if text.startswith(";", pos) or text.startswith("\\", pos):
            scanner.psql_input.append(
                PsqlInput("meta-command", text[start : pos + 1], start, pos + 1, line)
            )
        if text.startswith(";", pos):
            # psql's \; is a semicolon that does not send the query yet;
            # the server still runs each statement of it on its own.
            statement = scanner.make(chunk_start, start, None, holes)
            found = [statement] if statement is not None else []
            return Step(pos + 1, pos + 1, [], found)
        if text.startswith("\\", pos):
            holes.append((start, pos + 1))  # a \\ separator between commands
            return Step(pos + 1, chunk_start, holes)
        name = _META_NAME.match(text, pos)
        assert name is not None  # the pattern matches the empty string
        newline = text.find("\n", pos)
        line_end = len(text) if newline < 0 else newline
        end, resume = _meta_command_end(text, name.end(), line_end)
        command = text[start:end].rstrip()
        scanner.psql_input.append(PsqlInput("meta-command", command, start, end, line))
        pos = resume
        if name.group() in _SENDS_QUERY and not atomic_depth:
            statement = scanner.make(chunk_start, start, None, holes)
            if statement is None:
                return Step(pos, pos, [])
            if self.has_copies and self.copy_follows(statement):
                pos = self.copy_data(pos)
            return Step(pos, pos, [], [statement])
        if name.group().lower() == "copy" and _is_copy_from_stdin(command[1:]):
            pos = self.copy_data(pos)
        holes.append((start, pos))
        return Step(pos, chunk_start, holes)
