//! Issue 18, "no A+ window" (R18): a CN A+ order shipped with WishPost (confirmed) whose
//! tracking the partner carrier cancelled must never be accepted for shipping to the A+
//! warehouse. The workers (`cancellation-detector`, `re-release-decider`, `aplus-reset`) and
//! FulfillOrder's ship path run in every order, each interleaving on a fresh database:
//!
//! - all 24 orders of the three workers and one ship attempt;
//! - all 6 orders of the three workers with a ship attempt before, between and after them.
//!
//! Every ship attempt first offers the cancelled number, then a new one. An accepted attempt is
//! checked in its own transaction (the row it locked): the order is out of A+ and ships to the
//! customer. A refused one is refused as FulfillOrder refuses it: FAILED_PRECONDITION
//! `ORDER_ALREADY_SHIPPED` while the order is still SHIPPED with the cancelled tracking awaiting
//! its decision (or shipped again), `TRACKING_NUMBER_CANCELLED` for the old number once
//! re-released. The merchant-cancelled A+ order is run the same way: it stays A+ and ships to the
//! warehouse, as R18 says.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::prelude::*;
use fulfillment_core::models::{Address, Order};
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock, ServiceError};
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};
use fulfillment_orders::{Actor, PolicyStore, merchants, release};
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::tracking_status::TrackingStatus;
use fulfillment_tracking::tracking::{self, CancelledBy, IncomingEvent, Source};
use fulfillment_workers::reconcile::{
    self, AplusReset, CancellationDetector, ReReleaseDecider, Step,
};

const MERCHANT: &str = "m-cn";

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

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

fn warehouse() -> Address {
    address("A+ warehouse", "CN")
}

fn customer() -> Address {
    address("Alice", "US")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Detect,
    Decide,
    Reset,
    Ship,
}

