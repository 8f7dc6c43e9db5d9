"""Which applied scripts a rollback runs the down sections of, newest first, and
whether it can: checked before anything runs."""

from __future__ import annotations

from schemaops.exceptions import PlanError, ScriptError, ScriptNotFound, UnsafeStateError
from schemaops.scripts import problems, state


def select(
    found: list[state.ScriptStatus],
    location: str | None = None,
    to: str | None = None,
    steps: int | None = None,
) -> list[state.ScriptStatus]:
    """The scripts to roll back: with ``to``, every applied script of ``location``
    newer than that version; otherwise the ``steps`` newest (1). Newest first: within
    a location by version (as golang-migrate's down does), across locations by when
    they were applied.

    Raises:
        UnsafeStateError: a script is interrupted, or failed part-way.
        ScriptNotFound: no such location, or a selected script's file is gone.
        ScriptError: a selected script has no down section.
        PlanError: ``to`` without a location where several have applied scripts, or
            not a number.
    """
    blocking = [
        p
        for p in problems.blocking_run(found, allow_out_of_order=True)
        if p.kind in ("interrupted", "failed")
    ]
    if blocking:
        raise UnsafeStateError("\n".join(str(p) for p in blocking) + "\nNothing was rolled back.")
    applied = [s for s in found if s.is_applied and (location is None or s.location == location)]
    if location is not None and not any(s.location == location for s in found):
        raise ScriptNotFound(f"No location {location!r} with scripts.")
    if location is not None:
        applied.sort(key=lambda s: s.number, reverse=True)
    else:
        applied.sort(key=lambda s: s.latest.pk if s.latest else 0, reverse=True)
    if to is not None:
        if location is None:
            locations = {s.location for s in applied}
            if len(locations) > 1:
                raise PlanError(
                    f"--to {to} needs a LOCATION (scripts are applied in: "
                    f"{', '.join(sorted(locations))})."
                )
        if not to.isdigit():
            raise PlanError(f"--to {to!r} is not a version number.")
        selected = [s for s in applied if s.number > int(to)]
    else:
        selected = applied[: steps or 1]
    for status in selected:
        if status.script is None:
            raise ScriptNotFound(
                f"{status.id} is applied but its file is gone, so its down section "
                "cannot run. Restore the file. Nothing was rolled back."
            )
        if status.script.parsed.down is None:
            raise ScriptError(
                f"{status.id} ({status.script.path}) has no down section, so it cannot "
                "be rolled back. Add a -- migrate:down section (or a .down.sql file). "
                "Nothing was rolled back."
            )
    return selected
