"""The pending plan of both tiers, step by step: what each step is, whether it runs in
a transaction, its lint verdict, the lock budgets it runs with, and, when asked,
the SQL it will send.

Reading the plan changes nothing: no runner lock, no registry row, no statement
that writes (the Django tier's SQL is rendered with the session read-only,
:mod:`schemaops.django_tier.collect`). The checks that stop ``migrate`` (a
malformed script, an unknown dependency, a changed or missing script) stop it
too, with the same message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from schemaops.display import display
from schemaops.django_tier import budgets
from schemaops.lint import gate
from schemaops.lint.django_migrations import source as migration_source
from schemaops.lint.findings import Finding
from schemaops.locking.policy import KEYS, LockPolicy
from schemaops.scripts import runner
from schemaops.scripts.script import Script

DJANGO = "django"
SQL = "sql"


@dataclasses.dataclass(frozen=True)
class PlannedStatement:
    """One line of SQL a step sends, or a ``--`` comment where it sends none.

    ``line``: the statement's line in the script, or the line of the Django
    operation that sends it (``None`` for SQL Django defers to the migration's
    end); ``operation``: that operation's description; ``heading``: one of the
    comment lines Django puts above each operation (text output only).
    """

    sql: str
    line: int | None
    operation: str | None = None
    heading: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"sql": self.sql, "line": self.line, "operation": self.operation}


@dataclasses.dataclass(frozen=True)
class PlannedStep:
    """One step of the plan, as ``plan`` shows it."""

    number: int
    step: runner.Step
    tier: str
    id: str
    name: str
    path: str
    atomic: bool
    not_atomic_because: str | None
    findings: tuple[Finding, ...]
    policy: LockPolicy
    overridden: tuple[str, ...]
    """The budgets the script's header or the migration's ``schemaops`` attribute set."""
    sql: tuple[PlannedStatement, ...] | None = None
    """Every line as printed, Django's comments included; ``None`` unless asked for."""

    @property
    def transaction(self) -> str:
        return "atomic" if self.atomic else f"non-atomic ({self.not_atomic_because})"

    @property
    def verdict(self) -> str:
        found = [f"{f.severity} at line {f.line}: {f.rule}" for f in self.findings]
        return "; ".join(found) if found else "clean"

    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {key: getattr(self.policy, key) for key in KEYS}
        return {**values, "overridden": list(self.overridden)}

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "number": self.number,
            "tier": self.tier,
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "atomic": self.atomic,
            "not_atomic_because": self.not_atomic_because,
            "lint": [finding.as_dict() for finding in self.findings],
            "settings": self.settings(),
        }
        if self.sql is not None:
            result["statements"] = [s.as_dict() for s in self.sql if not s.heading]
        return result


def planned_steps(using: str = DEFAULT_DB_ALIAS, *, sql: bool = False) -> list[PlannedStep]:
    """Return the steps ``schemaops migrate`` would run on ``using``, in order, each
    with its transaction, lint verdict (judged as the gate judges) and budgets;
    with ``sql``, the SQL each sends.

    Raises:
        ScriptError, UnsafeStateError, PlanError: as :func:`runner.pending_scripts`
            and :func:`runner.interleaved` (what would stop ``migrate``).
        PolicyError: a migration's ``schemaops`` attribute is wrong.
    """
    scripts = runner.pending_scripts(using)
    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    steps = runner.interleaved(using, scripts, loader)
    if not steps:
        return []
    findings: dict[str, list[Finding]] = {}
    for finding in gate.lint_deploy(using, scripts):
        findings.setdefault(finding.path, []).append(finding)
    collected = {}
    if sql:
        from schemaops.django_tier import collect  # only for --sql: it renders

        migrations = [step.migration for step in steps if step.migration is not None]
        collected = collect.collect_plan(loader, migrations, using)
    result = []
    for number, step in enumerate(steps, start=1):
        if step.script is not None:
            planned = _script_step(number, step, step.script, findings)
            lines = tuple(
                PlannedStatement(f"{s.text};", s.line) for s in step.script.parsed.up.statements
            )
        else:
            assert step.migration is not None
            migration = loader.graph.nodes[step.migration]
            planned = _migration_step(number, step, migration, findings)
            lines = tuple(
                PlannedStatement(line.sql, line.line, line.operation, line.heading)
                for line in collected.get(step.migration, ())
            )
        result.append(dataclasses.replace(planned, sql=lines) if sql else planned)
    return result


def _script_step(
    number: int, step: runner.Step, script: Script, findings: dict[str, list[Finding]]
) -> PlannedStep:
    parsed = script.parsed
    path = display(script.path)
    because = None if parsed.atomic else (parsed.up.non_transactional or "atomic=false")
    return PlannedStep(
        number=number,
        step=step,
        tier=SQL,
        id=script.id,
        name=script.name,
        path=path,
        atomic=parsed.atomic,
        not_atomic_because=because,
        findings=tuple(findings.get(path, ())),
        policy=script.policy(),
        overridden=tuple(parsed.directives.policy_overrides()),
    )


def _migration_step(
    number: int, step: runner.Step, migration: Migration, findings: dict[str, list[Finding]]
) -> PlannedStep:
    path = display(migration_source.migration_path(migration))
    overrides = getattr(migration, "schemaops", None)
    return PlannedStep(
        number=number,
        step=step,
        tier=DJANGO,
        id=f"{migration.app_label}.{migration.name}",
        name=str(migration.name),
        path=path,
        atomic=bool(migration.atomic),
        not_atomic_because=None if migration.atomic else "atomic = False",
        findings=tuple(findings.get(path, ())),
        policy=budgets.policy_for(migration),
        overridden=tuple(overrides) if isinstance(overrides, dict) else (),
    )
