"""What the admin's status page shows: the next ``migrate``, what is wrong, drift from
the models, the lint findings of pending scripts and the last backup; a fixed number of queries
however long the history and however many models."""

from __future__ import annotations

import dataclasses

from django.db import DEFAULT_DB_ALIAS

from schemaops import recorder
from schemaops.exceptions import SchemaOpsError, ScriptError
from schemaops.lint import gate
from schemaops.lint.findings import Finding
from schemaops.models import HistoryEntry, Outcome, Tier
from schemaops.schema import drift
from schemaops.scripts import lock, runner, state
from schemaops.scripts import problems as script_problems
from schemaops.scripts.loader import load_scripts


@dataclasses.dataclass
class StatusPage:
    database: str
    steps: list[runner.Step]
    problems: list[script_problems.Problem]
    findings: list[Finding]
    errors: list[str]
    running: list[state.ScriptStatus] = dataclasses.field(default_factory=list)
    last_backup: HistoryEntry | None = None
    drift: drift.Drift | None = None

    @property
    def clean(self) -> bool:
        drifted = self.drift is not None and bool(self.drift.findings)
        return not (self.steps or self.problems or self.errors or self.running or drifted)


def collect(using: str = DEFAULT_DB_ALIAS) -> StatusPage:
    """Read both tiers of ``using`` and plan the next run, as ``migrate`` would."""
    errors: list[str] = []
    try:
        scripts = load_scripts(using)
    except ScriptError as exc:
        scripts, errors = [], str(exc).splitlines()
    latest = recorder.latest_rows(using)
    found = state.with_progress(
        using, state.statuses(scripts, latest, lock.runner_if_started(using, latest.values()))
    )
    problems = script_problems.validation_problems(found)
    runnable, malformed = state.runnable_scripts(found, frozenset(p.status.key for p in problems))
    errors.extend(malformed)
    applied = {s.key for s in found if s.is_applied}
    steps: list[runner.Step] = []
    findings: list[Finding] = []
    try:
        ordered = state.order(runnable, applied)
        steps = runner.interleaved(using, ordered)
        findings = gate.lint_pending(using, ordered)
    except SchemaOpsError as exc:
        errors.append(str(exc))
    running = [s for s in found if s.state == state.State.RUNNING]
    return StatusPage(
        using, steps, problems, findings, errors, running, last_backup(using), drift.check(using)
    )


def last_backup(using: str = DEFAULT_DB_ALIAS) -> HistoryEntry | None:
    """The newest backup recorded (``schemaops backup``, ``BACKUP_BEFORE_MIGRATE``); one
    query, served by the index that starts with the tier."""
    rows = HistoryEntry.objects.using(using).filter(tier=Tier.BACKUP, outcome=Outcome.BACKED_UP)
    return rows.order_by("-id").first()
