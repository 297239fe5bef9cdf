// @generated layout of `diesel print-schema` for migrations/; keep in step with them.

diesel::table! {
    bulk_job_rows (job_id, line) {
        job_id -> Text,
        line -> Int4,
        order_id -> Text,
        carrier -> Text,
        tracking_number -> Text,
        origin_country -> Text,
        outcome -> Text,
        reason -> Text,
        message -> Text,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    bulk_jobs (id) {
        id -> Text,
        merchant_id -> Text,
        file_name -> Text,
        actor -> Text,
        state -> Text,
        total_rows -> Int4,
        processed_rows -> Int4,
        accepted_rows -> Int4,
        rejected_rows -> Int4,
        skipped_rows -> Int4,
        error -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    carrier_account_events (id) {
        id -> Int8,
        account_id -> Text,
        merchant_id -> Text,
        actor -> Text,
        kind -> Text,
        details -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    carrier_accounts (id) {
        id -> Text,
        merchant_id -> Text,
        carrier -> Text,
        kind -> Text,
        settings -> Jsonb,
        secret_key_id -> Text,
        secret_sealed -> Bytea,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        disconnected_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_keys (caller, key) {
        caller -> Text,
        key -> Text,
        rpc -> Text,
        request_hash -> Bytea,
        response -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    intelipost_integration_events (id) {
        id -> Int8,
        merchant_id -> Text,
        actor -> Text,
        kind -> Text,
        details -> Jsonb,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    intelipost_integrations (merchant_id) {
        merchant_id -> Text,
        username -> Text,
        password_hash -> Text,
        connected -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_push_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    intelipost_nfe_mappings (merchant_id, carrier_number) {
        merchant_id -> Text,
        carrier_number -> Text,
        nfe_number -> Text,
        reported_at -> Timestamptz,
    }
}

diesel::table! {
    merchant_notifications (merchant_id, day) {
        merchant_id -> Text,
        day -> Date,
        orders_to_fulfill -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    merchant_violations (id) {
        id -> Int8,
        merchant_id -> Text,
        order_id -> Text,
        kind -> Text,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    merchants (id) {
        id -> Text,
        name -> Text,
        country -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    order_events (id) {
        id -> Int8,
        order_id -> Text,
        merchant_id -> Text,
        actor -> Text,
        kind -> Text,
        state_before -> Nullable<Text>,
        state_after -> Text,
        policy_version -> Nullable<Int4>,
        details -> Jsonb,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    order_trackings (id) {
        id -> Int8,
        order_id -> Text,
        tracking_id -> Int8,
        origin_country -> Text,
        channel -> Text,
        shipped_at -> Timestamptz,
        shipped_late -> Bool,
        is_current -> Bool,
        replaced_at -> Nullable<Timestamptz>,
        confirmed_removed_at -> Nullable<Timestamptz>,
        cancellation_detected_at -> Nullable<Timestamptz>,
        cancellation_decided_at -> Nullable<Timestamptz>,
        cancellation_outcome -> Nullable<Text>,
        aplus_reset_at -> Nullable<Timestamptz>,
        aplus_leaves -> Nullable<Bool>,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        merchant_id -> Text,
        state -> Text,
        initial_released_at -> Timestamptz,
        released_at -> Timestamptz,
        fulfillment_deadline -> Timestamptz,
        is_wish_express -> Bool,
        is_advanced_logistics -> Bool,
        ship_name -> Text,
        ship_street_address1 -> Text,
        ship_street_address2 -> Text,
        ship_city -> Text,
        ship_state -> Text,
        ship_zipcode -> Text,
        ship_country -> Text,
        ship_phone_number -> Text,
        customer_shipping_detail -> Jsonb,
        product_id -> Text,
        product_name -> Text,
        quantity -> Int4,
        tracking_number_cancelled -> Bool,
        tracking_number_cancelled_date -> Nullable<Timestamptz>,
        is_re_released -> Bool,
        order_re_released_date -> Nullable<Timestamptz>,
        flags -> Array<Text>,
        refund_reason -> Nullable<Text>,
        refunded_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

// `outbox.txid` (xid8, the writing transaction) is read by `repo::outbox` in raw SQL only.
diesel::table! {
    outbox (id) {
        id -> Int8,
        event_id -> Text,
        event_type -> Text,
        merchant_id -> Text,
        order_id -> Nullable<Text>,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    policies (version) {
        version -> Int4,
        effective_from -> Timestamptz,
        fulfillment_window_days -> Int4,
        combine_window_days -> Int4,
        rerelease_window_days -> Int4,
        rerelease_deadline_days -> Int4,
        confirmed_removal_from -> Timestamptz,
        rerelease_from -> Timestamptz,
        rerelease_countries -> Array<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    product_disable_candidates (id) {
        id -> Int8,
        merchant_id -> Text,
        product_id -> Text,
        order_id -> Text,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    tracking_events (id) {
        id -> Int8,
        tracking_id -> Int8,
        event_key -> Text,
        source -> Text,
        actor -> Text,
        occurred_at -> Timestamptz,
        status -> Text,
        carrier_status_code -> Text,
        carrier_status_text -> Text,
        location -> Text,
        raw_payload -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    trackings (id) {
        id -> Int8,
        merchant_id -> Text,
        carrier -> Text,
        tracking_number -> Text,
        status -> Text,
        carrier_status_code -> Nullable<Text>,
        carrier_status_text -> Nullable<Text>,
        confirmed_fulfillment_at -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        cancelled_by -> Nullable<Text>,
        last_event_at -> Nullable<Timestamptz>,
        next_poll_at -> Nullable<Timestamptz>,
        poll_failures -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        cancellation_detected_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    worker_runs (id) {
        id -> Int8,
        worker -> Text,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        outcome -> Text,
        dry_run -> Bool,
        counts -> Jsonb,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_events -> policies (policy_version));
diesel::joinable!(order_trackings -> orders (order_id));
diesel::joinable!(order_trackings -> trackings (tracking_id));
diesel::joinable!(orders -> merchants (merchant_id));
diesel::joinable!(trackings -> merchants (merchant_id));

diesel::joinable!(carrier_account_events -> carrier_accounts (account_id));
diesel::joinable!(carrier_accounts -> merchants (merchant_id));
diesel::joinable!(tracking_events -> trackings (tracking_id));
diesel::joinable!(intelipost_integrations -> merchants (merchant_id));
diesel::joinable!(bulk_job_rows -> bulk_jobs (job_id));
diesel::joinable!(bulk_jobs -> merchants (merchant_id));

diesel::allow_tables_to_appear_in_same_query!(
    bulk_job_rows,
    bulk_jobs,
    carrier_account_events,
    carrier_accounts,
    idempotency_keys,
    intelipost_integration_events,
    intelipost_integrations,
    intelipost_nfe_mappings,
    merchant_notifications,
    merchant_violations,
    merchants,
    order_events,
    order_trackings,
    orders,
    outbox,
    policies,
    product_disable_candidates,
    tracking_events,
    trackings,
    worker_runs,
);

diesel::table! {
    shipments (id) {
        id -> Text,
        merchant_id -> Text,
        order_id -> Text,
        account_id -> Text,
        carrier -> Text,
        state -> Text,
        reference -> Text,
        recreate -> Bool,
        request_key -> Nullable<Text>,
        attempts -> Int4,
        lease_until -> Nullable<Timestamptz>,
        carrier_shipment_id -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        label_reference -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(shipments -> carrier_accounts (account_id));
diesel::joinable!(shipments -> merchants (merchant_id));
diesel::joinable!(shipments -> orders (order_id));

diesel::allow_tables_to_appear_in_same_query!(shipments, carrier_accounts);
diesel::allow_tables_to_appear_in_same_query!(shipments, merchants);
diesel::allow_tables_to_appear_in_same_query!(shipments, orders);

// Issue 24: who published which policy version, when, and what it changed.
diesel::table! {
    policy_audit (id) {
        id -> Int8,
        version -> Int4,
        actor -> Text,
        action -> Text,
        changes -> Jsonb,
        note -> Text,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
    }
}

diesel::joinable!(policy_audit -> policies (version));
diesel::allow_tables_to_appear_in_same_query!(policy_audit, policies);
