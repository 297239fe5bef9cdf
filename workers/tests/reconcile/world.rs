//! The test world: a fresh database, a manual clock, the policies, and orders shipped then
//! cancelled the way the API and the carriers make them.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use fulfillment_core::models::Order;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, repo};
use fulfillment_orders::ship::ship;
use fulfillment_orders::{merchants, release};
use fulfillment_tracking::tracking::CancelledBy;
use fulfillment_workers::reconcile::{Step, Summary};

pub use crate::common::at;
use crate::common::{
    Harness, cancel_wishpost, deref_to_harness, first_scan, order_row, release_input, ship_request,
};

/// The WishPost number order `id` ships with.
pub fn number(id: &str) -> String {
    format!("WP{:0>12}", id.to_uppercase().replace('-', ""))
}

/// How an order is shipped then cancelled by [`World::shipped_then_cancelled`]: released at
/// `released`, not A+ and scanned unless said otherwise, cancelled by `by` at `cancelled`.
#[derive(Debug, Clone, Copy)]
pub struct Cancellation {
    pub released: DateTime<Utc>,
    pub cancelled: DateTime<Utc>,
    pub by: CancelledBy,
    pub aplus: bool,
    pub scanned: bool,
}

impl Cancellation {
    pub fn new(released: DateTime<Utc>, cancelled: DateTime<Utc>, by: CancelledBy) -> Self {
        Self {
            released,
            cancelled,
            by,
            aplus: false,
            scanned: true,
        }
    }

    /// An A+ order, released to the warehouse.
    pub fn aplus(self) -> Self {
        Self {
            aplus: true,
            ..self
        }
    }

    /// Never scanned: no confirmed date to remove (R15).
    pub fn unscanned(self) -> Self {
        Self {
            scanned: false,
            ..self
        }
    }
}

/// The reconcile tests' world: a [`Harness`] (its fields read through it) with six connections.
pub struct World(Harness);

deref_to_harness!(World);

impl World {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Harness::new(TestDb::new(), 6, now))
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    pub fn merchant(&self, id: &str, country: &str) {
        merchants::upsert_merchant(&mut self.conn(), self.clock.now(), id, id, country).unwrap();
    }

    /// Releases `id` as `how` says, ships it with WishPost `number` a day later, scanned two
    /// days later (confirmed) unless unscanned, and has it cancelled by `how.by` at
    /// `how.cancelled`.
    pub fn shipped_then_cancelled(&self, merchant: &str, id: &str, how: Cancellation) {
        let mut conn = self.conn();
        let released = how.released;
        let policy = self.policies.at(&mut conn, released).unwrap();
        let input = release_input(id, merchant, released, how.aplus, format!("p-{id}"));
        release::release_order(&mut conn, released, &policy, &self.actor, &input).unwrap();
        let number = number(id);
        let request = ship_request(merchant, id, "wishpost", &number);
        let shipped = released + Duration::days(1);
        ship(&mut conn, shipped, &policy, &self.actor, &request).unwrap();
        if how.scanned {
            let (scan, scanned) = (format!("scan-{id}"), released + Duration::days(2));
            first_scan(&mut conn, &self.actor, "wishpost", &number, scan, scanned);
        }
        cancel_wishpost(&mut conn, &self.actor, &number, how.by, how.cancelled);
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
            &ship_request(merchant, id, "wishpost", &number),
        )
        .is_ok()
    }

    pub async fn run<S: Step>(&self) -> Summary {
        self.run_worker::<S>(7, false).await.0
    }

    pub async fn dry_run<S: Step>(&self) -> (Summary, Vec<String>) {
        self.run_worker::<S>(7, true).await
    }

    pub fn order(&self, id: &str) -> Order {
        order_row(&mut self.conn(), id)
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
