-- R30, issue 24: policy versions are published through PolicyService/PublishPolicyVersion for a
-- future instant. A version in force (or past) is history that decisions cite by number: the
-- database refuses to change or remove it, whoever asks. A version not yet in force may still
-- be corrected by a migration; the API never changes one, it only adds.
CREATE FUNCTION policies_in_force_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.effective_from <= now() THEN
        RAISE EXCEPTION 'policy version % is in force since %: it is never changed',
            OLD.version, OLD.effective_from
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.effective_from <= now() THEN
        RAISE EXCEPTION 'policy version % cannot be moved into the past', OLD.version
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER policies_in_force_immutable
    BEFORE UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION policies_in_force_are_immutable();

-- Who published which version, when, and what it changed against the version before it
-- (`changes`: [{"field", "from", "to"}]). Append-only, like `order_events`.
CREATE TABLE policy_audit (
    id           BIGSERIAL PRIMARY KEY,
    version      INTEGER NOT NULL REFERENCES policies (version),
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('published')),
    changes      JSONB NOT NULL,
    note         TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    occurred_at  TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (version, action)
);

CREATE FUNCTION policy_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'policy_audit is append-only';
END;
$$;

CREATE TRIGGER policy_audit_append_only
    BEFORE UPDATE OR DELETE ON policy_audit
    FOR EACH ROW EXECUTE FUNCTION policy_audit_is_append_only();

-- SimulatePolicy walks the decisions of a time window by kind; without this it would read every
-- order event of the platform.
CREATE INDEX order_events_decisions_by_time ON order_events (occurred_at, id)
    WHERE kind IN ('shipped', 'refunded', 're_released', 'cancellation_flag_only',
                   'cancellation_not_applicable', 'tracking_cancelled_not_applicable');
