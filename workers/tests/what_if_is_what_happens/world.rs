//! The test world: one database with a second policy version (R30), a manual clock, and each
//! case's order released, shipped, scanned and cancelled as the API and the carriers make them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::models::{Address, Order};
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock};
use fulfillment_orders::evaluate::what_if_cancelled;
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};
use fulfillment_orders::{Actor, PolicyStore, release};
use fulfillment_policy::cancellation::CancelledBy;
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::tracking_status::TrackingStatus;
use fulfillment_tracking::tracking::{self, IncomingEvent, Source};
use fulfillment_workers::reconcile::{self, Step};

use crate::Prediction;
use crate::at;
use crate::cases::Case;

fn address(name: &str, country: &str) -> Address {
    Address {
        name: name.into(),
        street_address1: format!("{name} street 1"),
        city: "City".into(),
        zipcode: "00-001".into(),
        country: country.into(),
        ..Address::default()
    }
}

fn their_by(by: CancelledBy) -> tracking::CancelledBy {
    match by {
        CancelledBy::Carrier => tracking::CancelledBy::Carrier,
        CancelledBy::Merchant => tracking::CancelledBy::Merchant,
    }
}

pub struct World {
    pub db: TestDb,
    pool: Db,
    pub clock: Arc<ManualClock>,
    policies: Arc<PolicyStore>,
    actor: Actor,
}

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
        let pool = Db::new(db.pool(4));
        Self {
            db,
            pool,
            clock: Arc::new(ManualClock::new(at(2020, 1, 1, 0, 0))),
            policies: Arc::new(PolicyStore::new()),
            actor: Actor("test".into()),
        }
    }

    pub async fn run<S: Step>(&self) -> i64 {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 37, false)
            .await
            .unwrap()
            .0
            .claimed
    }

    pub fn order(&self, conn: &mut PgConnection, id: &str) -> Order {
        use fulfillment_core::schema::orders;
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(conn)
            .unwrap()
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
        let policy = self.policies.at(conn, case.released).unwrap();
        release::release_order(
            conn,
            case.released,
            &policy,
            &self.actor,
            &ReleaseInput {
                order_id: case.order_id.clone(),
                merchant_id: case.merchant_id(),
                released_at: Some(case.released),
                is_wish_express: false,
                is_advanced_logistics: case.aplus,
                shipping_detail: Some(if case.aplus {
                    address("A+ warehouse", "CN")
                } else {
                    address("Alice", "US")
                }),
                customer_shipping_detail: Some(address("Alice", "US")),
                product_id: format!("p-{}", case.order_id),
                product_name: "Mug".into(),
                quantity: 1,
            },
        )
        .unwrap();
        let policy = self.policies.at(conn, case.ship_at()).unwrap();
        ship(
            conn,
            case.ship_at(),
            &policy,
            &self.actor,
            &ShipRequest {
                merchant_id: case.merchant_id(),
                order_ids: vec![case.order_id.clone()],
                tracking: TrackingInput {
                    tracking_number: case.number(),
                    carrier: case.carrier.into(),
                    origin_country: "CN".into(),
                    channel: Channel::Api,
                },
                mode: ShipMode::Fulfil,
            },
        )
        .unwrap();
        if case.scanned {
            tracking::ingest(
                conn,
                case.scanned_at(),
                &self.actor,
                Source::Push,
                &[IncomingEvent {
                    carrier: case.carrier.to_ascii_lowercase(),
                    tracking_number: case.number(),
                    event_id: Some(format!("scan-{}", case.order_id)),
                    occurred_at: case.scanned_at(),
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
