"""What a statement locks: the lock mode writers would queue behind, its table, and
whether it is a ``CONCURRENTLY`` statement (its own budget) or an index build
(progress, INVALID leftovers). How it stands to transactions is
:mod:`schemaops.locking.transactions` (what the loader and the linter need, without
these patterns: the runner's).

Read from the statement's text alone, so the SQL tier and the statements a
Django migration sends are classified alike.
"""

from __future__ import annotations

import re

_NAME = r"(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?"

_CONCURRENT_INDEX = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?P<name>{_NAME})\s+ON\b",
    re.IGNORECASE,
)
# Statements that wait for older transactions without blocking reads or writes.
_CONCURRENTLY = re.compile(
    r"^(?:(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\b"
    r"|REINDEX\b.*?\bCONCURRENTLY\b|ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b)",
    re.IGNORECASE | re.DOTALL,
)
# Those pg_stat_progress_create_index reports on.
_REPORTS_INDEX_PROGRESS = re.compile(r"^(?:CREATE\s+(?:UNIQUE\s+)?INDEX|REINDEX)\b", re.IGNORECASE)
# The relation a statement locks first, for "waited for a lock on ..." messages.
_TARGET = re.compile(
    r"^(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|LOCK(?:\s+TABLE)?(?:\s+ONLY)?"
    r"|UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|INSERT\s+INTO|TRUNCATE(?:\s+TABLE)?"
    r"|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON(?:\s+ONLY)?"
    rf"|COMMENT\s+ON\s+(?:TABLE|COLUMN))\s+(?P<name>{_NAME})",
    re.IGNORECASE | re.DOTALL,
)
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})",
    re.IGNORECASE,
)

# Lock modes a statement takes that make writers (ROW EXCLUSIVE) queue behind
# it, and the modes held by others that make it wait (PostgreSQL's conflict table).
CONFLICTING = {
    "ShareLock": (
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
    "ShareRowExclusiveLock": (
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
    "AccessExclusiveLock": (
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
}
_VALIDATE_ONLY = re.compile(
    r"^ALTER\s+TABLE\b[^;]*?\s+VALIDATE\s+CONSTRAINT\s+(?:\"[^\"]+\"|[\w$]+)$", re.I | re.S
)
_FOREIGN_KEY_ONLY = re.compile(
    r"^ALTER\s+TABLE\b[^,]*?\bADD\s+(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b[^,]*$",
    re.I | re.S,
)
_PLAIN_INDEX = re.compile(r"^CREATE\s+(?:UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY\b)", re.I)
_EXCLUSIVE = re.compile(r"^(?:ALTER\s+TABLE|DROP\s+TABLE|TRUNCATE)\b", re.I)


def writer_blocking_mode(text: str) -> str | None:
    """Return the lock mode ``text`` takes on its table if writers would queue behind
    it (``ShareLock`` and stronger), else ``None``."""
    if _PLAIN_INDEX.match(text):
        return "ShareLock"
    if _VALIDATE_ONLY.match(text):
        return None
    if _FOREIGN_KEY_ONLY.match(text):
        return "ShareRowExclusiveLock"
    if _EXCLUSIVE.match(text):
        return "AccessExclusiveLock"
    return None


def target(text: str) -> str | None:
    """The relation ``text`` locks first, as written (``None`` when unknown)."""
    match = _TARGET.match(text)
    return match.group("name") if match else None


# A foreign key (ALTER TABLE ... ADD [COLUMN ...] REFERENCES, CREATE TABLE with one)
# also takes SHARE ROW EXCLUSIVE on the table it references.
_REFERENCES = re.compile(rf"\bREFERENCES\s+(?P<name>{_NAME})", re.IGNORECASE)
_MAY_REFERENCE = re.compile(r"^(?:ALTER|CREATE(?:\s+UNLOGGED)?)\s+TABLE\b", re.IGNORECASE)


def locked_relations(text: str) -> list[tuple[str, str]]:
    """Every relation ``text`` locks in a mode writers would queue behind, with that
    mode: its target (:func:`target`, :func:`writer_blocking_mode`), and the tables
    its foreign keys reference."""
    found: list[tuple[str, str]] = []
    mode = writer_blocking_mode(text)
    name = target(text) if mode else None
    if mode is not None and name is not None:
        found.append((name, mode))
    if _MAY_REFERENCE.match(text):
        for match in _REFERENCES.finditer(text):
            referenced = match.group("name")
            if referenced != name and all(referenced != seen for seen, _ in found):
                found.append((referenced, "ShareRowExclusiveLock"))
    return found


def created_table(text: str) -> str | None:
    """The table a ``CREATE TABLE`` statement creates, as written."""
    match = _CREATE_TABLE.match(text)
    return match.group("name") if match else None


def is_concurrently(text: str) -> bool:
    """Whether ``text`` is a ``CONCURRENTLY`` statement (it waits for older transactions
    without blocking reads or writes)."""
    return _CONCURRENTLY.match(text) is not None


def concurrent_index(text: str) -> str | None:
    """The index a ``CREATE INDEX CONCURRENTLY`` builds (a failed build leaves it INVALID)."""
    match = _CONCURRENT_INDEX.match(text)
    return match.group("name") if match else None


def reports_index_progress(text: str) -> bool:
    """Whether ``pg_stat_progress_create_index`` reports on ``text``."""
    return _REPORTS_INDEX_PROGRESS.match(text) is not None
