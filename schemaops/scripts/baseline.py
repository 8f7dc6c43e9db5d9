"""Which scripts a baseline marks as applied without running them: those of a
location up to a version, or up to what another tool's history table says it
applied (:mod:`schemaops.scripts.adoption`)."""

from __future__ import annotations

import dataclasses

from schemaops.exceptions import PlanError
from schemaops.scripts import adoption, state


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The scripts to record as baselined, their location, and how far (for the
    summary line); ``reason`` is the note to record when none was given."""

    location: str
    scripts: list[state.ScriptStatus]
    upto: str
    reason: str


def select(
    found: list[state.ScriptStatus],
    given: str,
    from_tool: str | None = None,
    table: str | None = None,
    using: str = "default",
) -> Baseline:
    """The baseline of ``given`` (``LOCATION:VERSION``, or ``LOCATION`` with
    ``from_tool``). Only scripts that never ran are selected: a reverted or failed
    one has a history that says its change is not there.

    Raises:
        PlanError: ``--table`` without ``--from``, a location unknown, or versions the
            other tool applied that the location has no script for.
        ScriptNotFound: ``given`` names no script.
        AdoptionError: the other tool's table is missing, dirty or failed.
    """
    if table and not from_tool:
        raise PlanError("--table names the other tool's history table: add --from TOOL.")
    if from_tool:
        location = _location(found, given)
        history = adoption.read(from_tool, table, using)
        applied = [s for s in found if s.location == location and history.applied(s.number)]
        known = {s.number for s in found if s.location == location}
        unknown = sorted(v for v in history.versions if v not in known)
        if unknown:
            raise PlanError(
                f"{history.describe()} has version(s) {', '.join(map(str, unknown))} "
                f"that location {location!r} has no script for. Add their files (or "
                "check that this is the right location), then baseline again; nothing "
                "was recorded."
            )
        reason, upto = f"baselined from {history.describe()}", f"from {history.describe()}"
    else:
        wanted = state.find(found, given)
        location = wanted.location
        applied = [s for s in found if s.location == location and s.number <= wanted.number]
        reason, upto = "", f"up to {wanted.version}"
    selected = [s for s in applied if s.latest is None and s.script is not None]
    return Baseline(location, selected, upto, reason)


def _location(found: list[state.ScriptStatus], given: str) -> str:
    if ":" in given:
        raise PlanError(
            f"With --from, name the location only ({given.partition(':')[0]!r}): the "
            "other tool's history says how far to baseline."
        )
    known = sorted({s.location for s in found})
    if given not in known:
        raise PlanError(f"No script location {given!r}. Locations: {', '.join(known) or 'none'}.")
    return given
