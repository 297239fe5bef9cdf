//! R21 in one place: a carrier's own status code, whoever reports it (our polling clients,
//! a webhook, or a caller pushing events over gRPC), mapped to our status by that carrier's
//! table; and what happens to a code no table knows.
//!
//! ## Unknown statuses
//!
//! A code missing from a carrier's table is never dropped: the event is stored with the
//! carrier's raw code and text beside our status (R21), the first sighting of each
//! (carrier, code) in this process is logged once ([`unknown_status`]), and every sighting is
//! counted per (carrier, code) ([`unknown_status_counts`]) so a metrics endpoint can export
//! it and someone can add the code to the table.
//!
//! The status such an event gets is a **safe reading**: never `DELIVERED`, never a scan
//! (`IN_TRANSIT` and later), which would confirm fulfilment and make the order payable (R6,
//! R21), and never `CANCELLED`, which for WishPost removes a confirmed date and re-releases or
//! refunds the order (R15, R16). Paying late for a parcel that really moved is repaired by
//! adding the code; paying for one that did not is not. It is never final either, so polling
//! goes on (R22) and the next known event sets the status. Per carrier:
//!
//! | carrier | unknown code read as | why |
//! |---|---|---|
//! | WishPost | `INFO_RECEIVED` | a `status_number` outside 1–30 says nothing we can trust about custody; `Cancelled` is matched by its text, never guessed |
//! | InPost | `INFO_RECEIVED` | ShipX adds statuses every year; a new one could as well be pre-shipment (`offer_*`) as a scan |
//! | Poczta Polska | `EXCEPTION` when its Polish name speaks of a return (`zwrot`), else `INFO_RECEIVED` | the names are published per event; a return is worth an operator's look, anything else is not a scan we can vouch for |
//! | AfterShip | `INFO_RECEIVED` | AfterShip's tags are a closed list; a new tag is not evidence of a scan |
//! | Intelipost | its client's own reading (`src/intelipost/statuses.rs`, owned there) | |

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::{TrackingStatus, aftership, inpost, intelipost, poczta_polska, wishpost};

/// How many distinct (carrier, code) pairs the counter keeps. Codes come from outside (a
/// caller of `IngestTrackingEvents` can send anything), so the map is bounded; further new
/// pairs are counted under [`OVERFLOW_CODE`] for their carrier.
pub const MAX_TRACKED_UNKNOWN: usize = 1024;
/// The code under which unknown codes beyond [`MAX_TRACKED_UNKNOWN`] are counted.
pub const OVERFLOW_CODE: &str = "<other>";
/// Longest code kept in the counter (and in the log line), in characters.
const MAX_CODE_CHARS: usize = 64;

/// The status of an event of `carrier` with the carrier's own `code` (and `text`, which
/// WishPost's `Cancelled` and Poczta Polska's unpublished codes need). Any carrier without a
/// direct client is tracked through AfterShip, whose tags (or subtags, `Delivered_001`) are
/// the code.
pub fn normalize(carrier: &str, code: &str, text: &str) -> TrackingStatus {
    let carrier = carrier.trim().to_ascii_lowercase();
    let code = code.trim();
    match carrier.as_str() {
        inpost::CODE => inpost::normalize(code),
        poczta_polska::CODE => poczta_polska::normalize_event(code, text),
        wishpost::CODE => wishpost::normalize_event(code, text),
        intelipost::CODE => intelipost::normalize(code),
        _ => aftership::normalize(code),
    }
}

/// One (carrier, code) the tables did not know, and how often it was seen in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatusCount {
    pub carrier: String,
    pub code: String,
    pub count: u64,
}

type Counts = HashMap<(String, String), u64>;

fn counts() -> &'static Mutex<Counts> {
    static COUNTS: OnceLock<Mutex<Counts>> = OnceLock::new();
    COUNTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Records an event whose `code` the `carrier`'s table does not know and answers `read_as`,
/// the carrier's safe reading (see the module doc). Counts it; logs it the first time this
/// process sees that (carrier, code), with the carrier's text, so the log is not flooded by a
/// code that comes on every parcel.
pub fn unknown_status(
    carrier: &str,
    code: &str,
    text: &str,
    read_as: TrackingStatus,
) -> TrackingStatus {
    let code: String = code.trim().chars().take(MAX_CODE_CHARS).collect();
    // A poisoned lock only means another thread panicked while counting: the map is still
    // a map, keep counting.
    let mut map = counts().lock().unwrap_or_else(PoisonError::into_inner);
    let mut key = (carrier.to_owned(), code);
    if !map.contains_key(&key) && map.len() >= MAX_TRACKED_UNKNOWN {
        key.1 = OVERFLOW_CODE.to_owned();
    }
    let count = map.entry(key.clone()).or_insert(0);
    *count += 1;
    let first = *count == 1;
    drop(map);
    if first {
        let text: String = text.chars().take(200).collect();
        tracing::warn!(
            carrier,
            code = key.1.as_str(),
            text = text.as_str(),
            read_as = %read_as,
            "unknown carrier status: stored with its raw code, read as {read_as}; add it to the carrier's table"
        );
    }
    read_as
}

