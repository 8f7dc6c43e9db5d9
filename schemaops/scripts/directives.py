"""``-- schemaops:`` directives: the comment lines of a script that are not SQL.

In the header, before the first statement, a script's settings (``atomic``,
``depends``, the timeouts, ``retries``: :class:`Directives`); anywhere, lint
rules silenced with the reason why (:class:`Suppression`); on the line above
one statement, ``batch`` (whose options :mod:`schemaops.scripts.batches` reads).
A directive is shell-quoted ``key=value`` pairs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from schemaops.exceptions import ScriptError

_DIRECTIVE = re.compile(r"^\s*--\s*schemaops:(?P<body>.*)$")
_BATCH_DIRECTIVE = re.compile(r"^\s*--\s*schemaops:\s*batch(?:\s+(?P<options>.*))?$")
_DJANGO_DEPENDENCY = re.compile(r"^(?P<app>[A-Za-z_][A-Za-z0-9_]*)\.(?P<migration>[A-Za-z0-9_]+)$")
_SCRIPT_DEPENDENCY = re.compile(r"^(?P<location>[A-Za-z0-9_.-]+):(?P<version>[0-9]+)$")

KNOWN_DIRECTIVES = (
    "atomic",
    "depends",
    "lock_timeout",
    "concurrent_lock_timeout",
    "statement_timeout",
    "retries",
    "ignore",
    "reason",
)


class Directives(NamedTuple):
    """A script's header settings; ``None`` means "use the SCHEMAOPS default"."""

    atomic: bool | None = None
    depends: tuple[str, ...] = ()
    lock_timeout: str | None = None
    statement_timeout: str | None = None
    retries: int | None = None
    concurrent_lock_timeout: str | None = None

    def policy_overrides(self) -> dict[str, object]:
        """The lock budgets the header sets, as :class:`~schemaops.locking.policy.LockPolicy`
        keys (the others come from the settings)."""
        values = {
            "lock_timeout": self.lock_timeout,
            "statement_timeout": self.statement_timeout,
            "retries": self.retries,
            "concurrent_lock_timeout": self.concurrent_lock_timeout,
        }
        return {key: value for key, value in values.items() if value is not None}


class Suppression(NamedTuple):
    """``-- schemaops: ignore=rule,... reason="..."``: lint rules silenced, and why.

    ``line`` is the directive's own line; one in the header covers the whole
    file, one elsewhere covers the statement that follows it.
    """

    rules: tuple[str, ...]
    reason: str
    line: int
    in_header: bool


def key_values(
    path: Path,
    line: int,
    body: str,
    known: tuple[str, ...] = KNOWN_DIRECTIVES,
    what: str = "directive",
) -> dict[str, str]:
    """Read the ``key=value`` pairs (shell-quoted) of a directive's ``body`` at ``line``.

    Raises:
        ScriptError: a token is not ``key=value``, or its key is not in ``known``.
    """
    try:
        import shlex  # a directive with arguments: rare, and not on every start

        tokens = shlex.split(body, comments=False, posix=True)
    except ValueError as exc:
        raise ScriptError(f"{path}:{line}: cannot read the directive ({exc}).") from None
    values: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ScriptError(
                f"{path}:{line}: {token!r} is not key=value. Write directives as "
                '-- schemaops: key=value key2="two words".'
            )
        if key not in known:
            also = " (and batch, on the line above a statement)" if what == "directive" else ""
            raise ScriptError(
                f"{path}:{line}: unknown {what} {key!r}. Known: {', '.join(known)}{also}."
            )
        values[key] = value
    return values


def _boolean(path: Path, line: int, key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ScriptError(f"{path}:{line}: {key}={value!r} must be true or false.")


def read_header(path: Path, found: list[tuple[int, dict[str, str]]]) -> Directives:
    """Return the settings of the header directives ``found`` (line, key=value pairs).

    Raises:
        ScriptError: a value is not what its key takes.
    """
    atomic: bool | None = None
    depends: list[str] = []
    lock_timeout = statement_timeout = concurrent_lock_timeout = None
    retries: int | None = None
    for line, values in found:
        for key, value in values.items():
            if key == "atomic":
                atomic = _boolean(path, line, key, value)
            elif key == "depends":
                for dependency in filter(None, (d.strip() for d in value.split(","))):
                    if not (
                        _DJANGO_DEPENDENCY.match(dependency)
                        or _SCRIPT_DEPENDENCY.match(dependency)
                    ):
                        raise ScriptError(
                            f"{path}:{line}: depends={dependency!r} is neither "
                            "app_label.migration_name nor location:version."
                        )
                    depends.append(dependency)
            elif key in ("lock_timeout", "statement_timeout", "concurrent_lock_timeout"):
                from schemaops.locking.timeouts import DURATION  # only a script that sets one

                if not DURATION.match(value):
                    raise ScriptError(
                        f"{path}:{line}: {key}={value!r} is not a duration; write e.g. 500ms, "
                        "5s or 2min."
                    )
                if key == "lock_timeout":
                    lock_timeout = value
                elif key == "concurrent_lock_timeout":
                    concurrent_lock_timeout = value
                else:
                    statement_timeout = value
            elif key == "retries":
                if not value.isdigit():
                    raise ScriptError(f"{path}:{line}: retries={value!r} must be a whole number.")
                retries = int(value)
    return Directives(
        atomic, tuple(depends), lock_timeout, statement_timeout, retries, concurrent_lock_timeout
    )


def scan(
    path: Path, lines: list[str], first_statement_line: int
) -> tuple[list[tuple[int, dict[str, str]]], list[Suppression]]:
    """Return the header's settings directives (line, key=value pairs) and every
    suppression of ``lines``; batch directives are left to :func:`batch_options`.

    Raises:
        ScriptError: a directive is malformed, or a setting stands below the header.
    """
    header: list[tuple[int, dict[str, str]]] = []
    suppressions: list[Suppression] = []
    for number, line in enumerate(lines, start=1):
        match = _DIRECTIVE.match(line)
        if not match or _BATCH_DIRECTIVE.match(line):
            continue
        values = key_values(path, number, match.group("body"))
        in_header = number < first_statement_line
        if "ignore" in values or "reason" in values:
            rules = tuple(filter(None, (r.strip() for r in values.get("ignore", "").split(","))))
            suppressions.append(Suppression(rules, values.get("reason", ""), number, in_header))
        settings_keys = sorted(set(values) - {"ignore", "reason"})
        if settings_keys and not in_header:
            raise ScriptError(
                f"{path}:{number}: directive {settings_keys[0]!r} must be in the header, before "
                "the first statement. Only ignore=... reason=... may stand above a statement."
            )
        if settings_keys:
            header.append((number, {k: values[k] for k in settings_keys}))
    return header, suppressions


def batch_options(line: str) -> str | None:
    """Return the options of a ``-- schemaops: batch ...`` line (``""`` for none), or
    ``None`` if ``line`` is not a batch directive."""
    match = _BATCH_DIRECTIVE.match(line)
    if match is None:
        return None
    return match.group("options") or ""
