"""Applying pending scripts: checks first, then the scripts in order, under the runner lock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

from schemaops import conf
from schemaops.exceptions import PlanError, ScriptError, ScriptNotFound, UnsafeStateError
from schemaops.models import HistoryEntry
from schemaops.output import Progress
from schemaops.scripts import problems, state
from schemaops.scripts.script import Script

# Called before each script runs; raises to refuse it (the lint gate).


@dataclasses.dataclass(frozen=True)
class Options:
    """How permissive a run is; ``None`` means "as the SCHEMAOPS setting says"."""

    allow_changed: bool | None = None
    allow_missing: bool | None = None
    allow_out_of_order: bool | None = None

    def resolved(self) -> dict[str, bool]:
        return {
            "allow_changed": conf.allow_changed()
            if self.allow_changed is None
            else self.allow_changed,
            "allow_missing": conf.allow_missing()
            if self.allow_missing is None
            else self.allow_missing,
            "allow_out_of_order": (
                conf.allow_out_of_order()
                if self.allow_out_of_order is None
                else self.allow_out_of_order
            ),
        }


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a plan: a Django migration target to migrate to, or a script."""

    script: Script | None = None
    migration: tuple[str, str] | None = None

    def __str__(self) -> str:
        if self.script is not None:
            return f"script    {self.script.id} {self.script.name}"
        assert self.migration is not None
        return f"migration {self.migration[0]}.{self.migration[1]}"


def pending_scripts(
    using: str = DEFAULT_DB_ALIAS,
    *,
    target: str | None = None,
    options: Options | None = None,
) -> list[Script]:
    """Return the scripts a run would apply, in order, after every pre-run check.

    Raises:
        ScriptError: a pending script is malformed (every one is named).
        UnsafeStateError: a changed, missing, out-of-order, interrupted or failed
            non-atomic script stops the run.
        PlanError: a dependency is unknown or circular.
        ScriptNotFound: ``target`` names no script.
    """
    found = state.load(using)
    runnable, errors = state.runnable_scripts(found)
    if errors:
        raise ScriptError("\n".join(errors) + "\nNothing was applied. Fix the files above.")
    blocking = problems.blocking_run(found, **(options or Options()).resolved())
    if blocking:
        raise UnsafeStateError(
            "\n".join(str(p) for p in blocking)
            + f"\n{len(blocking)} problem(s): nothing was applied."
        )
    applied = {s.key for s in found if s.is_applied}
    ordered = state.order(runnable, applied)
    if target is not None:
        wanted = state.find(found, target)
        if wanted.is_applied:
            return []
        keys = [s.key for s in ordered]
        if wanted.key not in keys:
            raise ScriptNotFound(f"{target} is {wanted.state.value}, not pending.")
        ordered = ordered[: keys.index(wanted.key) + 1]
    return ordered


def django_dependencies(script: Script) -> list[tuple[str, str]]:
    """Return the Django migrations ``script`` depends on, as (app_label, name)."""
    result = []
    for dependency in script.parsed.directives.depends:
        if ":" not in dependency:
            app, _, name = dependency.partition(".")
            result.append((app, name))
    return result


def check_django_dependencies(
    using: str, scripts: list[Script], loader: MigrationLoader | None = None
) -> set[tuple[str, str]]:
    """Raise :class:`PlanError` for a dependency on an unknown migration; return the
    pending ones (``loader``: one already built, not to build another)."""
    if not any(django_dependencies(script) for script in scripts):
        return set()
    loader = loader or MigrationLoader(connections[using], ignore_no_migrations=True)
    pending: set[tuple[str, str]] = set()
    for script in scripts:
        for node in django_dependencies(script):
            if node not in loader.graph.nodes:
                raise PlanError(
                    f"{script.id} ({script.path}) depends on the Django migration "
                    f"{node[0]}.{node[1]}, which does not exist. Fix the depends= directive."
                )
            if node not in loader.applied_migrations:
                pending.add(node)
    return pending