/// Every unknown (carrier, code) seen by this process with its count, sorted by carrier then
/// code: what a metrics endpoint exports (`carrier_unknown_status_total{carrier,code}`).
pub fn unknown_status_counts() -> Vec<UnknownStatusCount> {
    let map = counts().lock().unwrap_or_else(PoisonError::into_inner);
    let mut out: Vec<UnknownStatusCount> = map
        .iter()
        .map(|((carrier, code), count)| UnknownStatusCount {
            carrier: carrier.clone(),
            code: code.clone(),
            count: *count,
        })
        .collect();
    drop(map);
    out.sort_by(|a, b| (&a.carrier, &a.code).cmp(&(&b.carrier, &b.code)));
    out
}

/// How often this process saw `code` of `carrier` unknown (0 when never).
pub fn unknown_status_count(carrier: &str, code: &str) -> u64 {
    let map = counts().lock().unwrap_or_else(PoisonError::into_inner);
    map.get(&(carrier.to_owned(), code.trim().to_owned()))
        .copied()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackingStatus::*;

    #[test]
    fn dispatches_by_carrier() {
        assert_eq!(
            normalize("inpost", "ready_to_pickup", ""),
            AvailableForPickup
        );
        assert_eq!(normalize("InPost", "canceled", ""), Cancelled);
        assert_eq!(normalize("poczta-polska", "P_D", "Doręczenie"), Delivered);
        assert_eq!(
            normalize("poczta-polska", "P_WD", "Wydanie doręczycielowi"),
            OutForDelivery
        );
        assert_eq!(
            normalize("poczta-polska", "P_NEW_X", "Zwrot do nadawcy"),
            Exception
        );
        assert_eq!(normalize("wishpost", "Cancelled", ""), Cancelled);
        assert_eq!(normalize("wishpost", "", "Cancelled"), Cancelled);
        assert_eq!(normalize("wishpost", "23", ""), Delivered);
        assert_eq!(
            normalize("intelipost", "TO_BE_DELIVERED", ""),
            OutForDelivery
        );
        assert_eq!(normalize("usps", "AttemptFail", ""), FailedAttempt);
        assert_eq!(normalize("dhl", "Delivered_001", ""), Delivered);
    }

    #[test]
    fn unknown_codes_are_read_safely_and_counted() {
        // Codes unique to this test: the counter is process-wide.
        let before = unknown_status_count("inpost", "teleported_by_test");
        assert_eq!(normalize("inpost", "teleported_by_test", ""), InfoReceived);
        assert_eq!(normalize("inpost", "teleported_by_test", ""), InfoReceived);
        assert_eq!(
            unknown_status_count("inpost", "teleported_by_test"),
            before + 2
        );
        assert_eq!(normalize("wishpost", "9917", "Delivered"), InfoReceived);
        assert_eq!(normalize("usps", "Beamed_001", ""), InfoReceived);
        assert_eq!(
            normalize("poczta-polska", "P_TEST_UNKNOWN", "Doręczenie"),
            InfoReceived
        );
        let all = unknown_status_counts();
        for (carrier, code) in [
            ("wishpost", "9917"),
            ("aftership", "Beamed_001"),
            ("poczta-polska", "P_TEST_UNKNOWN"),
        ] {
            assert!(
                all.iter()
                    .any(|c| c.carrier == carrier && c.code == code && c.count >= 1),
                "{carrier} {code}: {all:?}"
            );
        }
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| (&a.carrier, &a.code).cmp(&(&b.carrier, &b.code)));
        assert_eq!(all, sorted);
    }

    #[test]
    fn no_unknown_reading_confirms_fulfilment_or_cancels() {
        for (carrier, code, text) in [
            ("inpost", "brand_new_status", ""),
            ("wishpost", "77", "签收"),
            ("poczta-polska", "P_XYZ", "Przesyłka doręczona"),
            ("aftership", "Arrived", ""),
        ] {
            let status = normalize(carrier, code, text);
            assert!(
                !status.is_scan() && !status.is_final(),
                "{carrier} {code}: {status}"
            );
        }
    }
}
