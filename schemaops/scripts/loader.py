"""Finding the SQL tier's scripts: their locations, and the script files in each.

A location is a folder of scripts: an installed app's ``sqlmigrations/`` (named
after the app's label) or a folder named in ``SCHEMAOPS["SCRIPT_DIRS"]``. Each
``NNNN_slug.sql`` file in it, or ``NNNN_slug.up.sql`` + ``NNNN_slug.down.sql``
pair, is one :class:`~schemaops.scripts.script.Script`.

Discovery is cheap: file names, and checksums on demand; what a script holds is
read (:mod:`~schemaops.scripts.script`) only when something needs it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from schemaops.display import display
from schemaops.exceptions import ScriptError
from schemaops.scripts import script

SCRIPTS_FOLDER = "sqlmigrations"

_FILENAME = re.compile(
    r"^(?P<version>[0-9]+)_(?P<slug>[A-Za-z0-9][A-Za-z0-9_-]*)(?:\.(?P<direction>up|down))?\.sql$"
)
# One file of a script: (version as written, slug, path).
_ScriptFile = tuple[str, str, Path]


class Location(NamedTuple):
    """A folder of scripts and the name scripts are addressed by (``name:version``)."""

    name: str
    path: Path


def is_script_name(filename: str) -> bool:
    """Whether ``filename`` is ``NNNN_slug.sql`` (or ``.up.sql`` / ``.down.sql``)."""
    return _FILENAME.match(filename) is not None


def locations(using: str | None = None) -> list[Location]:
    """Return every script location: apps' ``sqlmigrations/`` folders, then ``SCRIPT_DIRS``.

    With ``using``, an app's scripts are left out where the database routers
    keep the app's migrations off that database, as Django does for migrations.

    Raises:
        ScriptError: a configured folder does not exist, or its name is taken.
    """
    # Imported here: the console script reads scripts with no Django project, and
    # importing django.db costs it a third of its start-up.
    from django.apps import apps
    from django.db import router

    from schemaops import conf

    found: dict[str, Location] = {}
    for app_config in apps.get_app_configs():
        folder = Path(app_config.path) / SCRIPTS_FOLDER
        if using is not None and not router.allow_migrate(using, app_config.label):
            continue
        if folder.is_dir():
            found[app_config.label] = Location(app_config.label, folder)
    for name, folder in conf.script_dirs().items():
        if name in found:
            raise ScriptError(
                f"SCHEMAOPS['SCRIPT_DIRS'] names location {name!r}, which is already the app "
                f"{name!r}'s sqlmigrations/ folder. Give the folder another name."
            )
        if not folder.is_dir():
            raise ScriptError(
                f"SCHEMAOPS['SCRIPT_DIRS'][{name!r}] = {str(folder)!r} is not a folder. Create "
                "it or fix the path."
            )
        found[name] = Location(name, folder)
    return list(found.values())


def scripts_in(location: Location) -> list[script.Script]:
    """Return the scripts of one location, sorted by version.

    Raises:
        ScriptError: a ``.sql`` file's name is not ``NNNN_slug``, two scripts share a
            version, or a ``.down.sql`` has no ``.up.sql``.
    """
    scripts = []
    for files in _files_by_version(location).values():
        if None in files:
            version, slug, path = files[None]
            scripts.append(script.Script(location, version, slug, path, None))
        elif "up" in files:
            version, slug, path = files["up"]
            down = files.get("down")
            scripts.append(script.Script(location, version, slug, path, down[2] if down else None))
        else:
            version, slug, path = files["down"]
            raise ScriptError(
                f"{path}: a .down.sql without {version}_{slug}.up.sql. Add the up file, or "
                "delete this one."
            )
    return sorted(scripts, key=lambda s: s.number)


def _files_by_version(location: Location) -> dict[int, dict[str | None, _ScriptFile]]:
    """Return the script files of ``location`` by version, then by direction (``None``
    for a single file), each as (version as written, slug, path).

    Raises:
        ScriptError: the folder cannot be listed, a ``.sql`` file's name is not
            ``NNNN_slug``, or two files share a version without being an up/down pair.
    """
    by_number: dict[int, dict[str | None, _ScriptFile]] = {}
    # Names sorted as strings: sorting Path objects costs ten times more, and
    # this runs over every script on every status.
    try:
        filenames = sorted(os.listdir(location.path))
    except OSError as exc:
        raise ScriptError(
            f"{display(location.path)}: cannot list the folder of location {location.name!r} "
            f"({exc.strerror or exc}). Check its permissions."
        ) from None
    for filename in filenames:
        if filename.startswith(".") or not filename.endswith(".sql"):
            continue
        path = location.path / filename
        match = _FILENAME.match(filename)
        if not match:
            raise ScriptError(
                f"{path}: the name is not NNNN_slug.sql (or NNNN_slug.up.sql / .down.sql). "
                "Rename it, e.g. 0001_add_index.sql."
            )
        version, slug, direction = match.group("version", "slug", "direction")
        files = by_number.setdefault(int(version), {})
        # The one allowed sharing: an up file and a down file of the same name.
        clash = next(
            (
                other
                for kind, other in files.items()
                if kind is None
                or direction is None
                or kind == direction
                or other[:2] != (version, slug)
            ),
            None,
        )
        if clash is not None:
            raise ScriptError(
                f"{path}: version {version} is also used by {clash[2].name} in "
                f"{location.path}. Give one of them the next free version."
            )
        files[direction] = (version, slug, path)
    return by_number


def load_scripts(using: str | None = None) -> list[script.Script]:
    """Return every script of every location (for database ``using``), sorted by
    (location, version).

    Every location is read before anything is reported, so one run names every
    badly named or duplicated file at once.
    """
    errors: list[str] = []
    scripts: list[script.Script] = []
    for location in locations(using):
        try:
            scripts.extend(scripts_in(location))
        except ScriptError as exc:
            errors.append(str(exc))
    if errors:
        raise ScriptError("\n".join(errors))
    return sorted(scripts, key=lambda s: s.key)
