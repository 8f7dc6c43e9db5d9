"""A finding: one rule's report at a line and column of a file."""

from __future__ import annotations

from typing import Any, NamedTuple


class Finding(NamedTuple):
    """One finding, at a 1-based line and column of a file."""

    rule: str
    severity: str
    path: str
    line: int
    column: int
    message: str
    hint: str
    table: str = ""
    """The table the finding's statement locks, where known (the gate reads its size)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.rule}: {self.message}\n"
            f"    hint: {self.hint}"
        )
