"""What a person reads: paths shown relative to the working directory."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # the typing module is not imported for it (mypy reads it as true)
if TYPE_CHECKING:
    from pathlib import Path


def display(path: Path) -> str:
    """Return ``path`` relative to the working directory when it is below it."""
    # Strings, not Path.relative_to(Path.cwd()): a lint shows every file it reads.
    text = str(path)
    cwd = os.getcwd()
    if text == cwd:
        return "."
    prefix = cwd.rstrip(os.sep) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text


def for_display(message: str) -> str:
    """Return ``message`` with paths below the working directory made relative."""
    prefix = os.getcwd().rstrip(os.sep) + os.sep
    return message.replace(prefix, "")
