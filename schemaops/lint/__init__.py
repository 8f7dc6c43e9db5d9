"""The linter: rules over SQL statements and Django migration operations.

:func:`gate_deploy` is the deploy's lint gate, here so that a run with nothing
to judge imports none of the linter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

DEFAULT_PG_VERSION = 14
"""The PostgreSQL major version linted for when none is given or read."""

if TYPE_CHECKING:
    from schemaops.scripts.script import Script


def gate_deploy(
    using: str,
    scripts: list[Script],
    progress: Callable[[str], None],
    *,
    planned: set[tuple[str, str]] | None = None,
) -> None:
    """Refuse the run if ``scripts`` or the Django migrations it applies (``planned``;
    every pending one when None) have an unsuppressed error-level lint finding
    (:class:`~schemaops.exceptions.LintRefused`); report the warnings through
    ``progress``."""
    if not scripts and planned is not None and not planned:
        return  # nothing to judge, and nothing to import for it
    from schemaops.lint import gate

    for finding in gate.check(using, scripts, planned=planned):
        progress(f"  lint warning: {finding}")
