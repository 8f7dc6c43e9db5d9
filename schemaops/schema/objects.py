"""One object of the schema file: its kind, its name and the SQL that makes it."""

from __future__ import annotations

import dataclasses

KINDS = (
    "extension",
    "schema",
    "function",
    "procedure",
    "sequence",
    "table",
    "constraint",
    "index",
    "view",
    "materialized view",
    "trigger",
)
"""Every kind of object, in the order the file lists them (then by name)."""

_SECTION = {kind: position for position, kind in enumerate(KINDS)}
# Functions and procedures share one section, sorted by name together.
_SECTION["procedure"] = _SECTION["function"]


@dataclasses.dataclass(frozen=True)
class SchemaObject:
    """An object of the database, as the schema file shows it.

    ``identity`` is how the header line names it (``public.accounts``,
    ``accounts_pkey on public.accounts``): unique within its kind, so
    ``(kind, identity)`` names one object in a file and in a database alike.
    ``sql`` is its statements, without the header and with no trailing newline.
    ``order`` sorts it within its section: its names, unquoted, compared as
    PostgreSQL's ``COLLATE "C"`` compares them (by code point).
    """

    kind: str
    identity: str
    sql: str
    order: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.identity)

    @property
    def header(self) -> str:
        return f"-- {self.kind} {self.identity}"

    @property
    def sort_key(self) -> tuple[int, tuple[str, ...], str, str]:
        return (_SECTION[self.kind], self.order, self.kind, self.identity)

    def __str__(self) -> str:
        return f"{self.kind} {self.identity}"
