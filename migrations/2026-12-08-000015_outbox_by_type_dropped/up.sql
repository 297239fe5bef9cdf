-- Issue 21: one index less for every outbox row FulfillOrder writes. No query reads the outbox
-- by type any more: ListOutboxEvents and the consumers' backlogs in /metrics follow
-- outbox_by_txid (txid, id) and filter the types along it.
DROP INDEX outbox_by_type;
