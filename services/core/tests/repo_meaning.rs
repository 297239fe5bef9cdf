//! Issue 23.5: the repository that writes a statement says what its violated constraint means
//! (`repo/meaning.rs`), from real PostgreSQL errors on the real schema: a second current
//! tracking of an order or a second connected carrier account is ALREADY_EXISTS with our reason,
//! a missing order, tracking or merchant is NOT_FOUND naming it, and nothing of PostgreSQL's
//! wording reaches the caller.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::Utc;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::ServiceError;
use fulfillment_core::models::NewOrderTracking;
use fulfillment_core::repo::carrier_accounts::{self, NewCarrierAccount};
use fulfillment_core::repo::trackings;
use fulfillment_core::testing::TestDb;

/// A merchant `m-1` with order `o-1` and tracking 1.
fn seeded(db: &TestDb) -> PgConnection {
    let mut conn = db.conn();
    conn.batch_execute(
        "INSERT INTO merchants (id, name, country) VALUES ('m-1', 'Merchant', 'US');
         INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
                             fulfillment_deadline, ship_name, ship_street_address1, ship_city,
                             ship_zipcode, ship_country, customer_shipping_detail)
         VALUES ('o-1', 'm-1', 'APPROVED', now(), now(), now() + interval '5 days', 'A', 'B',
                 'C', '10001', 'US', '{}');
         INSERT INTO trackings (id, merchant_id, carrier, tracking_number)
         VALUES (1, 'm-1', 'usps', '9400111899223334445566');",
    )
    .unwrap();
    conn
}

fn link(order_id: &str, tracking_id: i64) -> NewOrderTracking<'_> {
    NewOrderTracking {
        order_id,
        tracking_id,
        origin_country: "US",
        channel: "API",
        shipped_at: Utc::now(),
        shipped_late: false,
    }
}

/// Nothing of PostgreSQL's wording (constraint names, "duplicate key", "violates") is answered.
fn assert_our_words(error: &ServiceError) {
    let text = error.to_string();
    for theirs in [
        "duplicate key",
        "violates",
        "_fkey",
        "one_current",
        "one_connected",
    ] {
        assert!(!text.contains(theirs), "{theirs:?} in {text:?}");
    }
}

fn assert_not_found(error: &ServiceError, what: &str, which: &str) {
    assert!(
        matches!(error, ServiceError::NotFound { resource, id } if *resource == what && id == which),
        "expected NOT_FOUND of {what} {which}, got {error:?}"
    );
    assert_our_words(error);
}

#[test]
fn a_second_current_tracking_is_already_exists_and_a_missing_row_is_named() {
    let db = TestDb::new();
    let mut conn = seeded(&db);
    let no_tracking = trackings::link(&mut conn, &link("o-1", 404)).unwrap_err();
    assert_not_found(&no_tracking, "tracking", "404");
    let no_order = trackings::link(&mut conn, &link("o-404", 1)).unwrap_err();
    assert_not_found(&no_order, "order", "o-404");

    trackings::link(&mut conn, &link("o-1", 1)).unwrap();
    let twice = trackings::link(&mut conn, &link("o-1", 1)).unwrap_err();
    assert!(
        matches!(
            &twice,
            ServiceError::AlreadyExists { reason: "ORDER_ALREADY_TRACKED", message }
                if message == "a current tracking of order o-1 already exists"
        ),
        "{twice:?}"
    );
    assert_our_words(&twice);
}

#[test]
fn a_second_connected_account_is_already_exists_and_an_unknown_merchant_not_found() {
    let db = TestDb::new();
    let mut conn = seeded(&db);
    let settings = serde_json::json!({});
    let now = Utc::now();
    let account = |id: &'static str, merchant_id: &'static str| NewCarrierAccount {
        id,
        merchant_id,
        carrier: "inpost",
        kind: "",
        settings: &settings,
        secret_key_id: "k1",
        secret_sealed: b"sealed",
        created_at: now,
        updated_at: now,
    };
    carrier_accounts::insert(&mut conn, &account("ca-1", "m-1")).unwrap();

    let twice = carrier_accounts::insert(&mut conn, &account("ca-2", "m-1")).unwrap_err();
    assert!(
        matches!(
            &twice,
            ServiceError::AlreadyExists { reason: "CARRIER_ACCOUNT_CONNECTED", message }
                if message.contains("inpost") && message.contains("m-1")
        ),
        "{twice:?}"
    );
    assert_our_words(&twice);

    let unknown = carrier_accounts::insert(&mut conn, &account("ca-3", "m-404")).unwrap_err();
    assert_not_found(&unknown, "merchant", "m-404");
}

/// A tracking of a merchant that does not exist (its foreign key) is NOT_FOUND naming the
/// merchant; of one that does, it is created.
#[test]
fn a_tracking_of_an_unknown_merchant_is_not_found() {
    let db = TestDb::new();
    let mut conn = seeded(&db);
    // `seeded` gives tracking 1 its id by hand: move the sequence past it.
    conn.batch_execute("SELECT setval('trackings_id_seq', 1)")
        .unwrap();
    let now = Utc::now();
    let new = |merchant_id| fulfillment_core::models::NewTracking {
        merchant_id,
        carrier: "usps",
        tracking_number: "9400111899223334449999",
        next_poll_at: None,
        created_at: now,
        updated_at: now,
    };
    let unknown = trackings::get_or_create_locked(&mut conn, &new("m-404")).unwrap_err();
    assert_not_found(&unknown, "merchant", "m-404");
    let (tracking, created) = trackings::get_or_create_locked(&mut conn, &new("m-1")).unwrap();
    assert!(created);
    assert_eq!(tracking.merchant_id, "m-1");
}
