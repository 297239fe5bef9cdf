ALTER TABLE order_trackings DROP COLUMN aplus_leaves;
ALTER TABLE trackings DROP CONSTRAINT trackings_cancelled_by_known;
