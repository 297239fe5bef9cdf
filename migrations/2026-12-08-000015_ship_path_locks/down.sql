CREATE INDEX outbox_by_type ON outbox (event_type, id);
DROP TRIGGER policies_kept ON policies;
DROP TRIGGER merchants_kept ON merchants;
DROP FUNCTION merchants_and_policies_kept();
DROP TRIGGER order_events_policy_version_fkey ON order_events;
DROP FUNCTION order_events_policy_exists();
DROP TRIGGER trackings_merchant_id_fkey ON trackings;
DROP FUNCTION trackings_merchant_exists();
ALTER TABLE order_events ADD CONSTRAINT order_events_policy_version_fkey
    FOREIGN KEY (policy_version) REFERENCES policies (version);
ALTER TABLE trackings ADD CONSTRAINT trackings_merchant_id_fkey
    FOREIGN KEY (merchant_id) REFERENCES merchants (id);
