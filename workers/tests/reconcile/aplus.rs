//! R18: an A+ order leaves the program only when the carrier cancelled its number, in the
//! re-release's own write (aplus-reset settles what an earlier decider left), and no order of
//! the workers and a ship attempt ships a carrier-cancelled A+ order to the warehouse.

use diesel::connection::SimpleConnection;
use fulfillment_tracking::tracking::CancelledBy;
use fulfillment_workers::reconcile::{AplusReset, CancellationDetector, ReReleaseDecider};

use crate::common::{customer, permutations, warehouse};
use crate::world::{Cancellation, World, at};

/// The two A+ orders of the first tests: one the carrier cancelled, one the merchant did.
const CARRIER_AND_MERCHANT: [(&str, CancelledBy); 2] = [
    ("o-carrier", CancelledBy::Carrier),
    ("o-merchant", CancelledBy::Merchant),
];

/// A CN merchant on 2026-11-10 with A+ `orders` released on 11-01 (to the warehouse), shipped,
/// scanned and cancelled on 11-08 by their canceller.
fn aplus_world(orders: &[(&str, CancelledBy)]) -> World {
    let w = World::new(at(2026, 11, 10, 12, 0));
    w.merchant("m-cn", "CN");
    for (order, by) in orders {
        let how = Cancellation::new(at(2026, 11, 1, 10, 0), at(2026, 11, 8, 0, 0), *by);
        w.shipped_then_cancelled("m-cn", order, how.aplus());
    }
    w
}

/// Every worker once, in their order: detector, decider, aplus-reset.
async fn every_worker_in_order(w: &World) {
    w.run::<CancellationDetector>().await;
    w.run::<ReReleaseDecider>().await;
    w.run::<AplusReset>().await;
}

#[tokio::test]
async fn r18_a_plus_leaves_the_program_only_when_the_carrier_cancelled() {
    let w = aplus_world(&CARRIER_AND_MERCHANT);
    w.run::<CancellationDetector>().await;
    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!(decided.counts["re_release"], 2);
    assert_eq!(decided.counts["left_aplus_program"], 1);

    // R18 in the re-release's own write: no moment with the warehouse address left to ship to.
    let carrier = w.order("o-carrier");
    assert_eq!(carrier.state, "APPROVED");
    assert!(!carrier.is_advanced_logistics);
    assert_eq!(carrier.flags, ["APLUS_TRACKING_NUMBER_CANCELLED"]);
    assert_eq!(carrier.shipping_detail(), customer());
    let merchant = w.order("o-merchant");
    assert!(merchant.is_advanced_logistics);
    assert_eq!(merchant.flags, ["TRACKING_NUMBER_CANCELLED"]);
    assert_eq!(merchant.shipping_detail(), warehouse());
    assert_eq!(w.events("o-carrier").last().unwrap(), "re_released");
    // Nothing is left for aplus-reset.
    assert_eq!(w.run::<AplusReset>().await.claimed, 0);
}

