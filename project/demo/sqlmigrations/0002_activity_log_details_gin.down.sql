DROP INDEX CONCURRENTLY IF EXISTS activity_logs_details_gin;
