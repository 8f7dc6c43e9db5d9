"""Third-party-style operations: not subclasses of Django's, known to the linter
only through the SQL they render."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation


class AddSearchIndex(Operation):
    """Renders plain SQL from the model's table: no database needed."""

    reversible = True

    def __init__(self, model_name: str, column: str) -> None:
        self.model_name = model_name
        self.column = column

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        table = schema_editor.quote_name(model._meta.db_table)
        schema_editor.execute(f"CREATE INDEX search_idx ON {table} ({self.column})")

    def database_backwards(self, *args: Any) -> None:
        pass

    def describe(self) -> str:
        return "Add a search index"


class IntrospectingOperation(Operation):
    """Asks the database what is there before it renders anything."""

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        schema_editor.execute("DROP INDEX search_idx")

    def database_backwards(self, *args: Any) -> None:
        pass
