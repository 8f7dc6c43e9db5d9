"""A rehearsal: the pending plan of a database applied to a scratch copy of it, as
``schemaops migrate`` would apply it, every statement traced.

The plan is computed on the real database (every pre-run check included) and again
on the scratch, and the two must agree. The steps then run through the runner's
own :func:`~schemaops.scripts.runner.run_steps` and Django's ``migrate`` command on
the scratch's alias: the same transactions, the same lock discipline. The lint
gate does not stop a rehearsal: what it would refuse is rehearsed too, and its
verdict reported beside what was measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from collections.abc import Iterator
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
from django.db.migrations.loader import MigrationLoader

from schemaops.exceptions import SchemaOpsError, TraceError
from schemaops.lint import gate
from schemaops.lint.findings import Finding
from schemaops.lint.names import TRACE_LOCK_HELD
from schemaops.lint.suppressions import migration_reason
from schemaops.locking.errors import first_line, original_error, server_details
from schemaops.output import Progress
from schemaops.scripts import runner
from schemaops.trace import scratch as scratch_module
from schemaops.trace.records import TracedStatement
from schemaops.trace.tracer import Tracer

LOCK_HELD = TRACE_LOCK_HELD


@dataclasses.dataclass
class Rehearsal:
    """What a rehearsal found: the plan, its statements as they ran, the linter's
    findings on it, and the failure that stopped it, if one did."""

    database: str
    steps: list[runner.Step]
    statements: list[TracedStatement]
    findings: list[Finding]
    where: str = ""  # where the scratch was
    with_data: bool = False
    failure: str = ""  # a step failed: what the runner said
    failed_step: int | None = None  # 1-based
    duration_ms: float = 0.0  # the steps, on the scratch
    copy_ms: float = 0.0  # making the scratch
    migration_reasons: dict[int, str] = dataclasses.field(default_factory=dict)
    """The reason each migration step gives for holding a lock (``trace-lock-held`` in
    its ``schemaops_lint_ignore``), by step number."""

    @property
    def step_labels(self) -> list[str]:
        return [str(step) for step in self.steps]


def rehearse(
    using: str = DEFAULT_DB_ALIAS,
    *,
    scratch: str = scratch_module.SERVER,
    with_data: bool = False,
    options: runner.Options | None = None,
    progress: Progress | None = None,
) -> Rehearsal:
    """Rehearse ``using``'s pending plan on a scratch copy (``scratch``: on the same
    server, or ``"embedded"``) and return what each statement did.

    A step that fails on the scratch does not raise: it ends the rehearsal, and the
    :class:`Rehearsal` says which one and why.

    Raises:
        ScriptError, UnsafeStateError, PlanError: the checks ``migrate`` runs first
            refuse the plan (nothing is copied).
        TraceError: the scratch could not be made or dropped, or its plan differs.
    """
    say: Progress = progress or (lambda message: None)
    options = options or runner.Options()
    scripts = runner.pending_scripts(using, options=options)
    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    steps = runner.interleaved(using, scripts, loader)
    if not steps:
        return Rehearsal(using, [], [], [])
    findings = gate.lint_deploy(using, scripts)
    reasons = {
        number: reason
        for number, step in enumerate(steps, start=1)
        if step.migration is not None
        and (reason := migration_reason(LOCK_HELD, loader.graph.nodes[step.migration]))
    }
    started = time.monotonic()
    with (
        _read_only(using),
        scratch_module.scratch_database(
            using, kind=scratch, with_data=with_data, progress=say
        ) as made,
    ):
        alias = made.alias
        copied = time.monotonic()
        result = Rehearsal(
            using,
            steps,
            [],
            findings,
            made.where,
            with_data,
            copy_ms=(copied - started) * 1000,
            migration_reasons=reasons,
        )
        with _routed_to(alias, using):
            scratch_steps = _plan_on(alias, options, steps)
        tracer = Tracer(
            alias, scratch_steps, MigrationLoader(connections[alias], ignore_no_migrations=True)
        )
        say(f"Rehearsing {len(steps)} step(s)...")
        with _routed_to(alias, using), _in_place_of(using, alias), tracer.installed():
            try:
                runner.run_steps(alias, scratch_steps, _migrate_on(alias), lambda message: None)
            except (SchemaOpsError, DatabaseError, CommandError) as exc:
                result.failure = _failure(exc)
                result.failed_step = _failed_step(tracer.statements, steps, exc)
        result.statements = tracer.statements
        result.duration_ms = (time.monotonic() - copied) * 1000
    return result


def _plan_on(alias: str, options: runner.Options, steps: list[runner.Step]) -> list[runner.Step]:
    """The plan computed on the scratch, which must be the real one."""
    scripts = runner.pending_scripts(alias, options=options)
    found = runner.interleaved(alias, scripts)
    if [str(s) for s in found] != [str(s) for s in steps]:
        real = "\n".join(f"  {s}" for s in steps)
        copy = "\n".join(f"  {s}" for s in found)
        raise TraceError(
            "The scratch copy's pending plan differs from the real one, so rehearsing it "
            f"would prove nothing.\nReal:\n{real}\nScratch copy:\n{copy}\nA database router "
            "that decides by alias, or rows the plan depends on outside django_migrations and "
            "the registry, can cause this; try --with-data on a small database."
        )
    return found


def _migrate_on(alias: str) -> Any:
    """Django's ``migrate`` on the scratch, as ``schemaops migrate`` calls it."""

    def migrate(*args: str) -> None:
        call_command(
            "migrate",
            *args,
            database=alias,
            verbosity=0,
            interactive=False,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            run_scripts=False,
            schemaops_checked=True,
            schemaops_no_heading=True,
        )

    return migrate


