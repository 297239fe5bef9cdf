//! The test world: one database with a second policy version (R30), a manual clock, and each
//! case's order released, shipped, scanned and cancelled as the API and the carriers make them.

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::models::Order;
use fulfillment_core::testing::TestDb;
use fulfillment_orders::evaluate::what_if_cancelled;
use fulfillment_orders::release;
use fulfillment_orders::ship::ship;
use fulfillment_policy::cancellation::CancelledBy;
use fulfillment_tracking::tracking;
use fulfillment_workers::reconcile::Step;

use crate::Prediction;
use crate::at;
use crate::cases::Case;
use crate::common::{
    Harness, deref_to_harness, first_scan, order_row, release_input, ship_request,
};

fn their_by(by: CancelledBy) -> tracking::CancelledBy {
    match by {
        CancelledBy::Carrier => tracking::CancelledBy::Carrier,
        CancelledBy::Merchant => tracking::CancelledBy::Merchant,
    }
}

/// The what-if's world: a [`Harness`] (its fields read through it) with four connections, its
/// clock on 2020-01-01 until a group sets it, and a second policy version.
pub struct World(Harness);

deref_to_harness!(World);

impl World {
    pub fn new() -> Self {
        let db = TestDb::new();
        // R30: a second version, so "the version used" is not always 1: from 2024 a 20-day
        // window, a 7-day re-release deadline, and Hong Kong eligible beside Mainland China.
        db.conn()
            .batch_execute(
                "INSERT INTO policies (version, effective_from, fulfillment_window_days,
                     combine_window_days, rerelease_window_days, rerelease_deadline_days,
                     confirmed_removal_from, rerelease_from, rerelease_countries)
                 VALUES (2, '2024-01-01T00:00:00Z', 5, 5, 20, 7, '2020-11-10T00:00:00Z',
                         '2021-03-04T00:00:00Z', '{CN,HK}')",
            )
            .unwrap();
        Self(Harness::new(db, 4, at(2020, 1, 1, 0, 0)))
    }

    pub async fn run<S: Step>(&self) -> i64 {
        self.run_worker::<S>(37, false).await.0.claimed
    }

    pub fn order(&self, conn: &mut PgConnection, id: &str) -> Order {
        order_row(conn, id)
    }

    /// The order's first link: `(cancellation_outcome, confirmed removed)`.
    pub fn link(&self, conn: &mut PgConnection, id: &str) -> (Option<String>, bool) {
        use fulfillment_core::schema::order_trackings as ot;
        let (outcome, removed): (Option<String>, Option<DateTime<Utc>>) = ot::table
            .filter(ot::order_id.eq(id))
            .order(ot::id)
            .select((ot::cancellation_outcome, ot::confirmed_removed_at))
            .first(conn)
            .unwrap();
        (outcome, removed.is_some())
    }

    /// Releases, ships (and scans) the order; the cancellation comes later.
    pub fn seed(&self, conn: &mut PgConnection, case: &Case) {
        let (id, merchant) = (&case.order_id, &case.merchant_id());
        let policy = self.policies.at(conn, case.released).unwrap();
        let input = release_input(id, merchant, case.released, case.aplus, format!("p-{id}"));
        release::release_order(conn, case.released, &policy, &self.actor, &input).unwrap();
        let policy = self.policies.at(conn, case.ship_at()).unwrap();
        let request = ship_request(merchant, id, case.carrier, &case.number());
        ship(conn, case.ship_at(), &policy, &self.actor, &request).unwrap();
        if case.scanned {
            let carrier = case.carrier.to_ascii_lowercase();
            let scan = format!("scan-{id}");
            first_scan(
                conn,
                &self.actor,
                &carrier,
                &case.number(),
                scan,
                case.scanned_at(),
            );
        }
    }

    pub fn cancel(&self, conn: &mut PgConnection, case: &Case) {
        tracking::cancel(
            conn,
            case.received,
            &self.actor,
            &case.carrier.to_ascii_lowercase(),
            &case.number(),
            their_by(case.by),
            case.cancelled,
        )
        .unwrap();
    }

    pub fn what_if(&self, conn: &mut PgConnection, case: &Case, t: DateTime<Utc>) -> Prediction {
        // R30: the version in force at the decision moment, as the decider reads it.
        let policy = self.policies.at(conn, t).unwrap();
        let decision = what_if_cancelled(
            conn,
            t,
            &policy,
            &case.merchant_id(),
            &case.order_id,
            case.cancelled,
            case.by,
            t,
        )
        .unwrap();
        Prediction {
            decision,
            policy_version: policy.version,
        }
    }
}
