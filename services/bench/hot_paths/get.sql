-- The reads of one GetOrder (services/fulfillment/src/queries.rs), pgbench -S style: the
-- merchant check, the order, its trackings, in one read transaction, on the orders the load
-- generator released (-D run=<run> -D merchant=<id> -D n=<orders>).
\set i random(0, :n - 1)
BEGIN;
SELECT * FROM merchants WHERE id = :merchant;
SELECT * FROM orders WHERE merchant_id = :merchant AND id = 'bench-' || :run || '-' || :i;
SELECT order_trackings.*, trackings.* FROM order_trackings JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE order_trackings.order_id = ANY (ARRAY['bench-' || :run || '-' || :i]) ORDER BY order_trackings.id;
END;
