"""Progress of long statements, told while they run.

A concurrent index build reports itself in ``pg_stat_progress_create_index``
(PostgreSQL 12+). :class:`IndexBuildProgress` reads that view from a second
connection while the runner's own connection is busy with the build, and
reports each new phase, and the percent done within a phase, through the
runner's progress callback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from django.db import DatabaseError, connections

# How often the view is read, and how often an unchanged phase is reported again.
POLL_SECONDS = 0.5
REPORT_SECONDS = 5.0

_QUERY = (
    "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total, lockers_done,"
    " lockers_total, current_locker_pid FROM pg_stat_progress_create_index WHERE pid = %s"
)


def describe_index_progress(row: tuple[object, ...]) -> tuple[str, int | None]:
    """Return a phase's description and its percent done (``None`` when the phase has
    no measure), from a row of :data:`_QUERY`."""
    phase = str(row[0])
    blocks_done, blocks_total, tuples_done, tuples_total, lockers_done, lockers_total, pid = (
        int(value) if isinstance(value, int) else 0 for value in row[1:]
    )
    text = phase
    percent: int | None = None
    if blocks_total > 0:
        percent = min(100, blocks_done * 100 // blocks_total)
        text += f" {percent}% (blocks {blocks_done:,}/{blocks_total:,})"
    elif tuples_total > 0:
        percent = min(100, tuples_done * 100 // tuples_total)
        text += f" {percent}% (tuples {tuples_done:,}/{tuples_total:,})"
    elif lockers_total > 0:
        percent = min(100, lockers_done * 100 // lockers_total)
        text += f" {percent}% ({lockers_done}/{lockers_total} transactions done"
        text += f", waiting for pid {pid})" if pid else ")"
    return text, percent


class IndexBuildProgress:
    """While the block runs, report the index build of backend ``pid`` through ``report``.

    Used as a context manager around the statement. The view is read on a
    connection of the polling thread's own (Django connections are per
    thread), closed when the block ends. A failure to read it ends the
    reporting, never the build.
    """

    def __init__(self, using: str, pid: int, label: str, report: Callable[[str], None]) -> None:
        self.using = using
        self.pid = pid
        self.label = label
        self.report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schemaops-index-progress")

    def __enter__(self) -> IndexBuildProgress:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        connection = connections[self.using]
        last_phase: str | None = None
        last_percent: int | None = None
        last_time = 0.0
        try:
            while not self._stop.wait(POLL_SECONDS):
                with connection.cursor() as cursor:
                    cursor.execute(_QUERY, [self.pid])
                    row = cursor.fetchone()
                if row is None:
                    continue
                text, percent = describe_index_progress(row)
                now = time.monotonic()
                if row[0] != last_phase or (
                    percent != last_percent and now - last_time >= REPORT_SECONDS
                ):
                    self.report(f"  {self.label}: {text}")
                    last_phase, last_percent, last_time = str(row[0]), percent, now
        except DatabaseError:
            pass
        finally:
            connection.close()
