-- Purpose: search activity details by key and value (details @> '{"ip": "..."}')
-- Author: schemaops demo
-- Date: 2026-11-21
-- A GIN index built CONCURRENTLY, so writers to activity_logs never wait for it.
-- schemaops runs this file outside a transaction on its own (it sees CONCURRENTLY).

CREATE INDEX CONCURRENTLY IF NOT EXISTS activity_logs_details_gin
    ON activity_logs USING gin (details jsonb_path_ops);