def _failure(exc: BaseException) -> str:
    if isinstance(exc, SchemaOpsError | CommandError):
        return str(exc)
    failure = original_error(exc)
    return f"{first_line(failure)}{server_details(failure)}"


def _failed_step(
    statements: list[TracedStatement], steps: list[runner.Step], exc: BaseException
) -> int | None:
    for traced in reversed(statements):
        if traced.error:
            return traced.where.step
    message = str(exc)
    for number, step in enumerate(steps, start=1):
        name = step.script.id if step.script else ".".join(step.migration or ())
        if name and name in message:
            return number
    return statements[-1].where.step if statements else None


@contextlib.contextmanager
def _read_only(using: str) -> Iterator[None]:
    """Make this process's session on the real database read-only for the block: a
    data migration that forgets ``using`` fails there instead of writing."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('default_transaction_read_only')")
        row = cursor.fetchone()
        before = str(row[0]) if row else "off"
        cursor.execute("SELECT set_config('default_transaction_read_only', 'on', false)")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('default_transaction_read_only', %s, false)", [before]
                )


@contextlib.contextmanager
def _in_place_of(real: str, scratch: str) -> Iterator[None]:
    """In this thread, let ``connections[real]`` be the scratch's connection for the
    block: code that names the alias itself (``create_permissions()``'s default
    ``using``, ``django.db.connection``) reaches the scratch, as it reaches the
    migrated database in a real run."""
    handler: Any = connections
    own = connections[real]
    setattr(handler._connections, real, connections[scratch])
    try:
        yield
    finally:
        setattr(handler._connections, real, own)


class _RehearsalRouter:
    """During a rehearsal: the ORM reads and writes the scratch, and a router that
    decides by alias is asked about the real alias for the scratch's migrations."""

    def __init__(self, scratch: str, real: str, others: list[Any]) -> None:
        self.scratch = scratch
        self.real = real
        self.others = others

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.scratch

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.scratch

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if db != self.scratch:
            return None
        for other in self.others:
            method = getattr(other, "allow_migrate", None)
            if method is not None:
                allowed = method(self.real, app_label, **hints)
                if allowed is not None:
                    return bool(allowed)
        return None


@contextlib.contextmanager
def _routed_to(scratch: str, real: str) -> Iterator[None]:
    routers = router.routers
    rehearsal = _RehearsalRouter(scratch, real, list(routers))
    routers.insert(0, rehearsal)
    try:
        yield
    finally:
        routers.remove(rehearsal)
