"""How a statement stands to transactions: transaction control (``BEGIN``,
``COMMIT``, ``SAVEPOINT``...), or a statement PostgreSQL refuses to run inside a
transaction block.

Read from the statement's text alone, so a script's statements and those a Django
migration sends are judged alike.
"""

from __future__ import annotations

import re

# Transaction control in SQL as a cursor receives it (leading whitespace allowed).
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b", re.I
)
# Transaction control in one statement as statements.split yields it (first word first).
_TRANSACTION_CONTROL_STATEMENT = re.compile(
    r"^(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b", re.I
)
# The two halves of a BEGIN; ... COMMIT; wrapper around a whole script.
_TRANSACTION_START = re.compile(r"^(?:BEGIN|START\s+TRANSACTION)\b", re.I)
_TRANSACTION_END = re.compile(r"^(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?$", re.I)

# Statements PostgreSQL refuses to run inside a transaction block.
_NON_TRANSACTIONAL = [
    (
        re.compile(r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", re.I),
        "CREATE INDEX CONCURRENTLY",
    ),
    (re.compile(r"^DROP\s+INDEX\s+CONCURRENTLY\b", re.I), "DROP INDEX CONCURRENTLY"),
    (re.compile(r"^REINDEX\b.*?\bCONCURRENTLY\b", re.I | re.S), "REINDEX ... CONCURRENTLY"),
    (
        re.compile(r"^ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b", re.I | re.S),
        "DETACH PARTITION ... CONCURRENTLY",
    ),
    (re.compile(r"^VACUUM\b", re.I), "VACUUM"),
    (re.compile(r"^ALTER\s+SYSTEM\b", re.I), "ALTER SYSTEM"),
    (re.compile(r"^(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b", re.I), "CREATE/DROP DATABASE"),
]


def is_transaction_control(text: str) -> bool:
    """Whether ``text`` begins, ends or marks a transaction (``SAVEPOINT``...)."""
    return _TRANSACTION_CONTROL.match(text) is not None


def is_transaction_control_statement(text: str) -> bool:
    """Whether a statement as :func:`schemaops.statements.split` yields it (its first
    word first) begins, ends or marks a transaction (``SAVEPOINT``...)."""
    return _TRANSACTION_CONTROL_STATEMENT.match(text) is not None


def opens_transaction(text: str) -> bool:
    """Whether the statement ``text`` is ``BEGIN`` or ``START TRANSACTION``."""
    return _TRANSACTION_START.match(text) is not None


def commits_transaction(text: str) -> bool:
    """Whether the statement ``text`` is ``COMMIT`` or ``END`` (``WORK``/``TRANSACTION``
    allowed) and nothing more."""
    return _TRANSACTION_END.match(text) is not None


def must_run_outside_transaction(text: str) -> str | None:
    """Return what ``text`` is, as error messages name it (``"VACUUM"``), if PostgreSQL
    refuses to run it inside a transaction block, else ``None``."""
    for pattern, label in _NON_TRANSACTIONAL:
        if pattern.match(text):
            return label
    return None
