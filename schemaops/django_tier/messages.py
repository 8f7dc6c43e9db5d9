"""What a person reads about a Django migration's run: its label, and the error of
one that could not take its locks within its budget."""

from __future__ import annotations

from django.db.migrations.migration import Migration

from schemaops.locking.discipline import GaveUp


def label(migration: Migration) -> str:
    """``app_label.name``: the migration in progress reports and errors."""
    return f"{migration.app_label}.{migration.name}"


def gave_up(migration: Migration, error: GaveUp) -> str:
    """The message of a migration that could not take its lock within its budget."""
    if error.queued:
        advice = (
            "or raise its retries (schemaops = {'retries': N} on the Migration: the wait "
            "lasts as long as the retries' backoff in all)."
        )
    else:
        advice = (
            "Run it when the table is quieter, or raise its budget: schemaops = "
            "{'lock_timeout': ..., 'retries': ...} on the Migration (or "
            "SCHEMAOPS['LOCK_TIMEOUT'] / ['RETRIES'])."
        )
    statement = f" Statement: {_first_line(error.text)}." if error.text else ""
    if error.queued:
        return f"{label(migration)}: {error.reason}, {advice}{statement} {_kept(migration)}"
    return f"{label(migration)}: {error.reason}.{statement} {_kept(migration)} {advice}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 120 else line[:117] + "..."


def _kept(migration: Migration) -> str:
    if migration.atomic:
        return "Nothing of it was kept (its transaction rolled back)."
    return (
        "The statements before this one stayed applied (non-atomic migration); it is not "
        "recorded as applied, so the next run starts it again: make its statements safe to "
        "repeat (IF NOT EXISTS)."
    )
