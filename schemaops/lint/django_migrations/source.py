"""Where a migration's operations are in its file: lines for findings, read with
``ast`` only for migrations that have findings."""

from __future__ import annotations

import ast
import sys
from functools import cached_property
from pathlib import Path

from django.db.migrations.migration import Migration

from schemaops import statements
from schemaops.display import display


def migration_path(migration: Migration) -> Path:
    """The file ``migration`` was loaded from (its findings' path)."""
    module = sys.modules.get(type(migration).__module__)
    file = getattr(module, "__file__", None)
    path = Path(file) if file else Path(type(migration).__module__.replace(".", "/"))
    return path.with_suffix(".py") if path.suffix == ".pyc" else path


class MigrationSource:
    """Lines of a migration's operations, read from its file on demand."""

    def __init__(self, migration: Migration) -> None:
        self.path = migration_path(migration)
        self.display = display(self.path)

    @cached_property
    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    @cached_property
    def _positions(self) -> tuple[dict[tuple[int, ...], ast.AST], int, int]:
        """Operation nodes by index path, the class's line, the suppression's line."""
        nodes: dict[tuple[int, ...], ast.AST] = {}
        class_line = ignore_line = 1
        try:
            tree = ast.parse(self.text)
        except (SyntaxError, ValueError):
            return nodes, class_line, ignore_line
        for top in tree.body:
            if not (isinstance(top, ast.ClassDef) and top.name == "Migration"):
                continue
            class_line = ignore_line = top.lineno
            for statement in top.body:
                if not isinstance(statement, ast.Assign | ast.AnnAssign):
                    continue
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if "schemaops_lint_ignore" in names:
                    ignore_line = statement.lineno
                if "operations" in names and isinstance(statement.value, ast.List | ast.Tuple):
                    self._collect(statement.value, (), nodes)
        return nodes, class_line, ignore_line

    def _collect(
        self,
        sequence: ast.List | ast.Tuple,
        prefix: tuple[int, ...],
        nodes: dict[tuple[int, ...], ast.AST],
    ) -> None:
        for index, element in enumerate(sequence.elts):
            nodes[(*prefix, index)] = element
            if isinstance(element, ast.Call):
                for keyword in element.keywords:
                    if keyword.arg == "database_operations" and isinstance(
                        keyword.value, ast.List | ast.Tuple
                    ):
                        self._collect(keyword.value, (*prefix, index), nodes)

    def operation(self, path: tuple[int, ...]) -> tuple[int, int]:
        """(line, column) of the operation at ``path``, else of the nearest enclosing one."""
        nodes, class_line, _ = self._positions
        while path:
            node = nodes.get(path)
            if node is not None:
                return getattr(node, "lineno", class_line), getattr(node, "col_offset", 0) + 1
            path = path[:-1]
        return class_line, 1

    def sql(self, path: tuple[int, ...], statement: statements.Statement) -> tuple[int, int]:
        """Where ``statement`` of a RunSQL at ``path`` is in the file, when it is there
        verbatim; else the operation's position."""
        line, column = self.operation(path)
        lines = self.text.split("\n")
        start = sum(len(text) + 1 for text in lines[: line - 1])
        found = self.text.find(statement.text, start)
        if found < 0:
            return line, column
        line = self.text.count("\n", 0, found) + 1
        return line, found - (self.text.rfind("\n", 0, found) + 1) + 1

    @property
    def ignore_line(self) -> int:
        return self._positions[2]


# The walk ---------------------------------------------------------------------
