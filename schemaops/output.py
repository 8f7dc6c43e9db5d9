"""What a run tells a person as it goes: the ``Progress`` callback library code
reports through (as Django's executor reports through its ``progress_callback``),
and writing to a pipe whose reader may stop early (``| head``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str], None]
"""Receives one line for a person to read; commands write it to their stdout."""


@contextmanager
def quiet_when_the_reader_stops() -> Iterator[None]:
    """Turn a closed pipe on stdout into a quiet exit with status 1 (as Python's
    documentation advises): no traceback, and no second error when Python
    flushes stdout at exit."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None
