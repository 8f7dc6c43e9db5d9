"""What a rehearsal's facts mean: what no static rule can see, and the verdict.

The facts are the tracer's (:mod:`schemaops.trace.tracer`); the judgement is here:

- ``trace-lock-held``: a lock that blocks writes (SHARE and stronger) on a table
  that existed before the plan, held longer than ``--max-lock``. The only note
  that fails the trace (exit 1), unless the step suppresses it with a reason
  (``-- schemaops: ignore=trace-lock-held reason="..."``, or
  ``schemaops_lint_ignore = {"trace-lock-held": "..."}`` on the migration);
- ``held-while-more-run``: ACCESS EXCLUSIVE taken by a statement that more
  statements follow in the same transaction: the lock is held for all of them;
- ``unpredicted-rewrite``: a table rewritten that no lint rule said would be;
- ``unnamed-relation``: a lock that blocks writes on a table the statement does
  not name (a foreign key's, a partition's, a view's);
- ``linter-disagrees``: the lock :mod:`schemaops.locking.classify` predicts for
  the statement (which the lock discipline acts on) is not the one it took.

Notes are about tables that existed before the plan: a table created by the plan
is new, nobody else uses it yet.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from schemaops.display import display
from schemaops.lint.findings import Finding
from schemaops.lint.names import TRACE_LOCK_HELD, RuleName
from schemaops.lint.suppressions import covering_reason
from schemaops.locking import classify
from schemaops.trace.records import Lock, TracedStatement, mode_name, strength
from schemaops.trace.rehearsal import Rehearsal

LOCK_HELD = TRACE_LOCK_HELD
HELD_WHILE_MORE_RUN = "held-while-more-run"
UNPREDICTED_REWRITE = "unpredicted-rewrite"
UNNAMED_RELATION = "unnamed-relation"
LINTER_DISAGREES = "linter-disagrees"

# Rules whose finding says the statement rewrites its table.
REWRITE_RULES = frozenset(
    {
        RuleName.BAN_TABLE_REWRITE.value,
        RuleName.CHANGING_COLUMN_TYPE.value,
        RuleName.ADDING_FIELD_WITH_DEFAULT.value,
        RuleName.ADDING_SERIAL_PRIMARY_KEY_FIELD.value,
        RuleName.PREFER_REPACK.value,
    }
)


@dataclasses.dataclass(frozen=True)
class Note:
    """One thing the rehearsal shows about statement number ``statement`` (0-based)."""

    kind: str
    statement: int
    message: str
    suppressed: str = ""  # the reason the step gives, for a trace-lock-held

    @property
    def fails(self) -> bool:
        return self.kind == LOCK_HELD and not self.suppressed


def bare(name: str) -> str:
    """A relation name as the catalog spells it, without a ``public.`` schema."""
    parts = [
        part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()
        for part in name.split(".")
    ]
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] == "public" else parts)


def strongest(locks: list[Lock]) -> dict[str, Lock]:
    """The strongest lock per relation."""
    found: dict[str, Lock] = {}
    for lock in locks:
        name = lock.relation.name
        if name not in found or strength(lock.mode) > strength(found[name].mode):
            found[name] = lock
    return found


def findings_of(rehearsal: Rehearsal, traced: TracedStatement) -> list[Finding]:
    """The lint findings about ``traced`` (its lines in its file)."""
    where = traced.where
    path = display(Path(where.path))
    return [
        finding
        for finding in rehearsal.findings
        if finding.path == path and where.line <= finding.line <= max(where.line, where.last_line)
    ]


def judge(rehearsal: Rehearsal, max_lock_ms: float) -> list[Note]:
    """Every note about ``rehearsal``'s statements, in statement order."""
    notes: list[Note] = []
    statements = rehearsal.statements
    for number, traced in enumerate(statements):
        old_tables = [lock for lock in traced.locks if lock.relation.existed]
        for lock in strongest([lock for lock in old_tables if lock.relation.is_table]).values():
            if lock.blocks_writes and lock.held_ms > max_lock_ms:
                notes.append(
                    Note(
                        LOCK_HELD,
                        number,
                        f"{mode_name(lock.mode)} on {lock.relation.name} held "
                        f"{lock.held_ms:.0f} ms, longer than --max-lock ({max_lock_ms:.0f} ms): "
                        "writers of the table wait that long",
                        _suppressed(rehearsal, traced),
                    )
                )
        following = [
            later
            for later in statements[number + 1 :]
            if traced.in_transaction and later.transaction == traced.transaction
        ]
        exclusive = sorted(
            {
                lock.relation.name
                for lock in old_tables
                if lock.mode == "AccessExclusiveLock" and lock.relation.is_table
            }
        )
        if exclusive and following:
            notes.append(
                Note(
                    HELD_WHILE_MORE_RUN,
                    number,
                    f"ACCESS EXCLUSIVE on {', '.join(exclusive)} is held while "
                    f"{len(following)} more statement(s) run in the same transaction, until it "
                    "ends: no reads or writes of it meanwhile. Put them in a step of their own, "
                    "or this statement last",
                )
            )
        rewritten = sorted({r.name for r in traced.rewritten if r.existed and r.is_table})
        if rewritten and not any(f.rule in REWRITE_RULES for f in findings_of(rehearsal, traced)):
            notes.append(
                Note(
                    UNPREDICTED_REWRITE,
                    number,
                    f"rewrote {', '.join(rewritten)} (a new relfilenode), which no lint rule "
                    "predicted: it takes as long as the table is big, under its lock",
                )
            )
        notes.extend(_against_the_linter(number, traced))
    return notes


