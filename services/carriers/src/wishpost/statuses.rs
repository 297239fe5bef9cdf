//! WishPost's `status_number` table and how each reads as our status (R21); `Cancelled`
//! wins wherever it appears (R15).

use crate::TrackingStatus;
use crate::normalize::unknown_status;

use super::CODE;

/// The v2 `status_number` table: WishPost's own (Chinese) description, our English reading
/// of it, and our status.
///
/// Being handed to WishPost's pickup is the first scan (2, `揽件`); every move is
/// `IN_TRANSIT`; returns and failed customs clearance are `EXCEPTION`; "tracking ended" (27)
/// without a delivery is `EXPIRED`, final, as nothing more will come.
// One status a line, as a table reads: rustfmt would break most rows over four lines and
// make the table hard to scan (and look like repeated code).
#[rustfmt::skip]
pub const STATUSES: [(&str, &str, &str, TrackingStatus); 30] = {
    use TrackingStatus::*;
    [
        ("1", "Wishpost订单已生成", "WishPost order created", InfoReceived),
        ("2", "揽件", "Picked up", InTransit),
        ("3", "到达头程分拣中心", "Arrived at the first-mile sorting centre", InTransit),
        ("4", "在头程分拣中心处处理", "Processed at the first-mile sorting centre", InTransit),
        ("5", "离开头程分拣中心", "Left the first-mile sorting centre", InTransit),
        ("6", "头程分拣中心退回", "Returned by the first-mile sorting centre", Exception),
        ("7", "到达物流服务商处", "Arrived at the logistics provider", InTransit),
        ("8", "在物流服务商处处理", "Processed at the logistics provider", InTransit),
        ("9", "从物流服务商处发出", "Dispatched by the logistics provider", InTransit),
        ("10", "物流服务商退回", "Returned by the logistics provider", Exception),
        ("11", "到达始发国海关", "Arrived at origin customs", InTransit),
        ("12", "始发国海关清关失败", "Origin customs clearance failed", Exception),
        ("13", "离开始发国海关", "Left origin customs", InTransit),
        ("14", "计划交航", "Scheduled for the flight", InTransit),
        ("15", "到达始发国机场", "Arrived at the origin airport", InTransit),
        ("16", "从机场发往目的国", "Departed to the destination country", InTransit),
        ("17", "到达目的国海关", "Arrived at destination customs", InTransit),
        ("18", "目的国海关清关失败", "Destination customs clearance failed", Exception),
        ("19", "离开目的国海关", "Left destination customs", InTransit),
        ("20", "到达目的国", "Arrived in the destination country", InTransit),
        ("21", "到达收寄站", "Arrived at the delivery office", InTransit),
        ("22", "尝试投递", "Delivery attempted", FailedAttempt),
        ("23", "妥投", "Delivered", Delivered),
        ("24", "签收", "Signed for", Delivered),
        ("25", "海外退回", "Returned from abroad", Exception),
        ("26", "Your parcel is being shipped.", "Your parcel is being shipped.", InTransit),
        ("27", "跟踪结束", "Tracking ended", Expired),
        ("28", "到达中转中心", "Arrived at a transit centre", InTransit),
        ("29", "离开中转中心", "Left a transit centre", InTransit),
        ("30", "到达目的国机场", "Arrived at the destination airport", InTransit),
    ]
};

/// Whether a `status_number` or `status_desc` is WishPost's cancellation.
fn is_cancelled(value: &str) -> bool {
    let value = value.trim();
    value.eq_ignore_ascii_case("cancelled")
        || value.eq_ignore_ascii_case("canceled")
        || value == "已取消"
}

/// The table's reading of a `status_number`, `None` when it is not in the table.
pub fn lookup(code: &str) -> Option<TrackingStatus> {
    let code = code.trim();
    if is_cancelled(code) {
        return Some(TrackingStatus::Cancelled);
    }
    STATUSES
        .iter()
        .find(|(number, ..)| *number == code)
        .map(|(.., status)| *status)
}

/// A WishPost status (a `status_number`, or `Cancelled`) mapped to ours; see
/// [`normalize_event`] when the description is at hand.
pub fn normalize(code: &str) -> TrackingStatus {
    normalize_event(code, "")
}

/// One event's status from its `status_number` and `status_desc`. `Cancelled` in either wins
/// (R15). An unknown number is `INFO_RECEIVED`, counted and logged once
/// ([`crate::normalize`]): never a scan, so it cannot confirm fulfilment and make an order
/// payable on a code nobody has read.
pub fn normalize_event(code: &str, text: &str) -> TrackingStatus {
    if is_cancelled(text) {
        return TrackingStatus::Cancelled;
    }
    lookup(code).unwrap_or_else(|| unknown_status(CODE, code, text, TrackingStatus::InfoReceived))
}