def interleaved(
    using: str, scripts: list[Script], loader: MigrationLoader | None = None
) -> list[Step]:
    """Return the steps of ``schemaops migrate``: every pending Django migration in
    Django's order, with each script placed as soon as the Django migrations it
    depends on are applied, but never before the script before it in its location.
    Scripts with no pending Django dependency come after all Django migrations, and
    none comes before schemaops's own pending migrations (the registry).

    ``loader``: one already built, not to build another.
    """
    loader = loader or MigrationLoader(connections[using], ignore_no_migrations=True)
    pending = check_django_dependencies(using, scripts, loader)
    django_plan: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen and node not in loader.applied_migrations:
                seen.add(node)
                django_plan.append(node)
    position = {node: index for index, node in enumerate(django_plan)}
    end = len(django_plan)
    # Every script is recorded in the registry: none runs before schemaops's own
    # pending migrations (which create the registry, or add what rows need).
    registry = max((i for i, node in enumerate(django_plan) if node[0] == "schemaops"), default=-1)
    after: dict[int, list[Script]] = {}
    previous_in_location: dict[str, int] = {}
    placed_at: dict[str, int] = {}
    for script in scripts:
        nodes = [n for n in django_dependencies(script) if n in pending]
        at = max((position[n] for n in nodes), default=end)
        at = max(at, registry, previous_in_location.get(script.location.name, -1))
        # After the scripts it depends on (state.order already put them first).
        for dependency in script.parsed.directives.depends:
            location, sep, version = dependency.partition(":")
            if sep:
                at = max(at, placed_at.get(f"{location}:{int(version)}", -1))
        previous_in_location[script.location.name] = at
        placed_at[f"{script.location.name}:{script.number}"] = at
        after.setdefault(at, []).append(script)
    steps: list[Step] = []
    for index, node in enumerate(django_plan):
        steps.append(Step(migration=node))
        steps.extend(Step(script=script) for script in after.get(index, ()))
    steps.extend(Step(script=script) for script in after.get(end, ()))
    return steps


def apply_scripts(
    using: str,
    scripts: list[Script],
    progress: Progress,
) -> list[HistoryEntry]:
    """Apply ``scripts`` in order; stop at the first failure (which raises)."""
    from schemaops.scripts.executor import ScriptExecutor  # only when a script is to run

    executor = ScriptExecutor(using, progress)
    entries = []
    for script in scripts:
        progress(f"  Applying {script.id} {script.name}...")
        entry = executor.apply(script)
        progress(f"  Applied {script.id} in {entry.duration_ms} ms")
        entries.append(entry)
    return entries


def run_steps(
    using: str,
    steps: list[Step],
    migrate: Callable[..., None],
    progress: Progress,
    *,
    full_run: bool = True,
) -> None:
    """Run ``steps`` (from :func:`interleaved`) in order: each script with
    :func:`apply_scripts`, the Django migrations before it with ``migrate(app, name)``
    (Django's ``migrate`` command to that migration) or ``migrate()`` (all of them).

    Before a script every app is migrated to its last migration since the script
    before, in plan order: the script may follow migrations of several apps (those
    it depends on, and schemaops's own, which create the registry). A
    ``full_run`` ends with ``migrate()``: the Django migrations after the last
    script, if any, and the post-migrate signals of a full run.
    """
    stretch: list[tuple[str, str]] = []  # migrations since the last script
    for index, step in enumerate(steps):
        if step.script is not None:
            apply_scripts(using, [step.script], progress)
            continue
        assert step.migration is not None
        stretch.append(step.migration)
        following = steps[index + 1] if index + 1 < len(steps) else None
        if following is None or following.script is None:
            continue  # the migrate calls before the next script cover it
        if any(s.migration is not None for s in steps[index + 1 :]):
            last = {app: (app, name) for app, name in stretch}
            for node in sorted(last.values(), key=stretch.index):
                migrate(*node)
        else:
            migrate()
        stretch = []
    if full_run:
        migrate()
