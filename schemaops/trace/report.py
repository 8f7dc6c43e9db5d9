"""A rehearsal's report: ``text`` for a terminal, ``json`` for tools, ``markdown`` for
a pull-request comment. One row per statement: its step, its line (a script's; a
Django migration's operation), the locks it took, what it rewrote, how long it ran,
and the linter's verdict; then the notes (:mod:`schemaops.trace.judgement`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemaops.display import display
from schemaops.trace import judgement
from schemaops.trace.judgement import Note
from schemaops.trace.records import Lock, TracedStatement, mode_name, strength
from schemaops.trace.rehearsal import Rehearsal

FORMATS = ("text", "json", "markdown")
_STATEMENT_WIDTH = 72


def render(rehearsal: Rehearsal, notes: list[Note], max_lock_ms: float, format: str) -> str:
    """The report of ``rehearsal`` in ``format`` (one of :data:`FORMATS`)."""
    if format == "json":
        return json.dumps(as_dict(rehearsal, notes, max_lock_ms), indent=2)
    if format == "markdown":
        return _markdown(rehearsal, notes, max_lock_ms)
    return _text(rehearsal, notes, max_lock_ms)


def exit_code(rehearsal: Rehearsal, notes: list[Note]) -> int:
    """3: a step failed; 1: a lock was held too long (unsuppressed); 0: neither."""
    if rehearsal.failure:
        return 3
    return 1 if any(note.fails for note in notes) else 0


# Pieces --------------------------------------------------------------------------


def _locks(traced: TracedStatement) -> list[Lock]:
    """The locks worth a row: the strongest per relation, strongest first; an index's
    only when it existed and its table is not in the row; one held since an earlier
    statement only on a relation that existed before the plan (``--format json`` has
    them all)."""
    kept = [lock for lock in traced.kept if lock.relation.existed]
    found = judgement.strongest([*traced.locks, *kept]).values()
    tables = {lock.relation.name for lock in found if lock.relation.kind != "i"}
    shown = [
        lock
        for lock in found
        if lock.relation.kind != "i"
        or (lock.relation.existed and lock.relation.table not in tables)
    ]
    return sorted(shown, key=lambda lock: (-strength(lock.mode), lock.relation.name))


def _lock_text(lock: Lock, traced: TracedStatement) -> str:
    new = "" if lock.relation.existed else " (new)"
    earlier = " (held since an earlier statement)" if lock in traced.kept else ""
    return f"{mode_name(lock.mode)} {lock.relation.name}{new}{earlier}"


def _where(traced: TracedStatement) -> str:
    where = traced.where
    if where.tier == "django":
        return f"line {where.line} ({where.operation})"
    return f"line {where.line}"


def _statement(text: str, width: int = _STATEMENT_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _verdict(rehearsal: Rehearsal, traced: TracedStatement) -> str:
    found = judgement.findings_of(rehearsal, traced)
    return ", ".join(sorted({f"{f.rule} ({f.severity})" for f in found})) or "clean"


def _rewritten(traced: TracedStatement) -> str:
    return ", ".join(sorted({r.name for r in traced.rewritten})) or "none"


def _heading(rehearsal: Rehearsal) -> str:
    copy = "schema and data" if rehearsal.with_data else "schema only"
    return (
        f"Rehearsed {len(rehearsal.steps)} step(s) of database {rehearsal.database!r} on a "
        f"scratch copy ({copy}) on {rehearsal.where}"
    )


def _summary(rehearsal: Rehearsal, notes: list[Note], max_lock_ms: float) -> list[str]:
    statements = rehearsal.statements
    transactions = len({t.transaction for t in statements})
    failing = [note for note in notes if note.fails]
    suppressed = [note for note in notes if note.kind == judgement.LOCK_HELD and note.suppressed]
    lines = [
        f"{len(statements)} statement(s) in {transactions} transaction(s); "
        f"{len(failing)} write-blocking lock(s) held longer than --max-lock "
        f"({max_lock_ms:.0f} ms)"
        + (f", {len(suppressed)} more suppressed" if suppressed else "")
        + "."
    ]
    if rehearsal.failure:
        step = rehearsal.failed_step
        label = rehearsal.step_labels[step - 1] if step else "a step"
        lines.append(f"The rehearsal stopped: step {step or '?'} ({_squeeze(label)}) failed:")
        lines += [f"  {line}" for line in rehearsal.failure.splitlines()]
        lines.append("The deploy would fail there too; nothing after it was rehearsed.")
    return lines


def _squeeze(label: str) -> str:
    return " ".join(label.split())


def _note_text(note: Note) -> str:
    suppressed = f" [suppressed: {note.suppressed}]" if note.suppressed else ""
    return f"{note.kind}: {note.message}{suppressed}"


# Text ----------------------------------------------------------------------------


def _text(rehearsal: Rehearsal, notes: list[Note], max_lock_ms: float) -> str:
    if not rehearsal.steps:
        return "Nothing to rehearse: both tiers are up to date."
    lines = [_heading(rehearsal) + ":"]
    by_statement: dict[int, list[Note]] = {}
    for note in notes:
        by_statement.setdefault(note.statement, []).append(note)
    shown = 0
    for number, label in enumerate(rehearsal.step_labels, start=1):
        lines.append(f"  {number}. {_squeeze(label)}")
        statements = [(i, t) for i, t in enumerate(rehearsal.statements) if t.where.step == number]
        if not statements:
            ran = rehearsal.failed_step is None or number < rehearsal.failed_step
            lines.append("       (no statements)" if ran else "       (not rehearsed)")
        for index, traced in statements:
            shown += 1
            lines.append(f"     {_where(traced)}: {_statement(traced.text)}")
            locks = "; ".join(_lock_text(lock, traced) for lock in _locks(traced)) or (
                "no new locks" if traced.kept else "no locks"
            )
            facts = (
                f"{locks} | rewrite: {_rewritten(traced)} | lint: {_verdict(rehearsal, traced)}"
            )
            lines.append(f"       {facts} | {traced.duration_ms:.0f} ms")
            if traced.error:
                lines.append(f"       failed: {traced.error}")
            lines += [f"       ! {_note_text(note)}" for note in by_statement.get(index, [])]
    lines += _summary(rehearsal, notes, max_lock_ms)
    return "\n".join(lines)


# Markdown ------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(rehearsal: Rehearsal, notes: list[Note], max_lock_ms: float) -> str:
    if not rehearsal.steps:
        return "### schemaops trace\n\nNothing to rehearse: both tiers are up to date."
    failing = any(note.fails for note in notes) or bool(rehearsal.failure)
    lines = [
        f"### schemaops trace: {'attention needed' if failing else 'no long locks'}",
        "",
        _heading(rehearsal) + ".",
        "",
        "| Step | Line | Statement | Locks | Rewrite | Duration | Lint |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for traced in rehearsal.statements:
        label = _squeeze(rehearsal.step_labels[traced.where.step - 1])
        locks = "<br>".join(_cell(_lock_text(lock, traced)) for lock in _locks(traced)) or "none"
        statement = f"`{_cell(_statement(traced.text, 60))}`"
        if traced.error:
            statement += f" **failed:** {_cell(traced.error)}"
        lines.append(
            f"| {traced.where.step}. {_cell(label)} | {_cell(_where(traced))} | {statement} "
            f"| {locks} | {_cell(_rewritten(traced))} | {traced.duration_ms:.0f} ms "
            f"| {_cell(_verdict(rehearsal, traced))} |"
        )
    if notes:
        lines += ["", "**What no static rule sees:**", ""]
        for note in notes:
            traced = rehearsal.statements[note.statement]
            mark = ":x:" if note.fails else ":warning:"
            lines.append(
                f"- {mark} step {traced.where.step}, {_cell(_where(traced))}: "
                f"{_cell(_note_text(note))}"
            )
    lines += ["", *_summary(rehearsal, notes, max_lock_ms)]
    return "\n".join(lines)


# JSON ----------------------------------------------------------------------------


def as_dict(rehearsal: Rehearsal, notes: list[Note], max_lock_ms: float) -> dict[str, Any]:
    """The report as plain data (``--format json``)."""
    return {
        "database": rehearsal.database,
        "scratch": rehearsal.where,
        "with_data": rehearsal.with_data,
        "max_lock_ms": max_lock_ms,
        "copy_ms": round(rehearsal.copy_ms, 1),
        "rehearsal_ms": round(rehearsal.duration_ms, 1),
        "steps": [
            {"number": number, "step": _squeeze(label)}
            for number, label in enumerate(rehearsal.step_labels, start=1)
        ],
        "statements": [_statement_dict(rehearsal, traced) for traced in rehearsal.statements],
        "notes": [
            {
                "kind": note.kind,
                "statement": note.statement,
                "message": note.message,
                "suppressed": note.suppressed or None,
                "fails": note.fails,
            }
            for note in notes
        ],
        "failure": (
            {"step": rehearsal.failed_step, "message": rehearsal.failure}
            if rehearsal.failure
            else None
        ),
        "exit_code": exit_code(rehearsal, notes),
    }


def _statement_dict(rehearsal: Rehearsal, traced: TracedStatement) -> dict[str, Any]:
    where = traced.where
    return {
        "step": where.step,
        "tier": where.tier,
        "path": display(Path(where.path)),
        "line": where.line,
        "operation": where.operation or None,
        "sql": traced.text,
        "transaction": traced.transaction,
        "in_transaction": traced.in_transaction,
        "duration_ms": round(traced.duration_ms, 2),
        "observed": traced.observed,
        "locks": [
            {
                "relation": lock.relation.name,
                "kind": lock.relation.kind,
                "table": lock.relation.table,
                "mode": lock.mode,
                "existed": lock.relation.existed,
                "blocks_writes": lock.blocks_writes,
                "held_ms": round(lock.held_ms, 2),
            }
            for lock in traced.locks
        ],
        "rewritten": sorted({relation.name for relation in traced.rewritten}),
        "lint": [f.rule for f in judgement.findings_of(rehearsal, traced)],
        "error": traced.error or None,
    }
