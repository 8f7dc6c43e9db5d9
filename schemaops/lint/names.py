"""Every rule's name, defined once: a misspelt name fails at import or in mypy.

A module of its own, outside ``lint/rules/``, so that reading a setting's rule
names does not import the rules.

The order is the order rules run and are listed in. Names follow squawk's where
the pattern is the same, so findings compare one-to-one; rules squawk lacks get
names in the same style.
"""

from __future__ import annotations

import enum


class RuleName(enum.StrEnum):
    """The name of a rule, as settings, suppressions and reports spell it."""

    REQUIRE_CONCURRENT_INDEX_CREATION = "require-concurrent-index-creation"
    REQUIRE_CONCURRENT_INDEX_DELETION = "require-concurrent-index-deletion"
    REQUIRE_CONCURRENT_REINDEX = "require-concurrent-reindex"
    REQUIRE_CONCURRENT_PARTITION_DETACH = "require-concurrent-partition-detach"
    REQUIRE_CONCURRENT_REFRESH = "require-concurrent-refresh"
    BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION = "ban-concurrent-index-creation-in-transaction"
    ADDING_REQUIRED_FIELD = "adding-required-field"
    ADDING_NOT_NULLABLE_FIELD = "adding-not-nullable-field"
    ADDING_FIELD_WITH_DEFAULT = "adding-field-with-default"
    CONSTRAINT_MISSING_NOT_VALID = "constraint-missing-not-valid"
    ADDING_FOREIGN_KEY_CONSTRAINT = "adding-foreign-key-constraint"
    DISALLOWED_UNIQUE_CONSTRAINT = "disallowed-unique-constraint"
    ADDING_EXCLUSION_CONSTRAINT = "adding-exclusion-constraint"
    ADDING_SERIAL_PRIMARY_KEY_FIELD = "adding-serial-primary-key-field"
    CHANGING_COLUMN_TYPE = "changing-column-type"
    BAN_TABLE_REWRITE = "ban-table-rewrite"
    PREFER_REPACK = "prefer-repack"
    RENAMING_COLUMN = "renaming-column"
    RENAMING_TABLE = "renaming-table"
    BAN_DROP_COLUMN = "ban-drop-column"
    BAN_DROP_TABLE = "ban-drop-table"
    BAN_DROP_DATABASE = "ban-drop-database"
    BAN_TRUNCATE_TABLE = "ban-truncate-table"
    VALIDATE_CONSTRAINT_IN_SAME_TRANSACTION = "validate-constraint-in-same-transaction"
    BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT = "ban-alter-domain-with-add-constraint"
    BAN_CREATE_DOMAIN_WITH_CONSTRAINT = "ban-create-domain-with-constraint"
    UNBATCHED_BACKFILL = "unbatched-backfill"
    PREFER_BIGINT_OVER_INT = "prefer-bigint-over-int"
    PREFER_IDENTITY = "prefer-identity"
    PREFER_TIMESTAMP_TZ = "prefer-timestamp-tz"
    PREFER_TEXT_FIELD = "prefer-text-field"
    BAN_CHAR_FIELD = "ban-char-field"
    # Findings about the suppressions themselves, not about a statement
    # (schemaops/lint/suppressions.py).
    SUPPRESSION_MISSING_REASON = "suppression-missing-reason"
    UNUSED_SUPPRESSION = "unused-suppression"
    # A file that could not be linted (schemaops/lint/report.py): a finding in the
    # machine formats, so CI shows it where it is; never suppressed or ignored.
    INVALID_FILE = "invalid-file"


TRACE_LOCK_HELD = "trace-lock-held"
"""Not a lint rule: what ``schemaops trace`` reports when a rehearsal held a lock that
blocks writes longer than ``--max-lock`` (schemaops/trace/judgement.py). Suppressed
the same way, with a reason."""
TRACE_ONLY = frozenset({TRACE_LOCK_HELD})
"""Names only ``schemaops trace`` reports: the linter never calls a suppression of
them unused (it cannot know whether a rehearsal needs it)."""


def known_names() -> set[str]:
    """Every rule name a setting or a suppression may use: the rules and the findings
    about suppressions and input."""
    return {name.value for name in RuleName}
