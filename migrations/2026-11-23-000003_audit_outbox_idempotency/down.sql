DROP TABLE idempotency_keys;
DROP TABLE outbox;
DROP TRIGGER order_events_append_only ON order_events;
DROP FUNCTION order_events_are_append_only();
DROP TABLE order_events;
