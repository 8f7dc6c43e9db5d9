"""The schema's health in one word, for deploy probes and the admin status page."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from schemaops import conf
from schemaops import status as status_module
from schemaops.schema import drift as drift_module
from schemaops.scripts import problems as script_problems
from schemaops.scripts import state

OK = "ok"
PENDING = "pending"
MIGRATING = "migrating"
DIRTY = "dirty"


@dataclasses.dataclass(frozen=True)
class Health:
    """``dirty``: what stops ``migrate`` or needs a person (interrupted, failed,
    changed, missing, out-of-order or malformed scripts); ``migrating``: a run
    is in progress (a live session holds the runner lock: a script or a Django
    migration is being applied); ``pending``: what the next ``migrate`` would
    apply, in both tiers. A running script is none of these lists: its run
    will finish it. ``drift``: where the database differs from the models, or
    None when not checked (``SCHEMAOPS["HEALTH_CHECKS_DRIFT"]`` off); drift is
    ``dirty`` too."""

    pending: list[str]
    dirty: list[str]
    migrating: bool = False
    drift: list[str] | None = None

    @property
    def status(self) -> str:
        if self.dirty or self.drift:
            return DIRTY
        if self.migrating:
            return MIGRATING
        return PENDING if self.pending else OK

    def as_dict(self, *, names: bool) -> dict[str, Any]:
        """The health endpoint's JSON; the names only when ``names`` (staff)."""
        document: dict[str, Any] = {
            "status": self.status,
            "pending": len(self.pending),
            "dirty": len(self.dirty),
        }
        if self.drift is not None:
            document["drift"] = len(self.drift)
        if names:
            document["pending_names"] = self.pending
            document["dirty_names"] = self.dirty
            if self.drift is not None:
                document["drift_names"] = self.drift
        return document


def check(using: str = DEFAULT_DB_ALIAS) -> Health:
    """Read both tiers of ``using`` (five queries: the registry's table, its newest
    row per change, the runner lock's holder, ``django_migrations``'s table and
    rows), and drift when ``SCHEMAOPS["HEALTH_CHECKS_DRIFT"]`` says so (about seven
    more, whatever the number of models)."""
    found = status_module.collect(using, read_runner=True)
    problems = script_problems.validation_problems(found.scripts)
    troubled = {problem.status.key for problem in problems}
    dirty = [f"{problem.status.id}: {problem.kind}" for problem in problems]
    dirty.extend(f"malformed: {error}" for error in found.script_errors)
    pending = [f"{m.app}.{m.name}" for m in found.pending_migrations]
    pending.extend(
        s.id for s in found.scripts if s.state in state.RUNNABLE_STATES and s.key not in troubled
    )
    running = any(s.state == state.State.RUNNING for s in found.scripts)
    drift = None
    if conf.health_checks_drift():
        drift = [f"{f.where}: {f.kind.value}" for f in drift_module.check(using).findings]
    return Health(
        pending=pending, dirty=dirty, migrating=running or found.runner is not None, drift=drift
    )
