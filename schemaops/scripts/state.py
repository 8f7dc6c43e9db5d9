"""The state of every script (from its file and its newest registry row), what would
run, and in which order."""

from __future__ import annotations

import dataclasses
import enum
import heapq
from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connections

from schemaops import recorder
from schemaops.exceptions import PlanError, ScriptError, ScriptNotFound
from schemaops.models import Direction, FinishedStatement, Outcome
from schemaops.scripts import loader, lock
from schemaops.scripts.script import Script


class State(str, enum.Enum):
    """A script's state, from its newest registry row and its file."""

    APPLIED = "applied"
    PENDING = "pending"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    RUNNING = "running"
    CHANGED = "changed"
    MISSING = "missing"
    REVERTED = "reverted"
    BASELINED = "baselined"


# Newest row's outcome -> state, before the file is compared with it. A start is
# interrupted unless its runner is seen alive (State.RUNNING, see lock.RunnerSession).
_STATE_OF_OUTCOME = {
    Outcome.APPLIED: State.APPLIED,
    Outcome.FAKED: State.APPLIED,
    Outcome.BASELINED: State.BASELINED,
    Outcome.FAILED: State.FAILED,
    Outcome.STARTED: State.INTERRUPTED,
    Outcome.INTERRUPTED: State.INTERRUPTED,
    Outcome.REVERTED: State.REVERTED,
}
# A running script is neither: the run applying it holds the runner lock, so a
# second run waits for it and then finds it applied, failed or interrupted.
APPLIED_STATES = frozenset({State.APPLIED, State.BASELINED, State.CHANGED, State.MISSING})
RUNNABLE_STATES = frozenset({State.PENDING, State.REVERTED, State.FAILED})


@dataclasses.dataclass(frozen=True)
class ScriptStatus:
    """A script (on disk, in the registry, or both) and its state."""

    location: str
    version: str
    number: int
    name: str
    state: State
    script: Script | None
    latest: recorder.Latest | None
    # Of an interrupted start: the statements recorded as finished (None: unknown,
    # the start was written before schemaops recorded them).
    finished: tuple[int, ...] | None = None

    @property
    def id(self) -> str:
        return f"{self.location}:{self.version}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.location, self.number)

    @property
    def is_applied(self) -> bool:
        return self.state in APPLIED_STATES

    def how_far(self) -> str:
        """How far an interrupted run got, as a sentence: which statements finished
        and which one may have run."""
        if self.finished is None or self.latest is None:
            return "some of its statements may have run."
        lines: list[int] = []
        if self.script is not None:
            try:
                parsed = self.script.parsed
            except ScriptError:
                parsed = None
            if parsed is not None:
                up = self.latest.direction == Direction.UP
                section = parsed.up if up else parsed.down
                lines = [statement.line for statement in section.statements] if section else []
        done = len(self.finished)
        total = f" of {len(lines)}" if lines else ""
        if lines and done >= len(lines):
            return (
                f"all {len(lines)} of its statements finished; it stopped before it was "
                "recorded as done."
            )
        at = f" (line {lines[done]})" if done < len(lines) else ""
        if not done:
            return f"none of its statements{total} finished; statement 1{at} may have run."
        through = f" (through line {lines[done - 1]})" if lines else ""
        return (
            f"{done}{total} statements finished{through}; statement {done + 1}{at} may have run."
        )

    @property
    def checksum(self) -> str:
        """The file's checksum, or the recorded one when the file is gone."""
        if self.script is not None:
            return self.script.checksum
        return self.latest.checksum if self.latest else ""


def _state_of(entry: recorder.Latest | None, runner: lock.RunnerSession | None) -> State:
    if entry is None:
        return State.PENDING
    if runner is not None and runner.is_running(entry):
        return State.RUNNING
    if entry.outcome == Outcome.REPAIRED:
        # A repair moves a script to applied (direction up) or pending (down).
        return State.APPLIED if entry.direction == Direction.UP else State.PENDING
    return _STATE_OF_OUTCOME.get(Outcome(entry.outcome), State.PENDING)


def statuses(
    scripts: Iterable[Script],
    latest: dict[tuple[str, int], recorder.Latest],
    runner: lock.RunnerSession | None = None,
) -> list[ScriptStatus]:
    """Combine the files and the registry into one status per script, sorted by key.

    A start written by ``runner`` (the session holding the runner lock) is
    running; any other start is interrupted.
    """
    result: list[ScriptStatus] = []
    seen: set[tuple[str, int]] = set()
    for script in scripts:
        entry = latest.get(script.key)
        state = _state_of(entry, runner)
        if (
            state in APPLIED_STATES
            and entry is not None
            and entry.checksum
            and entry.checksum != script.checksum
        ):
            state = State.CHANGED
        seen.add(script.key)
        result.append(
            ScriptStatus(
                script.location.name,
                script.version,
                script.number,
                script.name,
                state,
                script,
                entry,
            )
        )
    for key, entry in latest.items():
        if key in seen:
            continue
        state = _state_of(entry, runner)
        if state in APPLIED_STATES:
            state = State.MISSING
        elif state in (State.PENDING, State.REVERTED):
            continue  # no file and not applied: nothing to report
        result.append(
            ScriptStatus(entry.location, entry.version, key[1], entry.name, state, None, entry)
        )
    return sorted(result, key=lambda s: s.key)


