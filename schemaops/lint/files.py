"""Linting ``.sql`` files and folders, with no Django project needed.

A folder of schemaops scripts (every ``.sql`` named ``NNNN_slug``, each version
once) is linted as the runner would run it: one sequence in version order, each
script's up section in its own transaction unless it cannot be. Any other
``.sql`` file is linted as psql would run it, statement by statement, in name
order within its folder; so is a folder whose files only look like scripts (two
share a version, as psql delta folders often do), with a note saying so. A file
named on the command line is linted whatever its suffix (``.sql.postgres``).
Everything given is one sequence, so a constraint validated by an earlier
script is known to later ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from schemaops.display import display
from schemaops.exceptions import ScriptError
from schemaops.lint.config import LintConfig
from schemaops.lint.context import DEFAULT_PG_VERSION, LintContext
from schemaops.lint.engine import lint_plain, lint_script
from schemaops.lint.findings import Finding
from schemaops.scripts.loader import Location, is_script_name, scripts_in
from schemaops.scripts.script import Script

if TYPE_CHECKING:
    from schemaops.lint.changes import Changed

_DIGITS = re.compile(r"([0-9]+)")


class LintRun:
    """What a lint found: the findings kept, the units read, the bad input met, and
    ``notes``: how an input was read, where that is not what its names suggest."""

    __slots__ = ("errors", "findings", "notes", "units")

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.units = 0
        self.errors: list[str] = []
        self.notes: list[str] = []


def _natural(name: str) -> list[object]:
    """Sort key: ``2_x.sql`` before ``10_x.sql``."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(name)]


def _unreadable(path: Path, exc: OSError) -> str:
    return (
        f"{display(path)}: cannot be read ({exc.strerror or exc}). Check its permissions, "
        "or leave it out."
    )


def _shared_version(names: list[str]) -> list[str]:
    """Two script-like names of ``names`` that share a version (not an up/down pair
    of one script), or ``[]``."""
    by_version: dict[int, str] = {}
    for name in sorted(names, key=_natural):
        script = name.removesuffix(".sql").removesuffix(".up").removesuffix(".down")
        other = by_version.setdefault(int(name.split("_", 1)[0]), script)
        if other != script:
            return [other + ".sql", script + ".sql"]
    return []


def _units(path: Path, notes: list[str]) -> list[Script | Path]:
    """The units of one argument: scripts of a schemaops folder, or plain files.

    Args:
        path: a file or folder given on the command line.
        notes: where to say how a folder was read, when not as its names suggest.

    Raises:
        ScriptError: ``path`` is missing, a folder without ``.sql`` files, or a
            badly formed script folder.
    """
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
        names = [p.name for p in files if p.suffix == ".sql"]
        if not names:
            others = sorted((p.name for p in files if ".sql." in p.name), key=_natural)
            also = (
                f" Files such as {others[0]} are linted when named on the command line."
                if others
                else ""
            )
            raise ScriptError(f"{display(path)}: no .sql file in this folder.{also}")
        if all(is_script_name(name) for name in names):
            shared = _shared_version(names)
            if not shared:
                return list(scripts_in(Location(path.name, path)))
            notes.append(
                f"{display(path)}: {shared[0]} and {shared[1]} share a version, so these are "
                "not schemaops scripts: the folder's .sql files are linted as plain psql "
                "files, in name order. (If they are scripts, give one of them the next free "
                "version.)"
            )
        return [path / name for name in sorted(names, key=_natural)]
    if not path.exists():
        raise ScriptError(f"{display(path)}: no such file or folder. Check the path.")
    if is_script_name(path.name) and not path.name.endswith(".down.sql"):
        folder = path.parent
        version = path.name.split("_", 1)[0]
        return [Script(Location(folder.name, folder), version, path.stem, path, None)]
    return [path]


def lint_paths(paths: Sequence[Path], config: LintConfig, only: Changed | None = None) -> LintRun:
    """Lint ``paths`` (files and folders, in the order given) as one sequence; with
    ``only``, report (and count) only the files it covers, the others being context."""
    run = LintRun()
    context = LintContext(pg_version=config.pg_version or DEFAULT_PG_VERSION)
    for path in paths:
        try:
            units = _units(path, run.notes)
        except ScriptError as exc:
            run.errors.append(str(exc))
            continue
        except OSError as exc:
            run.errors.append(_unreadable(path, exc))
            continue
        for unit in units:
            try:
                if isinstance(unit, Script):
                    found = lint_script(unit, context)
                else:
                    found = lint_plain(unit, context)
            except ScriptError as exc:
                run.errors.append(str(exc))
                continue
            except OSError as exc:
                read = unit.path if isinstance(unit, Script) else unit
                run.errors.append(_unreadable(read, exc))
                continue
            if only is None or only.covers(unit.path if isinstance(unit, Script) else unit):
                run.units += 1
                run.findings.extend(config.keep(found))
    return run
