"""The budgets a unit of work (a script, a Django migration) takes its locks with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from schemaops import conf
from schemaops.exceptions import PolicyError
from schemaops.locking.timeouts import DURATION

KEYS = ("lock_timeout", "statement_timeout", "retries", "concurrent_lock_timeout")


@dataclasses.dataclass(frozen=True)
class LockPolicy:
    """``lock_timeout`` and ``statement_timeout`` for every statement, how often a lock
    timeout is retried, and the ``lock_timeout`` of ``CONCURRENTLY`` statements."""

    lock_timeout: str
    statement_timeout: str
    retries: int
    concurrent_lock_timeout: str

    @classmethod
    def from_settings(
        cls, overrides: Mapping[str, object] | None = None, where: str = ""
    ) -> LockPolicy:
        """The ``SCHEMAOPS`` settings, with ``overrides`` (validated) on top.

        Raises:
            PolicyError: an unknown key or a bad value; the message names ``where``.
        """
        values: dict[str, object] = {
            "lock_timeout": conf.lock_timeout(),
            "statement_timeout": conf.statement_timeout(),
            "retries": conf.retries(),
            "concurrent_lock_timeout": conf.concurrent_lock_timeout(),
        }
        for key, value in (overrides or {}).items():
            if key not in KEYS:
                raise PolicyError(
                    f"{where}: unknown schemaops policy key {key!r}. Known: {', '.join(KEYS)}."
                )
            if key == "retries":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise PolicyError(
                        f"{where}: schemaops retries={value!r} must be a whole number >= 0."
                    )
            elif not isinstance(value, str) or not DURATION.match(value.strip()):
                raise PolicyError(
                    f"{where}: schemaops {key}={value!r} is not a duration; write e.g. '500ms', "
                    "'2s' or '10min' ('0' for no limit)."
                )
            values[key] = value
        return cls(
            str(values["lock_timeout"]),
            str(values["statement_timeout"]),
            int(values["retries"]),  # type: ignore[call-overload]
            str(values["concurrent_lock_timeout"]),
        )
