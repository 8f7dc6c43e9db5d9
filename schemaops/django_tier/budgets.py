"""A Django migration's budgets (its lock policy): the settings, with its ``schemaops``
class attribute on top, read when it starts::

    class Migration(migrations.Migration):
        schemaops = {"lock_timeout": "3s", "retries": 20, "statement_timeout": "0"}
"""

from __future__ import annotations

from django.db.migrations.migration import Migration

from schemaops.django_tier import messages
from schemaops.exceptions import PolicyError
from schemaops.locking.policy import LockPolicy


def policy_for(migration: Migration) -> LockPolicy:
    """The lock policy of ``migration``: the settings, with its ``schemaops`` attribute
    on top.

    Raises:
        PolicyError: the attribute names an unknown key or a bad value.
    """
    overrides = getattr(migration, "schemaops", None)
    where = messages.label(migration)
    if overrides is not None and not isinstance(overrides, dict):
        raise PolicyError(f"{where}: schemaops = {overrides!r} must be a dict.")
    return LockPolicy.from_settings(overrides, where)
