"""What a person reads about a script's run: the label of a statement in progress
reports, and the error of a failed run (where it failed, what PostgreSQL said, what
of the script was kept, what to do next)."""

from __future__ import annotations

from schemaops.locking.discipline import GaveUp
from schemaops.locking.errors import first_line, server_details, statement_position
from schemaops.scripts.script import Script, Section
from schemaops.statements import Statement

_STAYED = " The statements before this one stayed applied (non-atomic script)."


def label(script: Script, statement: Statement) -> str:
    """``ID: line N``: the statement in progress reports and lock messages."""
    return f"{script.id}: line {statement.line}"


def failed_at(
    script: Script,
    section: Section,
    statement: Statement | None,
    exc: BaseException,
    where: str = "",
) -> str:
    """``ID failed at FILE:LINE[:COLUMN]: what PostgreSQL said`` (its DETAIL and
    HINT go last, :func:`server_details`); the column where it names one."""
    at = f"{section.path}:{statement.line}" if statement else str(section.path)
    position = statement_position(exc)
    if statement is not None and position is not None and not where:
        before = statement.text[: position - 1]
        line = statement.line + before.count("\n")
        column = (
            len(before) - before.rfind("\n") if "\n" in before else statement.column + len(before)
        )
        at = f"{section.path}:{line}:{column}"
    return f"{script.id} failed at {at}{where}: {first_line(exc)}"


def atomic_gave_up(
    script: Script, section: Section, statement: Statement, gave_up: GaveUp, *, ran: bool
) -> str:
    """An atomic script that could not take a lock within its budget (``ran``: an
    attempt started, and rolled back)."""
    if gave_up.queued:
        nothing = " Nothing of it was kept." if ran else " Nothing of it was run."
        return _queued(script, section, statement, gave_up.reason) + nothing
    return (
        f"{script.id} failed at {section.path}:{statement.line}: {gave_up.reason}. "
        "Nothing of it was kept. Run it when the table is quieter, or raise "
        "lock_timeout/retries in the script's header."
    )


def atomic_failed(
    script: Script,
    section: Section,
    statement: Statement | None,
    failure: BaseException,
    *,
    lost: bool,
) -> str:
    """An atomic script a statement of which failed (``lost``: and the session with it)."""
    lost_session = " The connection to the database was lost." if lost else ""
    return failed_at(script, section, statement, failure) + (
        f".{lost_session} Nothing of it was kept (the transaction rolled back)."
        + server_details(failure)
    )


def statement_gave_up(
    script: Script,
    section: Section,
    statement: Statement,
    gave_up: GaveUp,
    *,
    where: str,
    left: str,
) -> str:
    """A statement of a non-atomic script that could not take a lock within its
    budget (``where``: which keys of a batch; ``left``: what it left behind)."""
    if gave_up.queued:
        return _queued(script, section, statement, gave_up.reason) + _STAYED
    return (
        f"{script.id} failed at {section.path}:{statement.line}{where}: "
        f"{gave_up.reason}.{_STAYED}{left}"
    )


def statement_failed(
    script: Script,
    section: Section,
    statement: Statement,
    failure: BaseException,
    *,
    where: str,
    lost: bool,
    left: str,
) -> str:
    """A statement of a non-atomic script that failed (``lost``: and the session with
    it; ``where`` and ``left`` as for :func:`statement_gave_up`)."""
    message = failed_at(script, section, statement, failure, where) + "."
    if lost:
        message += " The connection to the database was lost."
    return message + _STAYED + left + server_details(failure)


def finish_not_recorded(
    script: Script, section: Section, statement: Statement, exc: BaseException
) -> str:
    """A statement of a non-atomic script committed, but its progress row failed."""
    return (
        f"{script.id}: the statement at {section.path}:{statement.line} "
        f"committed, but recording that failed: {first_line(exc)}. It and the "
        "statements before it stayed applied (non-atomic script)." + server_details(exc)
    )


def failure_not_recorded(message: str, exc: BaseException) -> str:
    """``message``, and that its ``failed`` row could not be written."""
    return (
        f"{message} The failure could not be recorded ({first_line(exc)}); run manage.py "
        "schemaops status once the database is back."
    )


def _queued(script: Script, section: Section, statement: Statement, reason: str) -> str:
    return (
        f"{script.id} failed at {section.path}:{statement.line}: {reason}, or raise "
        "retries in the script's header (the wait lasts as long as the retries' backoff "
        "in all)."
    )
