"""What every subcommand of ``manage.py schemaops`` shares: its place in the parser,
its output, the runner lock, and the options several of them take."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from schemaops import conf, recorder
from schemaops.management.arguments import seconds
from schemaops.scripts.lock import RunnerLock

if TYPE_CHECKING:
    from django.core.management.base import BaseCommand


class Subcommand:
    """One subcommand: ``name``, the help it shows, its options, and ``handle``.

    It writes through the ``manage.py schemaops`` command it belongs to, so
    ``call_command``'s ``stdout`` and ``stderr`` and the command's colours apply.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, command: BaseCommand) -> None:
        self.command = command

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The subcommand's own options (``--database`` and ``-v`` are added for all)."""

    def reads_database(self, options: dict[str, Any]) -> bool:
        """Whether it needs the database (checked before it runs: one clear error)."""
        return True

    # Each subcommand's handle(**options) takes the options it uses by name.
    handle: Callable[..., None]

    # Output -------------------------------------------------------------------

    @property
    def stdout(self) -> Any:
        return self.command.stdout

    @property
    def stderr(self) -> Any:
        return self.command.stderr

    @property
    def style(self) -> Any:
        return self.command.style

    def progress(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    # The runner lock and the registry -----------------------------------------

    def lock(self, database: str, wait: float | None) -> RunnerLock:
        return RunnerLock(database, conf.lock_wait() if wait is None else wait, self.progress)

    def require_registry(self, database: str) -> None:
        """Refuse a subcommand that writes the registry before its table exists."""
        if not recorder.registry_installed(database):
            raise CommandError(
                f"The schemaops registry is not on database {database!r} yet, so there is "
                f"nowhere to record this. Run: manage.py migrate schemaops --database {database}"
                ", then this command again."
            )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a subcommand ``--database``, and ``-v`` after the subcommand's name."""
    parser.add_argument(
        "--database",
        default=DEFAULT_DB_ALIAS,
        help='Nominates a database to use. Defaults to the "default" database.',
    )
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        # SUPPRESS keeps the value given before the subcommand's name.
        default=argparse.SUPPRESS,
        help="Verbosity level; 0=minimal output, 1=normal output, 2=verbose output.",
    )


def add_lock_wait_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--lock-wait", type=seconds, default=None, metavar="SECONDS", help=help)


def add_allow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-changed",
        action="store_true",
        default=None,
        help="Run although an applied script's file changed (SCHEMAOPS['ALLOW_CHANGED']).",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        default=None,
        help="Run although an applied script's file is gone (SCHEMAOPS['ALLOW_MISSING']).",
    )
    parser.add_argument(
        "--allow-out-of-order",
        action="store_true",
        default=None,
        help="Apply pending scripts older than the newest applied one "
        "(SCHEMAOPS['ALLOW_OUT_OF_ORDER']).",
    )
    add_lock_wait_argument(
        parser, "How long to wait for another run to finish (SCHEMAOPS['LOCK_WAIT'], 600)."
    )


def format_time(value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def when(entry: recorder.Latest) -> str:
    """When a change's row happened: its end, or its start while it has none."""
    return format_time(entry.finished_at or entry.started_at)
