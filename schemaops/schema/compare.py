"""How a live database differs from the committed schema file, object by object
(``manage.py schemaops validate --snapshot``): what a script made and someone
later changed, dropped or added by hand."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS

from schemaops import conf
from schemaops.display import display
from schemaops.schema import snapshot
from schemaops.schema.objects import SchemaObject


@dataclasses.dataclass(frozen=True)
class Difference:
    """One object that is not the same in the file and in the database.

    ``line`` is where the file has it (``None`` when only the database has it);
    ``changes`` are the lines of the object that differ, ``-`` the file's and
    ``+`` the database's (empty for a missing object).
    """

    object: SchemaObject
    path: str
    line: int | None
    what: str
    changes: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return "\n".join([f"{where}: {self.object}: {self.what}", *self.changes])


def compare(path: Path | None, using: str = DEFAULT_DB_ALIAS) -> Comparison:
    """Compare the schema file at ``path`` (default ``SCHEMAOPS["SNAPSHOT"]``) with
    database ``using``.

    Raises:
        SnapshotError: the file is missing or is not a schema file.
    """
    path = conf.snapshot() if path is None else path
    name = display(path.absolute())
    in_file = snapshot.parse(snapshot.read_file(path), Path(name))
    # The database's objects go through the same text and the same parser as the
    # file's, so both are split alike, whatever a function's body holds.
    in_database = snapshot.parse(snapshot.take(using), Path(f"database {using!r}"))
    return Comparison(name, len(in_file), differences(in_file, in_database, name))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A schema file compared with a database: how many objects the file has, and
    each that differs."""

    path: str
    objects: int
    differences: list[Difference]


_MISSING = (
    "in the file, not in the database: dropped by hand, or made by a migration or script "
    "not applied here"
)
_CHANGED = "differs in the database (- the file, + the database):"
_UNKNOWN = (
    "in the database, not in the file: made by hand, or the file is older than the "
    "database's migrations"
)


def differences(
    in_file: list[snapshot.FileObject], in_database: list[snapshot.FileObject], path: str
) -> list[Difference]:
    """Each object missing from the database or changed, in the file's order, then
    each object only the database has, in its order."""
    database = {found.object.key: found.object for found in in_database}
    file = {found.object.key: found for found in in_file}
    found: list[Difference] = []
    for entry in in_file:
        obj = entry.object
        current = database.get(obj.key)
        if current is None:
            found.append(Difference(obj, path, entry.line, _MISSING))
        elif current.sql != obj.sql:
            changes = _changes(obj.sql, current.sql)
            found.append(Difference(obj, path, entry.line, _CHANGED, changes))
    for entry in in_database:
        if entry.object.key not in file:
            found.append(Difference(entry.object, path, None, _UNKNOWN))
    return found


def _changes(committed: str, current: str) -> tuple[str, ...]:
    """The lines that differ, no context: ``  - line`` (file), ``  + line`` (database)."""
    lines = difflib.unified_diff(committed.splitlines(), current.splitlines(), n=0, lineterm="")
    return tuple(
        f"  {line[0]} {line[1:]}"
        for line in lines
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    )
