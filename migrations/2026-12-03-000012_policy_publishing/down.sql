DROP INDEX order_events_decisions_by_time;
DROP TABLE policy_audit;
DROP FUNCTION policy_audit_is_append_only();
DROP TRIGGER policies_in_force_immutable ON policies;
DROP FUNCTION policies_in_force_are_immutable();
