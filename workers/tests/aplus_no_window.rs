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

mod common;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use fulfillment_core::models::Order;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, ServiceError};
use fulfillment_orders::ship::ship;
use fulfillment_orders::{merchants, release};
use fulfillment_tracking::tracking::CancelledBy;
use fulfillment_workers::reconcile::{AplusReset, CancellationDetector, ReReleaseDecider, Step};

use common::{
    Harness, at, cancel_wishpost, customer, deref_to_harness, first_scan, order_row, permutations,
    release_input, ship_request, warehouse,
};

const MERCHANT: &str = "m-cn";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Detect,
    Decide,
    Reset,
    Ship,
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

/// The interleavings' world: a [`Harness`] (its fields read through it) with two connections
/// and the CN merchant.
struct World(Harness);

deref_to_harness!(World);

impl World {
    fn new(now: DateTime<Utc>) -> Self {
        let db = TestDb::new();
        merchants::upsert_merchant(&mut db.conn(), now, MERCHANT, MERCHANT, "CN").unwrap();
        Self(Harness::new(db, 2, now))
    }

    /// A CN merchant's A+ order, released, shipped with WishPost `number`, scanned
    /// (confirmed), and its tracking cancelled by `by` two days before `now`.
    fn seed(&self, order: &str, number: &str, by: CancelledBy, now: DateTime<Utc>) {
        let released = now - Duration::days(9);
        let mut conn = self.db.conn();
        let policy = self.policies.at(&mut conn, released).unwrap();
        let input = release_input(order, MERCHANT, released, true, "p-1".into());
        release::release_order(&mut conn, released, &policy, &self.actor, &input).unwrap();
        let request = ship_request(MERCHANT, order, "wishpost", number);
        let shipped = released + Duration::days(1);
        ship(&mut conn, shipped, &policy, &self.actor, &request).unwrap();
        let (scan, scanned) = ("scan".to_owned(), released + Duration::days(2));
        first_scan(&mut conn, &self.actor, "wishpost", number, scan, scanned);
        let cancelled = now - Duration::days(2);
        cancel_wishpost(&mut conn, &self.actor, number, by, cancelled);
    }

    async fn run<S: Step>(&self) -> i64 {
        self.run_worker::<S>(10, false).await.0.claimed
    }

    fn order(conn: &mut PgConnection, id: &str) -> Order {
        order_row(conn, id)
    }

    /// FulfillOrder's path: the policy in force now, `ship` in one transaction; on success the
    /// order row is read in that same transaction (it holds the row's lock), so what is checked
    /// is the order exactly as the attempt was accepted.
    fn try_ship(&self, order: &str, number: &str) -> Answer {
        let mut conn = self.db.conn();
        let now = self.clock.now();
        let policy = self.policies.at(&mut conn, now).unwrap();
        let result = conn.transaction::<_, ServiceError, _>(|conn| {
            let request = ship_request(MERCHANT, order, "wishpost", number);
            let outcome = ship(conn, now, &policy, &self.actor, &request)?;
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

/// Every interleaving on one database, an order each, cancelled by `by`; how many ship attempts
/// were accepted in all (each interleaving's count checked against [`expected_accepts`]).
async fn every_interleaving(by: CancelledBy) -> usize {
    let w = World::new(at(2026, 11, 10, 12, 0));
    let mut reached = 0;
    for (k, moves) in interleavings().iter().enumerate() {
        let accepted = interleave(&w, k, moves, by).await;
        assert_eq!(accepted, expected_accepts(moves), "{by:?} {moves:?}");
        reached += accepted;
    }
    reached
}

#[tokio::test]
async fn r18_no_interleaving_ships_a_carrier_cancelled_aplus_order_to_the_warehouse() {
    // Detector before decider before an attempt: 4 of the 24, and 3 of the 6 long ones (where
    // the decider runs before the detector, nothing is decided and nothing ships).
    assert_eq!(every_interleaving(CancelledBy::Carrier).await, 7);
}

#[tokio::test]
async fn r18_a_merchant_cancelled_aplus_order_stays_aplus_and_ships_to_the_warehouse() {
    assert_eq!(every_interleaving(CancelledBy::Merchant).await, 7);
}
