from __future__ import annotations

from typing import Any


class DemoOffRunner:
    """Keep the demo app's tables and scripts off the ``runner`` test database."""

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if db == "runner" and app_label == "demo":
            return False
        return None
