-- Purpose: one account per email address, whatever its case (Ada@ and ada@ are one person)
-- Author: schemaops demo
-- Date: 2026-11-21
-- A unique index built CONCURRENTLY: if existing rows break it, the build fails,
-- schemaops drops the INVALID index it leaves and records the failure; fix the
-- data, then `manage.py schemaops repair demo:0004 --as pending` and migrate again.

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_lower_unique
    ON accounts (lower(email));
