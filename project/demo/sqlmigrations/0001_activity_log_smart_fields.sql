-- Purpose: document the activity log's "smart fields" and backfill expires_at
-- Author: schemaops demo
-- Date: 2026-11-21
-- Depends: the Django migration that added the fields.
-- schemaops: depends=demo.0003_activitylog_smart_fields

-- migrate:up
COMMENT ON COLUMN activity_logs.severity IS 'debug, info, warning, error or critical';
COMMENT ON COLUMN activity_logs.expires_at IS 'When the entry may be purged; set by retention policy';
COMMENT ON COLUMN activity_logs.is_anomaly IS 'Flagged by the anomaly detector';

-- Existing rows get the default retention of 90 days.
UPDATE activity_logs SET expires_at = created_at + interval '90 days' WHERE expires_at IS NULL;

-- migrate:down
COMMENT ON COLUMN activity_logs.severity IS NULL;
COMMENT ON COLUMN activity_logs.expires_at IS NULL;
COMMENT ON COLUMN activity_logs.is_anomaly IS NULL;
