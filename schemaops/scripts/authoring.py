"""Writing the next script of a location: its version, its file name(s), its header.

The version follows the location's newest one: the next number of a sequence,
zero-padded to the same width, or a UTC timestamp when the location uses
timestamps. The layout follows it too: golang-migrate's ``.up.sql`` and
``.down.sql`` pair, or one file with dbmate's sections.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import re
from pathlib import Path

from django.apps import apps
from django.utils import timezone

from schemaops.display import display
from schemaops.exceptions import ScriptError, ScriptNotFound
from schemaops.scripts import loader

_SLUG = re.compile(r"[^a-z0-9]+")
_TIMESTAMP_DIGITS = 12  # versions this long or longer are timestamps (YYYYMMDDHHMMSS)


@dataclasses.dataclass(frozen=True)
class NewScript:
    """The files of a new script (path -> text) and how to refer to it."""

    location: loader.Location
    version: str
    files: dict[Path, str]

    @property
    def id(self) -> str:
        return f"{self.location.name}:{self.version}"


def location_for(app: str | None, location: str | None) -> loader.Location:
    """Where ``new`` writes: an app's ``sqlmigrations/`` folder (made if need be), a
    known location, or the only one there is.

    Raises:
        ScriptNotFound: no such app or location, or several and none named.
    """
    found = {loc.name: loc for loc in loader.locations()}
    if app is not None:
        try:
            app_config = apps.get_app_config(app)
        except LookupError:
            raise ScriptNotFound(f"No installed app with label {app!r}.") from None
        return found.get(app, loader.Location(app, Path(app_config.path) / loader.SCRIPTS_FOLDER))
    if location is not None:
        if location not in found:
            known = ", ".join(sorted(found)) or "none"
            raise ScriptNotFound(
                f"No location {location!r} (known: {known}). Use --app LABEL to start an "
                "app's sqlmigrations/ folder, or add the folder to SCHEMAOPS['SCRIPT_DIRS']."
            )
        return found[location]
    if len(found) == 1:
        return next(iter(found.values()))
    known = ", ".join(sorted(found)) or "none yet"
    raise ScriptNotFound(f"Say where: --app LABEL or --location NAME (locations: {known}).")


def next_script(
    target: loader.Location,
    name: str,
    author: str | None = None,
    now: datetime.datetime | None = None,
) -> NewScript:
    """The next script of ``target``, doing what ``name`` says (not written yet).

    Raises:
        ScriptError: ``name`` has nothing to make a file name of, or a file exists.
    """
    existing = loader.scripts_in(target) if target.path.is_dir() else []
    slug = _SLUG.sub("_", name.lower()).strip("_")
    if not slug:
        raise ScriptError(f"Name {name!r} has no letters or digits to make a file name of.")
    now = now or timezone.now()
    newest = existing[-1] if existing else None
    if newest is not None and len(newest.version) >= _TIMESTAMP_DIGITS:
        version = now.strftime("%Y%m%d%H%M%S")
        if int(version) <= newest.number:
            version = str(newest.number + 1)
    else:
        width = len(newest.version) if newest else 4
        version = str((newest.number if newest else 0) + 1).zfill(width)
    try:
        who = author or getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    header = (
        f"-- Purpose: {name}\n"
        f"-- Author: {who}\n"
        f"-- Date: {now:%Y-%m-%d}\n"
        "-- Depends: none. To run after a Django migration or another script, add e.g.\n"
        "--   -- schemaops: depends=app_label.0002_migration_name,location:0001\n"
        "-- Directives (optional): atomic=false lock_timeout=1s statement_timeout=0 "
        "retries=10\n"
    )
    if newest is not None and newest.down_path is not None:
        files = {
            target.path / f"{version}_{slug}.up.sql": header + "\n",
            target.path / f"{version}_{slug}.down.sql": f"-- Undoes: {name}\n\n",
        }
    else:
        files = {
            target.path / f"{version}_{slug}.sql": header
            + "\n-- migrate:up\n\n\n-- migrate:down\n\n"
        }
    for path in files:
        if path.exists():
            raise ScriptError(f"{display(path)} already exists.")
    return NewScript(target, version, files)


def write(script: NewScript) -> None:
    """Write ``script``'s files (and its folder, if new).

    Raises:
        ScriptError: the folder cannot be written.
    """
    path = next(iter(script.files))
    try:
        script.location.path.mkdir(parents=True, exist_ok=True)
        for path, text in script.files.items():
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScriptError(
            f"Cannot write {display(path)}: {exc.strerror or exc}. Check the "
            "folder's permissions, or choose another location (--location)."
        ) from exc
