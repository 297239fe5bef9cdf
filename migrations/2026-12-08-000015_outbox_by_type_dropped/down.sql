CREATE INDEX outbox_by_type ON outbox (event_type, id);
