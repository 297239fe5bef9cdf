-- The reads of one BatchGetOrders of 100 ids (services/fulfillment/src/queries.rs), pgbench -S
-- style: the merchant check, the 100 orders, their trackings, in one read transaction
-- (-D run=<run> -D merchant=<id> -D n=<orders>).
\set i random(0, :n - 101)
BEGIN;
SELECT * FROM merchants WHERE id = :merchant;
SELECT * FROM orders WHERE id = ANY (ARRAY(SELECT 'bench-' || :run || '-' || g FROM generate_series(:i, :i + 99) g));
SELECT order_trackings.*, trackings.* FROM order_trackings JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE order_trackings.order_id = ANY (ARRAY(SELECT 'bench-' || :run || '-' || g FROM generate_series(:i, :i + 99) g)) ORDER BY order_trackings.id;
END;