#[tokio::test]
async fn r18_aplus_reset_settles_a_re_release_decided_without_its_aplus_part() {
    let w = aplus_world(&CARRIER_AND_MERCHANT);
    w.run::<CancellationDetector>().await;
    w.run::<ReReleaseDecider>().await;
    // As an earlier decider left them: re-released, still A+ at the warehouse, A+ part open.
    w.conn()
        .batch_execute(
            "UPDATE orders SET is_advanced_logistics = true, flags = '{TRACKING_NUMBER_CANCELLED}',
                 ship_name = 'A+ warehouse', ship_country = 'CN' WHERE id = 'o-carrier';
             UPDATE order_trackings SET aplus_reset_at = NULL, aplus_leaves = NULL",
        )
        .unwrap();
    let reset = w.run::<AplusReset>().await;
    assert_eq!((reset.claimed, reset.counts["reset"]), (2, 1));
    assert_eq!(reset.counts["stays"], 1);
    let carrier = w.order("o-carrier");
    assert!(!carrier.is_advanced_logistics);
    assert_eq!(
        carrier.flags,
        [
            "APLUS_TRACKING_NUMBER_CANCELLED",
            "TRACKING_NUMBER_CANCELLED"
        ]
    );
    assert_eq!(carrier.shipping_detail(), customer());
    assert!(w.order("o-merchant").is_advanced_logistics);
    assert_eq!(w.events("o-carrier").last().unwrap(), "aplus_left_program");
    assert_eq!(w.run::<AplusReset>().await.claimed, 0);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Move {
    Detect,
    Decide,
    AplusReset,
    Ship,
}

/// Where `step` comes in `moves`.
fn position(moves: &[Move], step: Move) -> usize {
    moves.iter().position(|m| *m == step).unwrap()
}

/// Whether the ship attempt in `moves` is accepted: only once the decider has re-released the
/// order, and the decider re-releases only what the detector has already flagged.
fn ship_accepted(moves: &[Move]) -> bool {
    position(moves, Move::Detect) < position(moves, Move::Decide)
        && position(moves, Move::Decide) < position(moves, Move::Ship)
}

/// R18, no A+ window: the workers and a ship attempt in every order (24), each on its own
/// database. A ship attempt is accepted only once the decider has run, and then the order is
/// out of A+ and ships to the customer, never to the warehouse.
#[tokio::test]
async fn r18_no_interleaving_ships_a_carrier_cancelled_aplus_order_to_the_warehouse() {
    let orders = permutations(&[Move::Detect, Move::Decide, Move::AplusReset, Move::Ship]);
    assert_eq!(orders.len(), 24);
    for moves in orders {
        let w = aplus_world(&[("o-aplus", CancelledBy::Carrier)]);
        let shipped = play(&w, &moves).await;
        // Which of the two ways this order goes is fixed by the order of the moves alone.
        assert_eq!(shipped, ship_accepted(&moves), "{moves:?}");
        if !shipped {
            // Shipped too early (refused: still SHIPPED with the cancelled number), or the
            // decider ran before the detector had flagged the order; once every worker has run
            // in order, the merchant ships to the customer.
            every_worker_in_order(&w).await;
            let before = w.order("o-aplus");
            assert!(w.try_ship("m-cn", "o-aplus", 9), "{moves:?}");
            assert!(!before.is_advanced_logistics);
            assert_eq!(before.shipping_detail(), customer());
        }
        let after = w.order("o-aplus");
        assert_eq!(after.state, "SHIPPED", "{moves:?}");
        assert_eq!(after.shipping_detail(), customer(), "{moves:?}");
    }
}

/// Plays `moves` on `o-aplus`; whether its ship attempt was accepted. An accepted attempt is
/// one the decider's re-release came before, shipping to the customer.
async fn play(w: &World, moves: &[Move]) -> bool {
    let mut decided = false;
    let mut shipped = false;
    for (i, step) in moves.iter().enumerate() {
        match step {
            Move::Detect => {
                w.run::<CancellationDetector>().await;
            }
            Move::Decide => {
                decided = w.run::<ReReleaseDecider>().await.counts.get("re_release") == Some(&1)
                    || decided;
            }
            Move::AplusReset => {
                w.run::<AplusReset>().await;
            }
            Move::Ship => {
                let before = w.order("o-aplus");
                shipped = w.try_ship("m-cn", "o-aplus", i);
                assert_eq!(shipped, decided, "{moves:?}: accepted={shipped}");
                if shipped {
                    assert!(!before.is_advanced_logistics, "{moves:?}");
                    assert_eq!(before.shipping_detail(), customer(), "{moves:?}");
                }
            }
        }
    }
    shipped
}

/// R18: a merchant-cancelled A+ order stays in the program and ships to the warehouse again.
#[tokio::test]
async fn r18_a_merchant_cancelled_aplus_order_ships_to_the_warehouse_again() {
    let w = aplus_world(&[("o-aplus", CancelledBy::Merchant)]);
    assert!(!w.try_ship("m-cn", "o-aplus", 0));
    every_worker_in_order(&w).await;
    let before = w.order("o-aplus");
    assert!(before.is_advanced_logistics);
    assert_eq!(before.shipping_detail(), warehouse());
    assert!(w.try_ship("m-cn", "o-aplus", 1));
}
