//! What the workers' test binaries share: times, addresses, orders released, shipped and scanned
//! the way the API and the carriers make them, the workers' runs, and AfterShip's answers.
//!
//! Included by `mod common;` (or `#[path = "../common/mod.rs"]` from a directory test binary).
// Each test binary uses only part of it.
#![allow(dead_code, unused_macros, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use fulfillment_core::models::{Address, Order};
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock};
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{ShipMode, ShipRequest};
use fulfillment_orders::{Actor, PolicyStore};
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::tracking_status::{CarrierEvent, TrackingStatus};
use fulfillment_tracking::tracking::{self, CancelledBy, IncomingEvent, Source};
use fulfillment_workers::reconcile::{self, Step, Summary};
use serde_json::{Value, json};

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

pub fn address(name: &str, country: &str) -> Address {
    Address {
        name: name.into(),
        street_address1: format!("{name} street 1"),
        city: "City".into(),
        zipcode: "00-001".into(),
        country: country.into(),
        ..Address::default()
    }
}

/// Where an A+ order ships while it is in the program (R18).
pub fn warehouse() -> Address {
    address("A+ warehouse", "CN")
}

/// The customer's own address, every order's `customer_shipping_detail`.
pub fn customer() -> Address {
    address("Alice", "US")
}

/// Order `id` of `merchant` released at `released`, one `product` mug: an A+ order ships to the
/// warehouse, any other to the customer.
pub fn release_input(
    id: &str,
    merchant: &str,
    released: DateTime<Utc>,
    aplus: bool,
    product: String,
) -> ReleaseInput {
    ReleaseInput {
        order_id: id.into(),
        merchant_id: merchant.into(),
        released_at: Some(released),
        is_wish_express: false,
        is_advanced_logistics: aplus,
        shipping_detail: Some(if aplus { warehouse() } else { customer() }),
        customer_shipping_detail: Some(customer()),
        product_id: product,
        product_name: "Mug".into(),
        quantity: 1,
    }
}

/// Order `id` of `merchant` shipped (fulfilled) from CN with `carrier`'s `number` through the API.
pub fn ship_request(merchant: &str, id: &str, carrier: &str, number: &str) -> ShipRequest {
    ShipRequest {
        merchant_id: merchant.into(),
        order_ids: vec![id.into()],
        tracking: TrackingInput {
            tracking_number: number.to_owned(),
            carrier: carrier.into(),
            origin_country: "CN".into(),
            channel: Channel::Api,
        },
        mode: ShipMode::Fulfil,
    }
}

/// `carrier`'s first scan of `number` at `scanned`, pushed as event `event_id`: the confirmed
/// fulfilment R15 removes.
pub fn first_scan(
    conn: &mut PgConnection,
    actor: &Actor,
    carrier: &str,
    number: &str,
    event_id: String,
    scanned: DateTime<Utc>,
) {
    tracking::ingest(
        conn,
        scanned,
        actor,
        Source::Push,
        &[IncomingEvent::new(
            carrier,
            number,
            CarrierEvent {
                event_id: Some(event_id),
                occurred_at: scanned,
                status: TrackingStatus::InTransit,
                carrier_status_code: "20".into(),
                carrier_status_text: "In transit".into(),
                location: "Shenzhen".into(),
                raw_payload: "{}".into(),
            },
        )],
        None,
        None,
    )
    .unwrap();
}

/// `by` cancels WishPost `number` at `cancelled`, received that same moment.
pub fn cancel_wishpost(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    by: CancelledBy,
    cancelled: DateTime<Utc>,
) {
    tracking::cancel(conn, cancelled, actor, "wishpost", number, by, cancelled).unwrap();
}

/// Order `id`'s row as it stands on `conn`.
pub fn order_row(conn: &mut PgConnection, id: &str) -> Order {
    use fulfillment_core::schema::orders;
    orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .unwrap()
}

/// What every workers test drives: a fresh database and a pool on it, a manual clock, the
/// policies as the migrations seed them (R30), and the `test` actor for seeding.
pub struct Harness {
    pub db: TestDb,
    pub pool: Db,
    pub clock: Arc<ManualClock>,
    pub policies: Arc<PolicyStore>,
    pub actor: Actor,
}

impl Harness {
    /// `db` with a pool of `connections`, the clock at `now`.
    pub fn new(db: TestDb, connections: u32, now: DateTime<Utc>) -> Self {
        let pool = Db::new(db.pool(connections));
        Self {
            db,
            pool,
            clock: Arc::new(ManualClock::new(now)),
            policies: Arc::new(PolicyStore::new()),
            actor: Actor("test".into()),
        }
    }

    /// One run of worker `S` in batches of `batch` (a dry run with `dry`) at the clock's time:
    /// its summary and, for a dry run, what it would have done.
    pub async fn run_worker<S: Step>(&self, batch: i64, dry: bool) -> (Summary, Vec<String>) {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, batch, dry)
            .await
            .unwrap()
    }
}

/// Lets a test world `struct World(Harness)` read the harness's fields and methods as its own.
macro_rules! deref_to_harness {
    ($world:ty) => {
        impl std::ops::Deref for $world {
            type Target = $crate::common::Harness;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}
#[allow(unused_imports)] // as unused as the macro where no world wraps a harness
pub(crate) use deref_to_harness;

/// AfterShip's documented answer for USPS `number` with checkpoints `(tag, time)`; its tag is
/// the last checkpoint's (`Pending` without one).
pub fn aftership(number: &str, checkpoints: &[(&str, DateTime<Utc>)]) -> Value {
    let checkpoints: Vec<Value> = checkpoints
        .iter()
        .map(|(tag, at)| {
            json!({
                "slug": "usps",
                "checkpoint_time": at.to_rfc3339(),
                "tag": tag,
                "subtag": format!("{tag}_001"),
                "message": format!("{tag} at the facility"),
                "location": "MEMPHIS, TN 38118",
                "city": "MEMPHIS",
                "country_iso3": "USA",
                "raw_tag": "XX"
            })
        })
        .collect();
    let tag = checkpoints.last().map_or("Pending".to_owned(), |c| {
        c["tag"].as_str().unwrap().to_owned()
    });
    json!({
        "meta": { "code": 200 },
        "data": { "tracking": {
            "tracking_number": number, "slug": "usps", "tag": tag, "checkpoints": checkpoints
        } }
    })
}

/// Every order of `items` (all `n!` of them), for interleaving tests.
pub fn permutations<T: Copy>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}