def order(pending: list[Script], applied: set[tuple[str, int]]) -> list[Script]:
    """Return ``pending`` in run order: (location, version), moved later only as far as a
    ``depends=location:version`` on another pending script requires.

    Raises:
        PlanError: a dependency names a script that does not exist, or a cycle.
    """
    by_key = {script.key: script for script in pending}
    waiting_on: dict[tuple[str, int], set[tuple[str, int]]] = {}
    dependents: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for script in pending:
        needs: set[tuple[str, int]] = set()
        for dependency in script.parsed.directives.depends:
            if ":" not in dependency:
                continue  # a Django migration: checked by the caller
            location, _, version = dependency.partition(":")
            key = (location, int(version))
            if key in applied:
                continue
            if key not in by_key:
                raise PlanError(
                    f"{script.id} ({script.path}) depends on {dependency}, which is neither "
                    "applied nor a pending script. Fix the depends= directive."
                )
            needs.add(key)
            dependents.setdefault(key, []).append(script.key)
        waiting_on[script.key] = needs
    ready = [key for key, needs in waiting_on.items() if not needs]
    heapq.heapify(ready)
    result: list[Script] = []
    while ready:
        key = heapq.heappop(ready)
        result.append(by_key[key])
        for dependent in dependents.get(key, ()):
            waiting_on[dependent].discard(key)
            if not waiting_on[dependent]:
                heapq.heappush(ready, dependent)
    if len(result) != len(pending):
        stuck = sorted(f"{k[0]}:{k[1]}" for k, needs in waiting_on.items() if needs)
        raise PlanError(f"Circular depends= between scripts: {', '.join(stuck)}. Break the cycle.")
    return result


def find(found: Iterable[ScriptStatus], reference: str) -> ScriptStatus:
    """Return the status ``location:version`` names (the version compared as a number).

    Raises:
        ScriptNotFound: no script on disk or in the registry has that id.
    """
    location, sep, version = reference.partition(":")
    if not sep or not version.isdigit():
        raise ScriptNotFound(f"{reference!r} is not location:version (for example demo:0003).")
    key = (location, int(version))
    found = list(found)
    for status in found:
        if status.key == key:
            return status
    known = sorted({s.location for s in found})
    raise ScriptNotFound(
        f"No script {reference!r}. Locations: {', '.join(known) or 'none'}; "
        "run manage.py schemaops status to list the scripts."
    )


def with_progress(using: str, found: list[ScriptStatus]) -> list[ScriptStatus]:
    """Add to each interrupted start the statements recorded as finished (one query,
    none when nothing is interrupted)."""
    starts = {
        status.latest.pk: status
        for status in found
        if status.state == State.INTERRUPTED
        and status.latest is not None
        and status.latest.outcome == Outcome.STARTED
    }
    if not starts:
        return found
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [FinishedStatement._meta.db_table])
        row = cursor.fetchone()
    if not row or not row[0]:
        return found
    finished: dict[int, list[int]] = {pk: [] for pk in starts}
    rows = FinishedStatement.objects.using(using).filter(entry_id__in=starts)
    for entry_id, number in rows.values_list("entry_id", "number"):
        finished[entry_id].append(number)
    return [
        dataclasses.replace(status, finished=tuple(sorted(finished[status.latest.pk])))
        if status.latest is not None and status.latest.pk in starts
        else status
        for status in found
    ]


def runnable_scripts(
    found: Iterable[ScriptStatus], exclude: frozenset[tuple[str, int]] = frozenset()
) -> tuple[list[Script], list[str]]:
    """The scripts of ``found`` a run would apply (pending, reverted or failed; not
    those whose key is in ``exclude``), parsed; and what is wrong with each
    malformed one."""
    scripts: list[Script] = []
    errors: list[str] = []
    for status in found:
        if status.script is None or status.state not in RUNNABLE_STATES:
            continue
        if status.key in exclude:
            continue
        try:
            status.script.parsed  # noqa: B018 - parse now: bad input is reported first
        except ScriptError as exc:
            errors.append(str(exc))
        else:
            scripts.append(status.script)
    return scripts, errors


def load(using: str = DEFAULT_DB_ALIAS) -> list[ScriptStatus]:
    """Read the files and the registry of ``using``: every script's status (and,
    when a start is recorded, who holds the runner lock: running or interrupted)."""
    scripts = loader.load_scripts(using)
    latest = recorder.latest_rows(using)
    found = statuses(scripts, latest, lock.runner_if_started(using, latest.values()))
    return with_progress(using, found)
