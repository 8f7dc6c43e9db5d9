"""schemaops: safe, visible PostgreSQL schema changes for Django.

The public API is what ``__all__`` names; everything else is reachable but not
promised.
"""

from __future__ import annotations

from schemaops.exceptions import DatabaseNotSupported, SchemaOpsError

__version__ = "0.1.0"

__all__ = [
    "DatabaseNotSupported",
    "SchemaOpsError",
    "__version__",
]
