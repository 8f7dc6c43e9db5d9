"""What stops a run of the SQL tier, and what ``validate`` reports: at most one problem
per script, each saying how to fix it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from schemaops.scripts import state
from schemaops.scripts.script import Script


@dataclasses.dataclass(frozen=True)
class Problem:
    """Something that stops ``migrate`` until resolved; ``fix`` says how."""

    kind: str  # changed, missing, out-of-order, interrupted, failed
    status: state.ScriptStatus
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.status.id}: {self.message} {self.fix}"


def blocking_run(
    found: Iterable[state.ScriptStatus],
    *,
    allow_changed: bool = False,
    allow_missing: bool = False,
    allow_out_of_order: bool = False,
) -> list[Problem]:
    """Return what stops a run, in script order; ``allow_changed``, ``allow_missing``
    and ``allow_out_of_order`` let those kinds through.

    A failed atomic script is not a problem: its transaction rolled back, so
    it is simply pending again. A failed non-atomic one may have done part of
    its work, so it must be repaired first, like an interrupted one. A running
    script is not a problem either: its run is alive and will finish it.
    """
    found = list(found)
    newest_applied: dict[str, int] = {}
    for status in found:
        if status.is_applied:
            newest_applied[status.location] = max(
                newest_applied.get(status.location, -1), status.number
            )
    result: list[Problem] = []
    for status in found:
        if status.state == state.State.CHANGED:
            problem = None if allow_changed else _changed(status)
        elif status.state == state.State.MISSING:
            problem = None if allow_missing else _missing(status)
        elif status.state == state.State.INTERRUPTED:
            problem = _interrupted(status)
        elif status.state == state.State.FAILED and _failed_part_way(status):
            problem = _failed_non_atomic(status)
        elif (
            status.state in state.RUNNABLE_STATES
            and not allow_out_of_order
            and status.number < newest_applied.get(status.location, -1)
        ):
            problem = _out_of_order(status, newest_applied[status.location])
        else:
            problem = None
        if problem is not None:
            result.append(problem)
    return result


def validation_problems(found: Iterable[state.ScriptStatus]) -> list[Problem]:
    """Return every problem ``validate`` reports: failed atomic scripts too."""
    found = list(found)
    result = blocking_run(found)
    reported = {p.status.key for p in result}
    result.extend(
        _failed_rolled_back(status)
        for status in found
        if status.state == state.State.FAILED and status.key not in reported
    )
    return sorted(result, key=lambda p: p.status.key)


# One function per kind of problem ----------------------------------------------


def _changed(status: state.ScriptStatus) -> Problem:
    recorded = status.latest.checksum if status.latest else ""
    return Problem(
        "changed",
        status,
        f"the file changed after it was applied (recorded checksum {recorded}, "
        f"file {status.checksum}).",
        "Restore the applied version and put the change in a new script, or "
        "record the new checksum with: manage.py schemaops repair "
        f"{status.id} --as applied --reason '...'.",
    )


def _missing(status: state.ScriptStatus) -> Problem:
    return Problem(
        "missing",
        status,
        f"applied, but its file is gone from location {status.location!r}.",
        "Restore the file, or allow it with --allow-missing (SCHEMAOPS['ALLOW_MISSING'] = True).",
    )


def _interrupted(status: state.ScriptStatus) -> Problem:
    return Problem(
        "interrupted",
        status,
        "a run started this non-atomic script and never finished it (killed or "
        f"disconnected): {status.how_far()}",
        _repair(status),
    )


def _failed_non_atomic(status: state.ScriptStatus) -> Problem:
    return Problem(
        "failed",
        status,
        f"this non-atomic script failed{_where_it_failed(status)}; the statements before "
        "it stayed applied.",
        _repair(status),
    )


def _out_of_order(status: state.ScriptStatus, newest_applied: int) -> Problem:
    return Problem(
        "out-of-order",
        status,
        f"pending, but older than version {newest_applied} which is already applied.",
        "Give it a version after the newest applied one, or allow it with "
        "--allow-out-of-order (SCHEMAOPS['ALLOW_OUT_OF_ORDER'] = True).",
    )


def _failed_rolled_back(status: state.ScriptStatus) -> Problem:
    return Problem(
        "failed",
        status,
        f"the last run failed{_where_it_failed(status)} and rolled back.",
        f"Fix the script and run manage.py schemaops migrate, or: manage.py "
        f"schemaops repair {status.id} --as pending --reason '...'.",
    )


def _repair(status: state.ScriptStatus) -> str:
    """The fix of a script that may have done part of its work."""
    return (
        f"Check what it did, finish or undo it by hand, then run: manage.py schemaops "
        f"repair {status.id} --as applied|pending --reason '...'."
    )


def _failed_part_way(status: state.ScriptStatus) -> bool:
    """Whether a failed script may have kept some of its statements (non-atomic)."""
    return status.script is not None and not _is_atomic(status.script)


def _where_it_failed(status: state.ScriptStatus) -> str:
    line = status.latest.failed_line if status.latest else None
    return f" at line {line}" if line else ""


def _is_atomic(script: Script) -> bool:
    try:
        return script.parsed.atomic
    except Exception:
        return False
