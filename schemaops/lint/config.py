"""Which rules run, and for which PostgreSQL version.

The same keys come from three places: ``SCHEMAOPS["LINT"]`` (``manage.py``),
``[tool.schemaops.lint]`` in ``pyproject.toml`` (the console script), and the
command line, which wins over both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from schemaops.exceptions import SchemaOpsError
from schemaops.lint import names

if TYPE_CHECKING:
    from schemaops.lint.findings import Finding

OLDEST_PG_VERSION = 9
NEWEST_PG_VERSION = 99


class LintConfigError(SchemaOpsError):
    """A lint setting names an unknown rule or a bad version (exit 2)."""


def known_rules() -> list[str]:
    """Every name ``select`` and ``ignore`` accept, sorted."""
    return sorted(names.known_names())


class LintConfig(NamedTuple):
    """``select``: only these rules (None: all); ``ignore``: never these;
    ``pg_version``: the target major version (None: the server's, else 14)."""

    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    pg_version: int | None = None

    def enabled(self, rule: str) -> bool:
        return (self.select is None or rule in self.select) and rule not in self.ignore

    def keep(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings of the enabled rules."""
        return [f for f in findings if self.enabled(f.rule)]

    def over(self, base: LintConfig) -> LintConfig:
        """This config's values where set, ``base``'s elsewhere."""
        return LintConfig(
            select=self.select if self.select is not None else base.select,
            ignore=self.ignore | base.ignore,
            pg_version=self.pg_version if self.pg_version is not None else base.pg_version,
        )


def parse_rules(value: object, source: str) -> frozenset[str]:
    """``"a,b"`` or ``["a", "b"]`` as a set of known rule names."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
    elif isinstance(value, list | tuple | set | frozenset):
        names = [str(name).strip() for name in value]
    else:
        raise LintConfigError(
            f"{source}: expected rule names (a list, or a comma-separated string), got {value!r}."
        )
    names = [name for name in names if name]
    unknown = [name for name in names if name not in known_rules()]
    if unknown:
        raise LintConfigError(
            f"{source}: unknown rule {unknown[0]!r}. Known rules: {', '.join(known_rules())} "
            "(each has a page in docs/rules/)."
        )
    return frozenset(names)


def parse_pg_version(value: object, source: str) -> int:
    """A major version such as ``14`` or ``"16"``."""
    try:
        version = int(str(value).strip())
    except ValueError:
        version = 0
    if not OLDEST_PG_VERSION <= version <= NEWEST_PG_VERSION:
        raise LintConfigError(
            f"{source}: {value!r} is not a PostgreSQL major version. Give a number such as 14."
        )
    return version


def from_mapping(mapping: object, source: str) -> LintConfig:
    """Read ``select``, ``ignore`` and ``pg_version`` (or ``pg-version``) from ``mapping``."""
    if not isinstance(mapping, dict):
        raise LintConfigError(f"{source}: expected a table of settings, got {mapping!r}.")
    keys = {str(key).replace("-", "_"): value for key, value in mapping.items()}
    unknown = sorted(set(keys) - {"select", "ignore", "pg_version"})
    if unknown:
        raise LintConfigError(
            f"{source}: unknown key {unknown[0]!r}. The keys are select, ignore and pg_version."
        )
    return LintConfig(
        select=parse_rules(keys["select"], f"{source} select") if "select" in keys else None,
        ignore=parse_rules(keys.get("ignore", []), f"{source} ignore"),
        pg_version=(
            parse_pg_version(keys["pg_version"], f"{source} pg_version")
            if "pg_version" in keys
            else None
        ),
    )


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def from_pyproject(path: Path) -> LintConfig:
    """``[tool.schemaops.lint]`` of ``path``; an empty config when it has none."""
    import tomllib  # only when there is a pyproject.toml to read

    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LintConfigError(f"{path}: cannot read it as TOML: {exc}. Fix or remove it.") from exc
    table = data.get("tool", {}).get("schemaops", {}).get("lint")
    if table is None:
        return LintConfig()
    return from_mapping(table, f"{path} [tool.schemaops.lint]")


def from_settings() -> LintConfig:
    """``SCHEMAOPS["LINT"]`` (Django settings)."""
    from schemaops import conf

    return from_mapping(conf.lint(), "SCHEMAOPS['LINT']")
