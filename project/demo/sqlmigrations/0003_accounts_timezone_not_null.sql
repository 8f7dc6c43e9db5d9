-- Purpose: make accounts.timezone NOT NULL without a long ACCESS EXCLUSIVE lock
-- Author: schemaops demo
-- Date: 2026-11-21
-- schemaops: depends=demo.0004_account_timezone atomic=false
-- SET NOT NULL scans the table under an ACCESS EXCLUSIVE lock, unless a
-- validated CHECK (timezone IS NOT NULL) already proves it (PostgreSQL 12+).
-- The CHECK is added NOT VALID (instant), validated under a weaker lock that
-- lets writes through, and dropped once the column itself is NOT NULL. Each
-- step commits on its own (atomic=false): validating in the transaction that
-- added the constraint would keep ADD CONSTRAINT's ACCESS EXCLUSIVE lock for
-- the whole scan (the linter's validate-constraint-in-same-transaction).

-- migrate:up
UPDATE accounts SET timezone = 'UTC' WHERE timezone IS NULL;
ALTER TABLE accounts ADD CONSTRAINT accounts_timezone_not_null CHECK (timezone IS NOT NULL) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_timezone_not_null;
ALTER TABLE accounts ALTER COLUMN timezone SET NOT NULL;
ALTER TABLE accounts DROP CONSTRAINT accounts_timezone_not_null;

-- migrate:down
ALTER TABLE accounts ALTER COLUMN timezone DROP NOT NULL;
