"""The schema file: the database's objects written as one deterministic SQL file
(``manage.py schemaops snapshot``), and read back into objects.

Each object is a header line ``-- <kind> <name>`` after a blank line, then its
statements. The same schema always gives the same bytes, so the file can be
committed, reviewed in a pull request, and compared with a database
(``snapshot --check``, ``validate --snapshot``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS

from schemaops.exceptions import SnapshotError
from schemaops.schema import catalog
from schemaops.schema.objects import KINDS, SchemaObject

PREAMBLE = (
    "-- The database's schema, read from PostgreSQL's catalog by manage.py schemaops snapshot.\n"
    "-- Do not edit it by hand: migrate, then run the command again. In CI,\n"
    "-- manage.py schemaops snapshot --check fails when it differs from the database.\n"
)

_HEADER = re.compile(rf"-- ({'|'.join(re.escape(kind) for kind in KINDS)}) (\S.*)")


def render(objects: list[SchemaObject]) -> str:
    """The file's text: the preamble, then each object after a blank line."""
    parts = [PREAMBLE]
    for obj in objects:
        parts.append(f"\n{obj.header}\n{obj.sql}\n")
    return "".join(parts)


def take(using: str = DEFAULT_DB_ALIAS) -> str:
    """The schema file's text for database ``using`` as it is now."""
    return render(catalog.read(using))


@dataclasses.dataclass(frozen=True)
class FileObject:
    """An object read back from a schema file, with the line its header is on."""

    object: SchemaObject
    line: int


def parse(text: str, path: Path) -> list[FileObject]:
    """Split a schema file's text into its objects.

    Raises:
        SnapshotError: the text is not a schema file (statements before the first
            header), or names one object twice; the message names the line.
    """
    found: list[FileObject] = []
    seen: dict[tuple[str, str], int] = {}
    kind = identity = None
    start = 0
    body: list[str] = []
    lines = text.split("\n")

    def close() -> None:
        if kind is not None and identity is not None:
            while body and body[-1] == "":
                body.pop()
            found.append(FileObject(SchemaObject(kind, identity, "\n".join(body)), start))

    for number, line in enumerate(lines, start=1):
        header = _HEADER.fullmatch(line)
        if header is not None and (number == 1 or lines[number - 2] == ""):
            close()
            kind, identity, start, body = header[1], header[2], number, []
            if (kind, identity) in seen:
                raise SnapshotError(
                    f"{path}:{number}: {kind} {identity} is in the file twice (first on line "
                    f"{seen[kind, identity]}). Write the file again: "
                    "manage.py schemaops snapshot."
                )
            seen[kind, identity] = number
        elif kind is None:
            if line.strip() and not line.startswith("--"):
                raise SnapshotError(
                    f"{path}:{number}: not a schemaops schema file: SQL before the first "
                    "'-- <kind> <name>' header. Write it with: manage.py schemaops snapshot."
                )
        else:
            body.append(line)
    close()
    return found


def read_file(path: Path) -> str:
    """The text of the schema file at ``path``, CRLF read as LF (a Windows checkout
    does not change it).

    Raises:
        SnapshotError: the file is missing, unreadable or not UTF-8.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(
            f"{path}: no schema file there. Write it with manage.py schemaops snapshot "
            "and commit it."
        ) from None
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read the schema file: {exc.strerror}.") from None
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise SnapshotError(
            f"{path}: not UTF-8 (byte {exc.start}), so not a schema file that "
            "manage.py schemaops snapshot wrote. Write it again with that command."
        ) from None


def write_file(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds it; return whether it wrote.

    Raises:
        SnapshotError: the folder is missing or the file cannot be written.
    """
    try:
        if path.read_bytes() == text.encode("utf-8"):
            return False
    except OSError:
        pass
    try:
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise SnapshotError(
            f"{path}: cannot write the schema file: {exc.strerror}. Create its folder, "
            "or choose another path with --output or SCHEMAOPS['SNAPSHOT']."
        ) from None
    return True


def diff(committed: str, current: str, path: str, database: str) -> list[str]:
    """A unified diff from the file's text to the database's: empty when equal."""
    return list(
        difflib.unified_diff(
            committed.splitlines(),
            current.splitlines(),
            fromfile=path,
            tofile=f"database {database!r}",
            lineterm="",
        )
    )


def counts(objects: list[SchemaObject]) -> str:
    """How many objects of each kind, in the file's order: ``'3 tables, 2 indexes'``."""
    tally: dict[str, int] = {}
    for obj in objects:
        tally[obj.kind] = tally.get(obj.kind, 0) + 1
    shown = [kind for kind in KINDS if kind in tally]
    return ", ".join(f"{tally[kind]} {_plural(kind, tally[kind])}" for kind in shown)


def _plural(kind: str, n: int) -> str:
    if n == 1:
        return kind
    return {"index": "indexes", "schema": "schemas"}.get(kind, kind + "s")
