DROP TABLE worker_runs;
DROP INDEX outbox_by_txid;
ALTER TABLE outbox DROP COLUMN txid;
