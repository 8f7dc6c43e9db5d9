"""Applying and reverting one script: atomic (:mod:`schemaops.scripts.atomic`) or
statement by statement (:mod:`schemaops.scripts.nonatomic`), each run recorded in
the registry (:mod:`schemaops.scripts.recording`)."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from schemaops.exceptions import ScriptError
from schemaops.locking.discipline import LockDiscipline, governing
from schemaops.models import Direction, HistoryEntry, Outcome
from schemaops.output import Progress
from schemaops.recorder import Recorder
from schemaops.scripts import atomic, nonatomic, recording
from schemaops.scripts.script import Script, Section


class ScriptExecutor:
    """Apply and revert scripts on database ``using``, one at a time.

    An atomic script runs in one transaction with its registry row, so it is
    either applied and recorded, or neither. A non-atomic script runs in
    autocommit, statement by statement, between a committed ``started`` row and
    a committed ``applied`` row; a ``started`` row with nothing after it is an
    interrupted script. Callers hold the runner lock (:class:`RunnerLock`).
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS, progress: Progress | None = None) -> None:
        self.using = using
        self.progress: Progress = progress or (lambda message: None)
        self.recorder = Recorder(using)
        self.discipline = LockDiscipline(using, self.progress)

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]

    def apply(self, script: Script) -> HistoryEntry:
        """Run the up section of ``script``; raise :class:`ScriptFailed` on failure."""
        return self._run(script, script.parsed.up, Direction.UP, Outcome.APPLIED)

    def revert(self, script: Script) -> HistoryEntry:
        """Run the down section of ``script``; raise :class:`ScriptError` if it has none."""
        down = script.parsed.down
        if down is None:
            raise ScriptError(
                f"{script.id} ({script.path}) has no down section, so it cannot be rolled "
                "back. Add a -- migrate:down section (or a .down.sql file), or mark it pending "
                f"without running anything: manage.py schemaops repair {script.id} --as pending "
                "--reason '...'."
            )
        return self._run(script, down, Direction.DOWN, Outcome.REVERTED)

    def _settings(self, script: Script) -> tuple[str, str, int]:
        """Return the script's lock_timeout, statement_timeout and retries."""
        policy = script.policy()
        return policy.lock_timeout, policy.statement_timeout, policy.retries

    def _run(self, script: Script, section: Section, direction: str, outcome: str) -> HistoryEntry:
        # What this run cost, for its row: attempts and time spent waiting for locks.
        record = recording.RunRecord(self.recorder, self.discipline, script, section, direction)
        with governing(self.using):
            return self._run_section(record, outcome)

    def _run_section(self, record: recording.RunRecord, outcome: str) -> HistoryEntry:
        script, section = record.script, record.section
        self.recorder.db_user  # noqa: B018 - read while the connection is healthy
        if section.atomic:
            return atomic.run(self.discipline, record, outcome, self._settings(script))
        if self.connection.in_atomic_block:
            raise ScriptError(
                f"{script.id} ({script.path}) cannot run in a transaction "
                f"({section.non_transactional}), but a transaction is open. From a Django "
                "migration, set atomic = False on the Migration class."
            )
        return nonatomic.run(self.discipline, record, outcome, self._settings(script))
