"""The exceptions schemaops raises; all subclass :class:`SchemaOpsError`."""

from __future__ import annotations


class SchemaOpsError(Exception):
    """Base class of every error schemaops raises on purpose."""


class DatabaseNotSupported(SchemaOpsError):
    """A command was pointed at a database that is not PostgreSQL."""
