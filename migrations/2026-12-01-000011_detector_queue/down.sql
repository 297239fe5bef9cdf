ALTER TABLE trackings DROP COLUMN cancellation_detected_at;