def _against_the_linter(number: int, traced: TracedStatement) -> list[Note]:
    """What the statement took that its text does not say, or the linter did not
    predict."""
    notes: list[Note] = []
    predicted = {bare(name): mode for name, mode in classify.locked_relations(traced.text)}
    # What the transaction holds once the statement ran: a lock it held already
    # counts (a stronger one covers what the statement asks for).
    measured = {
        bare(name): lock
        for name, lock in strongest([*traced.locks, *traced.kept]).items()
        if (lock.relation.is_table or lock.relation.kind == "v") and lock.relation.existed
    }
    for name, lock in measured.items():
        if not lock.blocks_writes or not lock.relation.existed:
            continue
        if lock in traced.kept:
            continue
        if name not in predicted and not _names(traced.text, name):
            notes.append(
                Note(
                    UNNAMED_RELATION,
                    number,
                    f"{mode_name(lock.mode)} on {lock.relation.name}, which the statement does "
                    "not name (a foreign key, partition, view or trigger of it): its writers "
                    "wait too",
                )
            )
    own = {bare(name): lock for name, lock in strongest(traced.locks).items()}
    for name, mode in predicted.items():
        took = measured.get(name)
        if took is None or traced.error:
            continue
        mine = own.get(name)
        if mine is not None and mine.mode == mode:
            continue
        # A stronger lock its transaction held already covers what it asks for.
        covered = strength(took.mode) >= strength(mode)
        if covered and (mine is None or strength(mine.mode) <= strength(mode)):
            continue
        took = mine or took
        notes.append(
            Note(
                LINTER_DISAGREES,
                number,
                f"the linter predicts {mode_name(mode)} on {took.relation.name}; it took "
                f"{mode_name(took.mode)}",
            )
        )
    return notes


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names the relation ``name`` (its last part, as a word)."""
    last = name.rsplit(".", 1)[-1]
    return re.search(rf'(?<![\w$"]){re.escape(last)}(?![\w$])', text, re.IGNORECASE) is not None


def _suppressed(rehearsal: Rehearsal, traced: TracedStatement) -> str:
    """The reason the statement's step gives for holding its lock, "" if none."""
    step = rehearsal.steps[traced.where.step - 1]
    if step.script is None:
        return rehearsal.migration_reasons.get(traced.where.step, "")
    parsed = step.script.parsed
    return covering_reason(LOCK_HELD, traced.where.line, parsed.suppressions, parsed.up.statements)
