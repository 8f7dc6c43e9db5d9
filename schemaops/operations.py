"""Django migration operations that reach into the SQL tier."""

from __future__ import annotations

from typing import Any

from django.db import router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from schemaops import recorder
from schemaops.exceptions import ScriptError, UnsafeStateError
from schemaops.scripts import state as script_state
from schemaops.scripts.executor import ScriptExecutor


class RunScript(Operation):
    """Apply SQL script ``location:version`` here, if it is still pending.

    The script is recorded in the registry like any other run, so
    ``manage.py migrate`` will not run it again. An atomic script runs in the
    migration's transaction; a non-atomic one (``CREATE INDEX CONCURRENTLY``...)
    needs ``atomic = False`` on the Migration. The migration must depend on
    ``("schemaops", "0001_initial")`` so that the registry exists. Reversing
    the migration runs the script's down section if the script is applied.
    """

    reversible = True
    reduces_to_sql = False

    def __init__(self, location: str, version: str, hints: dict[str, Any] | None = None) -> None:
        self.location = location
        self.version = version
        self.hints = hints or {}

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self.hints:
            kwargs["hints"] = self.hints
        return (self.__class__.__name__, [self.location, self.version], kwargs)

    def describe(self) -> str:
        return f"Run SQL script {self.location}:{self.version} if pending"

    @property
    def migration_name_fragment(self) -> str:
        return f"run_script_{self.location}_{self.version}"

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _status(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor
    ) -> tuple[str, script_state.ScriptStatus] | None:
        """Return the database alias and the script's status, or None where the
        routers keep this app's migrations off the database."""
        using = schema_editor.connection.alias
        if not router.allow_migrate(using, app_label, **self.hints):
            return None
        if not recorder.registry_installed(using):
            raise ScriptError(
                f"RunScript({self.location!r}, {self.version!r}) needs the schemaops registry: "
                "add ('schemaops', '0001_initial') to this migration's dependencies."
            )
        found = script_state.load(using)
        return using, script_state.find(found, f"{self.location}:{self.version}")

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        found = self._status(app_label, schema_editor)
        if found is None:
            return
        using, status = found
        if status.is_applied:
            return
        if status.state not in script_state.RUNNABLE_STATES or status.script is None:
            raise UnsafeStateError(
                f"RunScript: {status.id} is {status.state.value}; resolve it first "
                "(manage.py schemaops validate says how)."
            )
        ScriptExecutor(using).apply(status.script)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        found = self._status(app_label, schema_editor)
        if found is None:
            return
        using, status = found
        if status.is_applied and status.script is not None:
            ScriptExecutor(using).revert(status.script)
