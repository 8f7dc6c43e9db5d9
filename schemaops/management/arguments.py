"""Argument types the commands share: a bad value is a usage error naming it."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from django.core.management.base import CommandError
from django.db import connections


def whole_number(minimum: int) -> Callable[[str], int]:
    """An ``int`` option that must be at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def seconds(text: str) -> float:
    """A duration in seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not zero or more seconds")
    return value


def known_database(alias: str) -> None:
    """Refuse a ``--database`` that is not in ``DATABASES``, naming the choices."""
    if alias not in connections:
        choices = ", ".join(repr(name) for name in connections)
        raise CommandError(f"Unknown database {alias!r}. Choose one of: {choices}.")


def duration(text: str) -> str:
    """A duration as the settings write one (``500ms``, ``2s``, ``1min``; a bare number
    is milliseconds, as PostgreSQL reads ``lock_timeout``)."""
    from schemaops.locking.timeouts import DURATION

    if DURATION.match(text.strip()) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (500ms, 2s, 1min)")
    return text.strip()
