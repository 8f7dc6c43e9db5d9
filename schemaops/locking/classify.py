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
    r"|CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\b.*?\bON"
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
_PLAIN_INDEX = re.compile(r"^CREATE\s+(?:UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY\b)", re.I)
_TRIGGER = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\b", re.I)
_EXCLUSIVE = re.compile(r"^(?:DROP\s+TABLE|TRUNCATE)\b", re.I)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?\s+{_NAME}\s*\*?\s*(?P<actions>.*)$",
    re.I | re.S,
)

# ALTER TABLE's actions that take less than ACCESS EXCLUSIVE (PostgreSQL's ALTER
# TABLE page, "Notes" and each action's paragraph); the statement takes the
# strongest lock of its actions. Checked by tests/test_trace.py against the locks
# a rehearsal sees.
_SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"
_LIGHTER_ACTIONS = [
    (re.compile(r"^VALIDATE\s+CONSTRAINT\b", re.I), _SHARE_UPDATE_EXCLUSIVE),
    (
        re.compile(r"^ALTER\s+(?:COLUMN\s+)?\S+\s+SET\s+STATISTICS\b", re.I),
        _SHARE_UPDATE_EXCLUSIVE,
    ),
    (
        re.compile(r"^ALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET|RESET)\s*\(", re.I),
        _SHARE_UPDATE_EXCLUSIVE,
    ),
    (re.compile(r"^(?:CLUSTER\s+ON|SET\s+WITHOUT\s+CLUSTER)\b", re.I), _SHARE_UPDATE_EXCLUSIVE),
    (re.compile(r"^ATTACH\s+PARTITION\b", re.I), _SHARE_UPDATE_EXCLUSIVE),
    (re.compile(r"^DETACH\s+PARTITION\b.*\bCONCURRENTLY\b", re.I | re.S), _SHARE_UPDATE_EXCLUSIVE),
    (
        re.compile(r"^(?:ENABLE|DISABLE)\s+(?:(?:REPLICA|ALWAYS)\s+)?TRIGGER\b", re.I),
        "ShareRowExclusiveLock",
    ),
    (
        re.compile(r"^ADD\s+(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b", re.I),
        "ShareRowExclusiveLock",
    ),
]
_STORAGE_PARAMETERS = re.compile(r"^(?:SET|RESET)\s*\((?P<names>.*)\)$", re.I | re.S)
# The storage parameters SET (...) changes under SHARE UPDATE EXCLUSIVE; others need
# ACCESS EXCLUSIVE.
_LIGHT_PARAMETER = re.compile(r"^(?:fillfactor|parallel_workers|autovacuum_\w+|toast\.\w+)$", re.I)
_ATTACHED = re.compile(rf"^(?:ATTACH|DETACH)\s+PARTITION\s+(?P<name>{_NAME})", re.I)
MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    _SHARE_UPDATE_EXCLUSIVE,
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
"""PostgreSQL's table-level lock modes, weakest first (as ``pg_locks`` names them)."""


def alter_table_actions(text: str) -> list[str]:
    """The actions of an ``ALTER TABLE`` statement (split at its top-level commas),
    or [] when ``text`` is not one."""
    match = _ALTER_TABLE.match(text)
    if match is None:
        return []
    actions: list[str] = []
    depth, start, quote = 0, 0, ""
    body = match.group("actions")
    for index, char in enumerate(body):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            actions.append(body[start:index].strip())
            start = index + 1
    actions.append(body[start:].strip())
    return [action for action in actions if action]


def _action_mode(action: str) -> str:
    storage = _STORAGE_PARAMETERS.match(action)
    if storage is not None:
        names = [part.split("=")[0].strip() for part in storage.group("names").split(",")]
        light = all(_LIGHT_PARAMETER.match(name) for name in names)
        return _SHARE_UPDATE_EXCLUSIVE if light else "AccessExclusiveLock"
    for pattern, mode in _LIGHTER_ACTIONS:
        if pattern.match(action):
            return mode
    return "AccessExclusiveLock"


def alter_table_mode(text: str) -> str | None:
    """The lock an ``ALTER TABLE`` takes on its table: the strongest of its actions'."""
    modes = [_action_mode(action) for action in alter_table_actions(text)]
    if not modes:
        return None
    return max(modes, key=MODES.index)


def writer_blocking_mode(text: str) -> str | None:
    """Return the lock mode ``text`` takes on its table if writers would queue behind
    it (``ShareLock`` and stronger), else ``None``."""
    if _PLAIN_INDEX.match(text):
        return "ShareLock"
    if _TRIGGER.match(text):
        return "ShareRowExclusiveLock"
    mode = alter_table_mode(text)
    if mode is not None:
        return mode if mode != _SHARE_UPDATE_EXCLUSIVE else None
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
    for action in alter_table_actions(text):
        # The partition attached or detached: ACCESS EXCLUSIVE (unless CONCURRENTLY).
        attached = _ATTACHED.match(action)
        if attached is not None and not is_concurrently(text):
            found.append((attached.group("name"), "AccessExclusiveLock"))
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
