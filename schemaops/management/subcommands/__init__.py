"""The subcommands of ``manage.py schemaops``, one class each, registered here in
the order ``--help`` lists them."""

from __future__ import annotations

from schemaops.management.subcommands.backup import Backup
from schemaops.management.subcommands.base import Subcommand
from schemaops.management.subcommands.history import History
from schemaops.management.subcommands.lint import Lint
from schemaops.management.subcommands.migrate import Migrate, Plan
from schemaops.management.subcommands.new import New
from schemaops.management.subcommands.repair import Baseline, Fake, Repair
from schemaops.management.subcommands.rollback import Rollback
from schemaops.management.subcommands.snapshot import Snapshot
from schemaops.management.subcommands.status import Status
from schemaops.management.subcommands.trace import Trace
from schemaops.management.subcommands.validate import Validate

SUBCOMMANDS: tuple[type[Subcommand], ...] = (
    Status,
    New,
    Plan,
    Trace,
    Migrate,
    Rollback,
    Validate,
    Snapshot,
    History,
    Repair,
    Baseline,
    Lint,
    Fake,
    Backup,
)
