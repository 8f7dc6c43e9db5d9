"""What a rehearsal records of each statement: the relations of the scratch
database, the locks a statement took and how long they were held, and where in the
plan it comes from; which lock modes block writes."""

from __future__ import annotations

import dataclasses
import time

from schemaops.locking.classify import MODES

BLOCKS_WRITES = frozenset(MODES[4:])
"""SHARE and stronger: writers (ROW EXCLUSIVE) wait for them."""

LOCKS_HELD = """
SELECT relation::int8, mode FROM pg_locks
WHERE pid = %s AND locktype = 'relation' AND granted AND relation >= 16384
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
"""The relation locks backend ``%s`` holds (granted), of user relations in this database."""


def mode_name(mode: str) -> str:
    """``AccessExclusiveLock`` as PostgreSQL's documentation names it: ``ACCESS EXCLUSIVE``."""
    words: list[str] = []
    for char in mode.removesuffix("Lock"):
        if char.isupper() and words:
            words.append(" ")
        words.append(char.upper())
    return "".join(words)


def strength(mode: str) -> int:
    return MODES.index(mode) if mode in MODES else -1


@dataclasses.dataclass(frozen=True)
class Relation:
    """A table, index, view or sequence of the scratch database."""

    oid: int
    name: str  # schema-qualified unless in public
    kind: str  # pg_class.relkind
    table: str  # the table an index belongs to; the relation itself otherwise
    existed: bool  # there before the plan's first step

    @property
    def is_table(self) -> bool:
        return self.kind in ("r", "p", "m", "f")


@dataclasses.dataclass
class Lock:
    """A lock a statement took (one its transaction did not hold before it)."""

    relation: Relation
    mode: str
    acquired: float  # monotonic: when the statement that took it started
    released: float | None = None  # when its transaction ended

    @property
    def held_ms(self) -> float:
        end = self.released if self.released is not None else time.monotonic()
        return (end - self.acquired) * 1000

    @property
    def blocks_writes(self) -> bool:
        return self.mode in BLOCKS_WRITES


@dataclasses.dataclass(frozen=True)
class Where:
    """Whose statement it is: the step, and where in it."""

    step: int  # 1-based, in the plan's order
    tier: str  # "sql" or "django"
    path: str  # the script or migration file
    line: int  # the script's line, or the operation's in the migration
    last_line: int = 0  # the statement's last line; the line before the next operation's
    operation: str = ""  # a Django operation, as it describes itself
    index: int = -1  # the operation's index in the migration


@dataclasses.dataclass
class TracedStatement:
    """One statement of the plan as it ran on the scratch database."""

    where: Where
    text: str
    transaction: int  # which transaction it ran in (a number of the tracer's own)
    in_transaction: bool  # in a transaction the runner opened (not alone in autocommit)
    started: float  # monotonic
    duration_ms: float = 0.0
    locks: list[Lock] = dataclasses.field(default_factory=list)
    """The locks it took: those its transaction did not hold before it."""
    kept: list[Lock] = dataclasses.field(default_factory=list)
    """The locks its transaction held already, taken by a statement before it."""
    rewritten: list[Relation] = dataclasses.field(default_factory=list)
    observed: str = "session"  # "session": read on its connection; "polled": from another
    error: str = ""
