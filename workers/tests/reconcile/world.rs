//! The test world: a fresh database, a manual clock, the policies, and orders shipped then
//! cancelled the way the API and the carriers make them.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use fulfillment_core::models::{Address, Order};
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock, repo};
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};
use fulfillment_orders::{Actor, PolicyStore, merchants, release};
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::tracking_status::TrackingStatus;
use fulfillment_policy::values::Policy;
use fulfillment_tracking::tracking::{self, CancelledBy, IncomingEvent, Source};
use fulfillment_workers::reconcile::{self, Step, Summary};

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

/// Order `id` of `merchant` shipped (fulfilled) with WishPost `number` through the API.
pub fn ship_request(merchant: &str, id: &str, number: &str) -> ShipRequest {
    ShipRequest {
        merchant_id: merchant.into(),
        order_ids: vec![id.into()],
        tracking: TrackingInput {
            tracking_number: number.to_owned(),
            carrier: "wishpost".into(),
            origin_country: "CN".into(),
            channel: Channel::Api,
        },
        mode: ShipMode::Fulfil,
    }
}

/// The WishPost number order `id` ships with.
pub fn number(id: &str) -> String {
    format!("WP{:0>12}", id.to_uppercase().replace('-', ""))
}

pub struct World {
    pub db: TestDb,
    pub pool: Db,
    pub clock: Arc<ManualClock>,
    pub policies: Arc<PolicyStore>,
    pub actor: Actor,
}

impl World {
    pub fn new(now: DateTime<Utc>) -> Self {
        let db = TestDb::new();
        let pool = Db::new(db.pool(6));
        Self {
            db,
            pool,
            clock: Arc::new(ManualClock::new(now)),
            policies: Arc::new(PolicyStore::new()),
            actor: Actor("test".into()),
        }
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    pub fn merchant(&self, id: &str, country: &str) {
        merchants::upsert_merchant(&mut self.conn(), self.clock.now(), id, id, country).unwrap();
    }

    /// Releases `id` at `released`, ships it with WishPost `number` a day later, scanned two
    /// days later (confirmed), and has it cancelled by `by` at `cancelled`.
    #[allow(clippy::too_many_arguments)]
    pub fn shipped_then_cancelled(
        &self,
        merchant: &str,
        id: &str,
        aplus: bool,
        released: DateTime<Utc>,
        cancelled: DateTime<Utc>,
        by: CancelledBy,
        scanned: bool,
    ) {
        let mut conn = self.conn();
        let policy = self.policies.at(&mut conn, released).unwrap();
        self.release(&mut conn, &policy, merchant, id, aplus, released);
        let number = number(id);
        ship(
            &mut conn,
            released + Duration::days(1),
            &policy,
            &self.actor,
            &ship_request(merchant, id, &number),
        )
        .unwrap();
        if scanned {
            self.scan(&mut conn, id, &number, released + Duration::days(2));
        }
        tracking::cancel(
            &mut conn,
            cancelled,
            &self.actor,
            "wishpost",
            &number,
            by,
            cancelled,
        )
        .unwrap();
    }

    /// Releases `id` at `released`: A+ orders to the warehouse, the others to the customer.
    fn release(
        &self,
        conn: &mut PgConnection,
        policy: &Policy,
        merchant: &str,
        id: &str,
        aplus: bool,
        released: DateTime<Utc>,
    ) {
        let shipping = if aplus {
            address("A+ warehouse", "CN")
        } else {
            address("Alice", "US")
        };
        release::release_order(
            conn,
            released,
            policy,
            &self.actor,
            &ReleaseInput {
                order_id: id.into(),
                merchant_id: merchant.into(),
                released_at: Some(released),
                is_wish_express: false,
                is_advanced_logistics: aplus,
                shipping_detail: Some(shipping),
                customer_shipping_detail: Some(address("Alice", "US")),
                product_id: format!("p-{id}"),
                product_name: "Mug".into(),
                quantity: 1,
            },
        )
        .unwrap();
    }

    /// WishPost's first scan of `number` at `scanned` (the confirmed fulfilment).
    fn scan(&self, conn: &mut PgConnection, id: &str, number: &str, scanned: DateTime<Utc>) {
        tracking::ingest(
            conn,
            scanned,
            &self.actor,
            Source::Push,
            &[IncomingEvent {
                carrier: "wishpost".into(),
                tracking_number: number.to_owned(),
                event_id: Some(format!("scan-{id}")),
                occurred_at: scanned,
                status: TrackingStatus::InTransit,
                carrier_status_code: "20".into(),
                carrier_status_text: "In transit".into(),
                location: "Shenzhen".into(),
                raw_payload: "{}".into(),
            }],
            None,
            None,
        )
        .unwrap();
    }

    /// A ship attempt with a new WishPost number, as FulfillOrder makes it.
    pub fn try_ship(&self, merchant: &str, id: &str, attempt: usize) -> bool {
        let mut conn = self.conn();
        let now = self.clock.now();
        let policy = self.policies.at(&mut conn, now).unwrap();
        let number = number(&format!("{id}n{attempt}"));
        ship(
            &mut conn,
            now,
            &policy,
            &self.actor,
            &ship_request(merchant, id, &number),
        )
        .is_ok()
    }

    pub async fn run<S: Step>(&self) -> Summary {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 7, false)
            .await
            .unwrap()
            .0
    }

    pub async fn dry_run<S: Step>(&self) -> (Summary, Vec<String>) {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 7, true)
            .await
            .unwrap()
    }

    pub fn order(&self, id: &str) -> Order {
        use fulfillment_core::schema::orders;
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(&mut self.conn())
            .unwrap()
    }

    pub fn events(&self, id: &str) -> Vec<String> {
        repo::audit::events_for_order(&mut self.conn(), id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    pub fn outbox(&self, event_type: &str) -> Vec<String> {
        use fulfillment_core::schema::outbox;
        outbox::table
            .filter(outbox::event_type.eq(event_type))
            .order(outbox::id)
            .select(outbox::event_id)
            .load(&mut self.conn())
            .unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)
            .get_result(&mut self.conn())
            .unwrap()
    }
}