fn permutations(items: &[Move]) -> Vec<Vec<Move>> {
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

/// The interleavings: 24 with one ship attempt, 6 with an attempt at every position.
fn interleavings() -> Vec<Vec<Move>> {
    let mut all = permutations(&[Move::Detect, Move::Decide, Move::Reset, Move::Ship]);
    assert_eq!(all.len(), 24);
    for workers in permutations(&[Move::Detect, Move::Decide, Move::Reset]) {
        let mut moves = vec![Move::Ship];
        for step in workers {
            moves.push(step);
            moves.push(Move::Ship);
        }
        all.push(moves);
    }
    assert_eq!(all.len(), 30);
    all
}

/// What a ship attempt answered.
#[derive(Debug)]
enum Answer {
    /// Accepted; the order row as the accepting transaction locked and wrote it.
    Accepted(Box<Order>),
    /// Refused with FAILED_PRECONDITION and this reason.
    Refused(&'static str),
}

impl Answer {
    fn refusal(&self) -> Option<&'static str> {
        match self {
            Self::Accepted(_) => None,
            Self::Refused(reason) => Some(reason),
        }
    }
}

struct World {
    db: TestDb,
    pool: Db,
    clock: Arc<ManualClock>,
    policies: Arc<PolicyStore>,
    actor: Actor,
}

impl World {
    fn new(now: DateTime<Utc>) -> Self {
        let db = TestDb::new();
        let pool = Db::new(db.pool(2));
        merchants::upsert_merchant(&mut db.conn(), now, MERCHANT, MERCHANT, "CN").unwrap();
        Self {
            db,
            pool,
            clock: Arc::new(ManualClock::new(now)),
            policies: Arc::new(PolicyStore::new()),
            actor: Actor("test".into()),
        }
    }

    /// A CN merchant's A+ order, released, shipped with WishPost `number`, scanned
    /// (confirmed), and its tracking cancelled by `by` two days before `now`.
    fn seed(&self, order: &str, number: &str, by: CancelledBy, now: DateTime<Utc>) {
        let w = self;
        let released = now - Duration::days(9);
        let mut conn = w.db.conn();
        let policy = w.policies.at(&mut conn, released).unwrap();
        release::release_order(
            &mut conn,
            released,
            &policy,
            &w.actor,
            &ReleaseInput {
                order_id: order.into(),
                merchant_id: MERCHANT.into(),
                released_at: Some(released),
                is_wish_express: false,
                is_advanced_logistics: true,
                shipping_detail: Some(warehouse()),
                customer_shipping_detail: Some(customer()),
                product_id: "p-1".into(),
                product_name: "Mug".into(),
                quantity: 1,
            },
        )
        .unwrap();
        ship(
            &mut conn,
            released + Duration::days(1),
            &policy,
            &w.actor,
            &ShipRequest {
                merchant_id: MERCHANT.into(),
                order_ids: vec![order.into()],
                tracking: TrackingInput {
                    tracking_number: number.into(),
                    carrier: "wishpost".into(),
                    origin_country: "CN".into(),
                    channel: Channel::Api,
                },
                mode: ShipMode::Fulfil,
            },
        )
        .unwrap();
        let scanned = released + Duration::days(2);
        tracking::ingest(
            &mut conn,
            scanned,
            &w.actor,
            Source::Push,
            &[IncomingEvent {
                carrier: "wishpost".into(),
                tracking_number: number.into(),
                event_id: Some("scan".into()),
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
        let cancelled = now - Duration::days(2);
        tracking::cancel(
            &mut conn, cancelled, &w.actor, "wishpost", number, by, cancelled,
        )
        .unwrap();
    }

    async fn run<S: Step>(&self) -> i64 {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 10, false)
            .await
            .unwrap()
            .0
            .claimed
    }

    fn order(conn: &mut PgConnection, id: &str) -> Order {
        use fulfillment_core::schema::orders;
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(conn)
            .unwrap()
    }

    /// FulfillOrder's path: the policy in force now, `ship` in one transaction; on success the
    /// order row is read in that same transaction (it holds the row's lock), so what is checked
    /// is the order exactly as the attempt was accepted.
    fn try_ship(&self, order: &str, number: &str) -> Answer {
        let mut conn = self.db.conn();
        let now = self.clock.now();
        let policy = self.policies.at(&mut conn, now).unwrap();
        let result = conn.transaction::<_, ServiceError, _>(|conn| {
            let outcome = ship(
                conn,
                now,
                &policy,
                &self.actor,
                &ShipRequest {
                    merchant_id: MERCHANT.into(),
                    order_ids: vec![order.into()],
                    tracking: TrackingInput {
                        tracking_number: number.into(),
                        carrier: "wishpost".into(),
                        origin_country: "CN".into(),
                        channel: Channel::Api,
                    },
                    mode: ShipMode::Fulfil,
                },
            )?;
            let row = Self::order(conn, order);
            // The answer FulfillOrder returns carries the same order.
            assert_eq!(outcome.orders.len(), 1);
            assert_eq!(
                outcome.orders[0].order.shipping_detail(),
                row.shipping_detail()
            );
            assert_eq!(
                outcome.orders[0].order.is_advanced_logistics,
                row.is_advanced_logistics
            );
            Ok(row)
        });
        match result {
            Ok(row) => Answer::Accepted(Box::new(row)),
            Err(ServiceError::FailedPrecondition { reason, .. }) => Answer::Refused(reason),
            Err(other) => panic!("ship attempt with {number}: unexpected {other:?}"),
        }
    }
}

/// Where the order stands, from its row (before a ship attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// SHIPPED with the cancelled tracking, its decision pending (detected or not).
    AwaitingDecision,
    /// Re-released: APPROVED again, waiting for a new tracking.
    ReReleased,
    /// Shipped again with a new tracking.
    ShippedAgain,
}

/// One interleaving's order: its id, the number cancelled by `by`, and whether it leaves A+.
struct Play {
    k: usize,
    order: String,
    cancelled_number: String,
    leaves: bool,
}

/// Runs `moves` (interleaving `k`) on a fresh order cancelled by `by`, alone in every queue;
/// returns how many ship attempts were accepted, and leaves the queues empty again.
async fn interleave(w: &World, k: usize, moves: &[Move], by: CancelledBy) -> usize {
    let start = at(2026, 11, 10, 12, 0) + Duration::hours(k as i64);
    let play = Play {
        k,
        order: format!("o-aplus-{k}"),
        cancelled_number: format!("WP{k:03}000000000"),
        leaves: by == CancelledBy::Carrier,
    };
    w.seed(&play.order, &play.cancelled_number, by, start);
    let mut stage = Stage::AwaitingDecision;
    let (mut detected, mut decided) = (false, false);
    let mut accepted = 0;
    for (i, step) in moves.iter().enumerate() {
        // Each step a minute after the previous one, as scheduled runs would be.
        w.clock.set(start + Duration::minutes(i as i64));
        let ctx = format!("{by:?} {moves:?}, step {i} ({step:?}), {stage:?}");
        match step {
            // Each worker claims exactly this order when it is in its queue, else nothing.
            Move::Detect => {
                assert_eq!(w.run::<CancellationDetector>().await, i64::from(!detected));
                detected = true;
            }
            Move::Decide => {
                let due = detected && !decided;
                assert_eq!(w.run::<ReReleaseDecider>().await, i64::from(due), "{ctx}");
                decided |= due;
            }
            Move::Reset => {
                // Every re-release is written with its A+ part: aplus-reset has nothing to do.
                assert_eq!(w.run::<AplusReset>().await, 0, "{ctx}");
            }
            Move::Ship => {
                if ship_step(w, &play, i, stage, &ctx) {
                    accepted += 1;
                    stage = Stage::ShippedAgain;
                }
            }
        }
        stage = stage_now(w, &play, stage, &ctx);
    }
    settle(w, by, moves).await;
    accepted
}

/// Step `i`'s ship attempts at `stage`: the cancelled number, never taken back (R16), then a
/// new one, accepted only once re-released; whether the new one was accepted.
fn ship_step(w: &World, play: &Play, i: usize, stage: Stage, ctx: &str) -> bool {
    let (k, order) = (play.k, &play.order);
    let old = w.try_ship(order, &play.cancelled_number);
    let expected_old = match stage {
        Stage::ReReleased => "TRACKING_NUMBER_CANCELLED",
        Stage::AwaitingDecision | Stage::ShippedAgain => "ORDER_ALREADY_SHIPPED",
    };
    assert_eq!(old.refusal(), Some(expected_old), "{ctx}: cancelled number");
    let new = w.try_ship(order, &format!("WP{k:03}1000000{i:02}"));
    match (stage, new) {
        (Stage::ReReleased, Answer::Accepted(row)) => {
            assert_eq!(row.state, "SHIPPED", "{ctx}");
            if play.leaves {
                // R18: out of A+, to the customer's own address; never the warehouse.
                assert!(!row.is_advanced_logistics, "{ctx}: still A+");
                assert_eq!(row.shipping_detail(), customer(), "{ctx}");
                assert_ne!(row.shipping_detail(), warehouse(), "{ctx}");
                assert_eq!(row.flags, ["APLUS_TRACKING_NUMBER_CANCELLED"], "{ctx}");
            } else {
                // R18: the merchant cancelled: still A+, to the warehouse as before.
                assert!(row.is_advanced_logistics, "{ctx}: left A+");
                assert_eq!(row.shipping_detail(), warehouse(), "{ctx}");
                assert_eq!(row.flags, ["TRACKING_NUMBER_CANCELLED"], "{ctx}");
            }
            true
        }
        (Stage::AwaitingDecision | Stage::ShippedAgain, answer) => {
            // Never accepted while SHIPPED with the cancelled tracking awaiting its
            // decision: FAILED_PRECONDITION, the order is already shipped.
            assert_eq!(answer.refusal(), Some("ORDER_ALREADY_SHIPPED"), "{ctx}");
            false
        }
        (Stage::ReReleased, refused) => {
            panic!("{ctx}: a re-released order refused a new number: {refused:?}")
        }
    }
}

/// Where the order stands now, read from its row, for the next ship attempt (`stage` is where
/// it stood after this step's attempts).
fn stage_now(w: &World, play: &Play, stage: Stage, ctx: &str) -> Stage {
    let row = World::order(&mut w.db.conn(), &play.order);
    let now_stage = match (row.state.as_str(), row.is_re_released, stage) {
        ("SHIPPED", false, _) => Stage::AwaitingDecision,
        ("APPROVED", true, _) => Stage::ReReleased,
        ("SHIPPED", true, Stage::ShippedAgain) => Stage::ShippedAgain,
        other => panic!("{ctx}: unexpected order {other:?}: {row:?}"),
    };
    if now_stage == Stage::ReReleased {
        // R18 holds from the re-release's own write on, not from a later step's.
        assert_eq!(row.is_advanced_logistics, !play.leaves, "{ctx}");
        let expected = if play.leaves { customer() } else { warehouse() };
        assert_eq!(row.shipping_detail(), expected, "{ctx}");
    }
    now_stage
}

/// Settles the order so the next interleaving's is alone in every queue.
async fn settle(w: &World, by: CancelledBy, moves: &[Move]) {
    w.run::<CancellationDetector>().await;
    w.run::<ReReleaseDecider>().await;
    w.run::<AplusReset>().await;
    for claimed in [
        w.run::<CancellationDetector>().await,
        w.run::<ReReleaseDecider>().await,
        w.run::<AplusReset>().await,
    ] {
        assert_eq!(claimed, 0, "{by:?} {moves:?}: queues not empty");
    }
}

/// How many attempts an interleaving must see accepted: one, iff an attempt follows the
/// decider, which itself follows the detector.
fn expected_accepts(moves: &[Move]) -> usize {
    let pos = |m: Move| moves.iter().position(|x| *x == m).unwrap();
    let (detect, decide) = (pos(Move::Detect), pos(Move::Decide));
    let after_decision = moves
        .iter()
        .enumerate()
        .any(|(i, m)| *m == Move::Ship && detect < decide && i > decide);
    usize::from(after_decision)
}

#[tokio::test]
async fn r18_no_interleaving_ships_a_carrier_cancelled_aplus_order_to_the_warehouse() {
    let w = World::new(at(2026, 11, 10, 12, 0));
    let mut reached = 0;
    for (k, moves) in interleavings().iter().enumerate() {
        let accepted = interleave(&w, k, moves, CancelledBy::Carrier).await;
        assert_eq!(accepted, expected_accepts(moves), "{moves:?}");
        reached += accepted;
    }
    // Detector before decider before an attempt: 4 of the 24, and 3 of the 6 long ones (where
    // the decider runs before the detector, nothing is decided and nothing ships).
    assert_eq!(reached, 7);
}

#[tokio::test]
async fn r18_a_merchant_cancelled_aplus_order_stays_aplus_and_ships_to_the_warehouse() {
    let w = World::new(at(2026, 11, 10, 12, 0));
    let mut reached = 0;
    for (k, moves) in interleavings().iter().enumerate() {
        let accepted = interleave(&w, k, moves, CancelledBy::Merchant).await;
        assert_eq!(accepted, expected_accepts(moves), "{moves:?}");
        reached += accepted;
    }
    assert_eq!(reached, 7);
}
