"""``manage.py schemaops lint``: the SQL tier and the Django migrations of a project."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from django.apps import apps

from schemaops.exceptions import InvalidMigration, SchemaOpsError, ScriptError
from schemaops.lint import config as config_module
from schemaops.lint import database, gate, report
from schemaops.lint.config import LintConfig
from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext
from schemaops.lint.django_migrations.walk import MigrationLintResult, lint_migrations
from schemaops.lint.engine import lint_script
from schemaops.lint.findings import Finding
from schemaops.lint.options import options_config
from schemaops.scripts import loader, state

if TYPE_CHECKING:
    from schemaops.lint.changes import Changed

__all__ = ["ProjectLintRun", "UsageError", "lint_project", "report"]


class UsageError(SchemaOpsError):
    """A bad option, setting or app label (exit 2)."""


@dataclasses.dataclass
class ProjectLintRun:
    findings: list[Finding]
    scripts: int
    migrations: int
    not_rendered: list[str]
    errors: list[str]

    @property
    def units(self) -> int:
        return self.scripts + self.migrations

    @property
    def detail(self) -> str:
        return (
            f"{report.plural(self.scripts, 'script')}, "
            f"{report.plural(self.migrations, 'migration')}"
        )


def _check_labels(labels: Iterable[str], locations: list[loader.Location]) -> None:
    known = {config.label for config in apps.get_app_configs()} | {loc.name for loc in locations}
    for label in labels:
        if label not in known:
            raise UsageError(
                f"{label!r} is neither an installed app's label nor a script location. "
                f"Known: {', '.join(sorted(known))}."
            )


def lint_project(
    options: Mapping[str, object],
    *,
    app_labels: list[str],
    using: str,
    pending: bool,
) -> ProjectLintRun:
    """Lint the scripts and migrations of ``app_labels`` (every app when empty).

    Without ``pending`` nothing reads the database: the target version is
    ``--pg-version``, ``SCHEMAOPS["LINT"]["pg_version"]`` or 14. With it, the
    registry and ``django_migrations`` say what is applied, and the server's
    version and validated constraints are the facts.

    Raises:
        UsageError: an unknown rule, version or app label.
    """
    try:
        config = options_config(dict(options)).over(config_module.from_settings())
        only = _changed(options.get("changed"))
    except (config_module.LintConfigError, SchemaOpsError) as exc:
        raise UsageError(str(exc)) from exc
    errors: list[str] = []
    try:
        locations = loader.locations(using)
    except ScriptError as exc:
        locations, errors = [], [str(exc)]
    _check_labels(app_labels, locations)
    labels = set(app_labels) or None
    chosen = [loc for loc in locations if labels is None or loc.name in labels]
    pg_version = config.pg_version
    if pending and pg_version is None:
        pg_version = database.server_version(using)

    if pending:
        findings, scripts = _lint_pending_scripts(using, chosen, config, pg_version, errors, only)
    else:
        findings, scripts = _lint_all_scripts(chosen, config, pg_version, errors, only)
    try:
        result = lint_migrations(
            config,
            app_labels=labels,
            using=using,
            pending=pending,
            pg_version=pg_version,
            only=only,
        )
    except InvalidMigration as exc:
        errors.append(str(exc))
        result = MigrationLintResult()
    findings.extend(result.findings)
    return ProjectLintRun(findings, scripts, result.migrations, result.not_rendered, errors)


def _lint_pending_scripts(
    using: str,
    chosen: list[loader.Location],
    config: LintConfig,
    pg_version: int | None,
    errors: list[str],
    only: Changed | None,
) -> tuple[list[Finding], int]:
    """Lint the pending scripts of ``chosen`` as the deploy runs them; return the
    findings and how many scripts were read (of those ``only`` covers), adding what
    could not be to ``errors``."""
    names = {loc.name for loc in chosen}
    try:
        statuses = state.load(using)
    except ScriptError as exc:
        statuses = []
        errors.append(str(exc))
    good, malformed = state.runnable_scripts(s for s in statuses if s.location in names)
    errors.extend(malformed)
    with_version = config._replace(pg_version=pg_version)
    findings = gate.lint_pending(using, good, with_version)
    if only is None:
        return findings, len(good)
    kept = [f for f in findings if only.covers(Path(f.path))]
    return kept, sum(1 for script in good if only.covers(script.path))


def _lint_all_scripts(
    chosen: list[loader.Location],
    config: LintConfig,
    pg_version: int | None,
    errors: list[str],
    only: Changed | None,
) -> tuple[list[Finding], int]:
    """Lint every script of ``chosen`` in order, as one sequence; return the findings
    and how many scripts were read (of those ``only`` covers), adding what could not
    be to ``errors``."""
    findings: list[Finding] = []
    scripts = 0
    context = LintContext(pg_version=pg_version or DEFAULT_PG_VERSION)
    for location in chosen:
        try:
            location_scripts = loader.scripts_in(location)
        except ScriptError as exc:
            errors.append(str(exc))
            continue
        for script in location_scripts:
            try:
                found = config.keep(lint_script(script, context))
            except ScriptError as exc:
                errors.append(str(exc))
                continue
            if only is None or only.covers(script.path):
                findings.extend(found)
                scripts += 1
    return findings, scripts


def _changed(ref: object) -> Changed | None:
    """``--changed [REF]``'s files (None: the option was not given)."""
    if ref is None:
        return None
    from schemaops.lint.changes import Changed

    return Changed(str(ref))
