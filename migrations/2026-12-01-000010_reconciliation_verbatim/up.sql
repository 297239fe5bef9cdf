-- R18: a cancelled tracking always says who cancelled it. The ingest path writes CARRIER for a
-- carrier's own `Cancelled` status and the caller's word for CancelTracking; a row cancelled
-- without one can only have come from the carrier's feed, so that is what it is given here,
-- and from now on the database refuses the ambiguity (workers once read NULL two ways).
UPDATE trackings SET cancelled_by = 'CARRIER' WHERE cancelled_at IS NOT NULL AND cancelled_by IS NULL;
ALTER TABLE trackings
    ADD CONSTRAINT trackings_cancelled_by_known
        CHECK (cancelled_at IS NULL OR cancelled_by IN ('CARRIER', 'MERCHANT'));

-- R16, R18: the decision's A+ part, written as the policy decided it. `re-release-decider`
-- re-releases and, when the decision says so, takes the order out of A+ with the customer's
-- address in the same statement, and sets `aplus_reset_at` for every re-release (the A+ part is
-- then settled). `aplus-reset` only finds re-releases decided without that (`aplus_leaves` NULL).
ALTER TABLE order_trackings ADD COLUMN aplus_leaves BOOLEAN;
