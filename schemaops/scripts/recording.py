"""The registry rows of one run of a script's section: ``started`` (a non-atomic run),
then the row that ends the run, or ``failed`` with the error to raise."""

from __future__ import annotations

import datetime

from django.db import DatabaseError, connections

from schemaops.exceptions import ScriptFailed
from schemaops.locking.discipline import LockDiscipline
from schemaops.locking.errors import usable
from schemaops.models import HistoryEntry, Outcome, Tier
from schemaops.recorder import Recorder
from schemaops.scripts import messages
from schemaops.scripts.script import Script, Section
from schemaops.statements import Statement


class RunRecord:
    """Write the rows of one run of ``section`` of ``script`` (``direction``).

    Every row names the script and carries the section's SQL; a row that ends
    the run also what the run cost: its attempts and time spent waiting for
    locks, as ``discipline`` counted them since the record was made (when the
    run began).
    """

    def __init__(
        self,
        recorder: Recorder,
        discipline: LockDiscipline,
        script: Script,
        section: Section,
        direction: str,
    ) -> None:
        self.recorder = recorder
        self.script = script
        self.section = section
        self.direction = direction
        self._discipline = discipline
        self._before = discipline.mark()

    def record(
        self,
        outcome: str,
        started_at: datetime.datetime,
        duration_ms: int | None,
        **extra: object,
    ) -> HistoryEntry:
        """Append a row with ``outcome`` (``duration_ms`` None: the run goes on)."""
        if duration_ms is not None:
            attempts, waited_ms = self._discipline.spent(self._before)
            extra.setdefault("attempts", attempts)
            extra.setdefault("waited_ms", waited_ms)
        script = self.script
        return self.recorder.record(
            tier=Tier.SQL,
            location=script.location.name,
            version=script.version,
            name=script.name,
            checksum=script.checksum,
            direction=self.direction,
            outcome=outcome,
            started_at=started_at,
            duration_ms=duration_ms,
            sql=self.section.text.strip("\n"),
            **extra,  # type: ignore[arg-type]
        )

    def failed(
        self,
        started_at: datetime.datetime,
        duration_ms: int,
        statement: Statement | None,
        message: str,
    ) -> ScriptFailed:
        """Append a ``failed`` row on a fresh transaction; return the error to raise
        (saying so if the row could not be written)."""
        connection = connections[self.recorder.using]
        try:
            if not usable(connection):
                connection.close()
            self.record(
                Outcome.FAILED,
                started_at,
                duration_ms,
                error=message,
                failed_statement=statement.text if statement else "",
                failed_line=statement.line if statement else None,
            )
        except DatabaseError as exc:
            return ScriptFailed(messages.failure_not_recorded(message, exc))
        return ScriptFailed(message)
