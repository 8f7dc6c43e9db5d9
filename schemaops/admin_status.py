"""What the admin's status page shows: the next ``migrate``, what is wrong, and the
lint findings of pending scripts; a fixed number of queries however long the
history."""

from __future__ import annotations

import dataclasses

from django.db import DEFAULT_DB_ALIAS

from schemaops.exceptions import SchemaOpsError, ScriptError
from schemaops.lint import gate
from schemaops.lint.engine import Finding
from schemaops.scripts import plan, runner
from schemaops.scripts.loader import load_scripts


@dataclasses.dataclass
class StatusPage:
    database: str
    steps: list[runner.Step]
    problems: list[plan.Problem]
    findings: list[Finding]
    errors: list[str]

    @property
    def clean(self) -> bool:
        return not (self.steps or self.problems or self.errors)


def collect(using: str = DEFAULT_DB_ALIAS) -> StatusPage:
    """Read both tiers of ``using`` and plan the next run, as ``migrate`` would."""
    errors: list[str] = []
    try:
        scripts = load_scripts(using)
    except ScriptError as exc:
        scripts, errors = [], str(exc).splitlines()
    found = plan.statuses(scripts, plan.latest_rows(using))
    problems = plan.validation_problems(found)
    runnable, malformed = plan.runnable_scripts(found, frozenset(p.status.key for p in problems))
    errors.extend(malformed)
    applied = {s.key for s in found if s.is_applied}
    steps: list[runner.Step] = []
    findings: list[Finding] = []
    try:
        ordered = plan.order(runnable, applied)
        steps = runner.interleaved(using, ordered)
        findings = gate.lint_pending(using, ordered)
    except SchemaOpsError as exc:
        errors.append(str(exc))
    return StatusPage(using, steps, problems, findings, errors)
