"""Reading database errors: their SQLSTATE, the server's own message, a lost session."""

from __future__ import annotations

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

LOCK_NOT_AVAILABLE = "55P03"


def sqlstate(exc: BaseException) -> str | None:
    """Return the SQLSTATE of a database error (Django wraps psycopg's in ``__cause__``)."""
    for candidate in (exc, exc.__cause__):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if state:
            return str(state)
    return None


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL giving up on a lock (``lock_timeout``)."""
    return sqlstate(exc) == LOCK_NOT_AVAILABLE


def original_error(exc: BaseException) -> BaseException:
    """Return the first database error of the chain ``exc`` ended.

    With ``DEBUG = True``, Django 4.2 logs a failed query by opening a cursor
    on the same connection; when the connection died, that raises "the
    connection is closed" on top of the server's own message, which we want.
    """
    found = exc
    seen = {id(exc)}
    context = exc.__context__
    while context is not None and id(context) not in seen:
        seen.add(id(context))
        if isinstance(context, DatabaseError):
            found = context
        context = context.__context__
    return found


def _diagnostics(exc: BaseException) -> object:
    """psycopg's diagnostics of a database error (Django's wraps it in ``__cause__``)."""
    for candidate in (exc, exc.__cause__):
        diag = getattr(candidate, "diag", None)
        if diag is not None:
            return diag
    return None


def server_details(exc: BaseException) -> str:
    """PostgreSQL's DETAIL and HINT about an error, as lines to end a message with
    ("" when it gave neither)."""
    diag = _diagnostics(exc)
    detail = getattr(diag, "message_detail", None)
    hint = getattr(diag, "message_hint", None)
    return (f"\n  DETAIL: {detail}" if detail else "") + (f"\n  HINT: {hint}" if hint else "")


def statement_position(exc: BaseException) -> int | None:
    """Where in the statement PostgreSQL says the error is (1-based character)."""
    position = getattr(_diagnostics(exc), "statement_position", None)
    return int(position) if position else None


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def usable(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``connection`` still answers."""
    try:
        return bool(connection.is_usable())
    except Exception:
        return False


def session_lost(connection: BaseDatabaseWrapper, error: BaseException) -> bool:
    """Whether ``error`` ended the session (server shut down, backend terminated)."""
    state = sqlstate(error) or ""
    raw = connection.connection
    return (
        state.startswith("08")
        or state in ("57P01", "57P02", "57P03")
        or raw is None
        or bool(getattr(raw, "closed", False))
    )
