//! Owns: R10, R11.
//!
//! R10, R11: several orders may share one tracking number iff they have the same merchant, the
//! same recipient name and address (ignoring case and spacing; the phone is not part of the
//! address), and every two were released within the combine window of calendar days. The
//! shipment follows the strictest requirement of its orders.
//!
//! The English original of seed 003 says "case insensitive"; the Japanese translation's
//! "case-sensitive" is a mistranslation and does not stand (RULES.md R10).

use chrono::{DateTime, Utc};

use crate::calendar::calendar_days_between;
use crate::values::PolicyValues;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub street_address1: String,
    pub street_address2: String,
    pub city: String,
    pub state: String,
    pub zipcode: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentOrder {
    pub order_id: String,
    pub merchant_id: String,
    pub recipient_name: String,
    pub address: Address,
    /// The latest release: a re-released order counts from its re-release.
    pub released_at: DateTime<Utc>,
    pub fulfillment_deadline: DateTime<Utc>,
    pub is_wish_express: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    DifferentMerchants,
    RecipientNameMismatch,
    AddressMismatch,
    ReleasedTooFarApart,
}

impl ViolationKind {
    pub fn reason(self) -> &'static str {
        match self {
            Self::DifferentMerchants => "COMBINED_SHIPMENT_MERCHANT_MISMATCH",
            Self::RecipientNameMismatch => "COMBINED_SHIPMENT_NAME_MISMATCH",
            Self::AddressMismatch => "COMBINED_SHIPMENT_ADDRESS_MISMATCH",
            Self::ReleasedTooFarApart => "COMBINED_SHIPMENT_RELEASE_WINDOW",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub order_ids: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Standard,
    WishExpress,
}

impl Requirement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::WishExpress => "WISH_EXPRESS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CombinedShipmentCheck {
    pub allowed: bool,
    pub violations: Vec<Violation>,
    /// R11: Wish Express if any order is.
    pub requirement: Requirement,
    /// R11: the earliest deadline among the orders; `None` for no orders.
    pub deadline: Option<DateTime<Utc>>,
}

/// Trim, collapse inner whitespace, lower-case: how names and address fields are compared.
fn canonical(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn address_fields(a: &Address) -> [(&'static str, &str); 6] {
    [
        ("street_address1", &a.street_address1),
        ("street_address2", &a.street_address2),
        ("city", &a.city),
        ("state", &a.state),
        ("zipcode", &a.zipcode),
        ("country", &a.country),
    ]
}

/// Checks every condition of R10 over all pairs (an empty or single-order list is trivially
/// allowed; callers bound the list). Each violation names the orders involved.
pub fn check_combined_shipment(
    orders: &[ShipmentOrder],
    values: &PolicyValues,
) -> CombinedShipmentCheck {
    let mut violations = Vec::new();
    // Compare each order with the first for identity conditions: equality is transitive, so a
    // mismatch anywhere shows up against the first order.
    if let Some((first, rest)) = orders.split_first() {
        for other in rest {
            let pair = || vec![first.order_id.clone(), other.order_id.clone()];
            if other.merchant_id != first.merchant_id {
                violations.push(Violation {
                    kind: ViolationKind::DifferentMerchants,
                    order_ids: pair(),
                    message: format!(
                        "R10: orders {} and {} belong to different merchants",
                        first.order_id, other.order_id
                    ),
                });
            }
            if canonical(&other.recipient_name) != canonical(&first.recipient_name) {
                violations.push(Violation {
                    kind: ViolationKind::RecipientNameMismatch,
                    order_ids: pair(),
                    message: format!(
                        "R10: orders {} and {} have different recipient names",
                        first.order_id, other.order_id
                    ),
                });
            }
            let differing: Vec<&str> = address_fields(&first.address)
                .into_iter()
                .zip(address_fields(&other.address))
                .filter(|((_, a), (_, b))| canonical(a) != canonical(b))
                .map(|((field, _), _)| field)
                .collect();
            if !differing.is_empty() {
                violations.push(Violation {
                    kind: ViolationKind::AddressMismatch,
                    order_ids: pair(),
                    message: format!(
                        "R10: orders {} and {} ship to different addresses ({} differ)",
                        first.order_id,
                        other.order_id,
                        differing.join(", ")
                    ),
                });
            }
        }
    }
    // The release window is not transitive (example 3): every pair counts.
    for (i, a) in orders.iter().enumerate() {
        for b in &orders[i + 1..] {
            let days = calendar_days_between(a.released_at, b.released_at).abs();
            if days > values.combine_window_days {
                let (earlier, later) = if a.released_at <= b.released_at {
                    (a, b)
                } else {
                    (b, a)
                };
                violations.push(Violation {
                    kind: ViolationKind::ReleasedTooFarApart,
                    order_ids: vec![earlier.order_id.clone(), later.order_id.clone()],
                    message: format!(
                        "R10: orders {} and {} were released {days} calendar days apart (at most {} allowed)",
                        earlier.order_id, later.order_id, values.combine_window_days
                    ),
                });
            }
        }
    }
    let requirement = if orders.iter().any(|o| o.is_wish_express) {
        Requirement::WishExpress
    } else {
        Requirement::Standard
    };
    CombinedShipmentCheck {
        allowed: violations.is_empty(),
        violations,
        requirement,
        deadline: orders.iter().map(|o| o.fulfillment_deadline).min(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2021, 1, 1, 9, 0, 0).unwrap() + Duration::days(n - 1)
    }

    fn order(id: &str, released_at: DateTime<Utc>) -> ShipmentOrder {
        ShipmentOrder {
            order_id: id.into(),
            merchant_id: "m-1".into(),
            recipient_name: "Alice Smith".into(),
            address: Address {
                street_address1: "1 Main St".into(),
                street_address2: String::new(),
                city: "Springfield".into(),
                state: "IL".into(),
                zipcode: "62701".into(),
                country: "US".into(),
            },
            released_at,
            fulfillment_deadline: released_at + Duration::days(5),
            is_wish_express: false,
        }
    }

    fn check(orders: &[ShipmentOrder]) -> CombinedShipmentCheck {
        check_combined_shipment(orders, &PolicyValues::default())
    }

    #[test]
    fn r10_example_1_day_1_and_day_3_allowed() {
        assert!(check(&[order("a", day(1)), order("b", day(3))]).allowed);
    }

    #[test]
    fn r10_example_2_day_1_and_day_7_refused() {
        let c = check(&[order("a", day(1)), order("b", day(7))]);
        assert!(!c.allowed);
        assert_eq!(c.violations[0].kind, ViolationKind::ReleasedTooFarApart);
        assert_eq!(
            c.violations[0].message,
            "R10: orders a and b were released 6 calendar days apart (at most 5 allowed)"
        );
    }

    #[test]
    fn r10_day_1_and_day_6_exactly_five_days_allowed() {
        assert!(check(&[order("a", day(1)), order("b", day(6))]).allowed);
    }

    #[test]
    fn r10_calendar_days_not_24_hour_periods() {
        // 4 days 0 h 2 min apart in hours, but 5 calendar dates: allowed.
        let late = Utc.with_ymd_and_hms(2021, 1, 1, 23, 59, 0).unwrap();
        let early = Utc.with_ymd_and_hms(2021, 1, 6, 0, 1, 0).unwrap();
        assert!(check(&[order("a", late), order("b", early)]).allowed);
        // 5 days 0 h 2 min in hours, but 6 calendar dates: refused.
        let early_next = Utc.with_ymd_and_hms(2021, 1, 7, 0, 1, 0).unwrap();
        assert!(!check(&[order("a", late), order("b", early_next)]).allowed);
        // 5 days 23 h in hours, yet only 5 calendar dates: allowed.
        let midnight = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
        assert!(
            check(&[
                order("a", midnight),
                order("b", midnight + Duration::days(5) + Duration::hours(23))
            ])
            .allowed
        );
    }

    #[test]
    fn r10_example_3_a_b_c_refused_pair_a_c() {
        let (a, b, c) = (order("a", day(1)), order("b", day(4)), order("c", day(7)));
        assert!(check(&[a.clone(), b.clone()]).allowed);
        assert!(check(&[b.clone(), c.clone()]).allowed);
        let abc = check(&[a, b, c]);
        assert!(!abc.allowed);
        assert_eq!(abc.violations.len(), 1);
        assert_eq!(abc.violations[0].order_ids, ["a", "c"]);
    }

    #[test]
    fn r10_names_differing_only_in_case_are_the_same_recipient() {
        let mut b = order("b", day(2));
        b.recipient_name = "  ALICE   smith ".into();
        b.address.street_address1 = "1 MAIN  st".into();
        b.address.country = "us".into();
        assert!(check(&[order("a", day(1)), b]).allowed);
    }

    #[test]
    fn r10_a_different_zipcode_is_refused_naming_the_field() {
        let mut b = order("b", day(2));
        b.address.zipcode = "62702".into();
        let c = check(&[order("a", day(1)), b]);
        assert!(!c.allowed);
        assert_eq!(c.violations[0].kind, ViolationKind::AddressMismatch);
        assert!(c.violations[0].message.contains("zipcode"));
    }

    #[test]
    fn r10_a_different_name_or_merchant_is_refused() {
        let mut b = order("b", day(2));
        b.recipient_name = "Alicia Smith".into();
        assert_eq!(
            check(&[order("a", day(1)), b]).violations[0].kind,
            ViolationKind::RecipientNameMismatch
        );
        let mut c = order("c", day(2));
        c.merchant_id = "m-2".into();
        assert_eq!(
            check(&[order("a", day(1)), c]).violations[0].kind,
            ViolationKind::DifferentMerchants
        );
    }

    #[test]
    fn r11_wish_express_in_the_group_sets_the_requirement_and_earliest_deadline() {
        let mut b = order("b", day(1));
        b.is_wish_express = true;
        let c = check(&[order("a", day(3)), b]);
        assert_eq!(c.requirement, Requirement::WishExpress);
        assert_eq!(c.deadline, Some(day(1) + Duration::days(5)));
        assert_eq!(
            check(&[order("a", day(3))]).requirement,
            Requirement::Standard
        );
    }

    #[test]
    fn no_orders_or_one_order_is_trivially_allowed() {
        assert!(check(&[]).allowed);
        assert_eq!(check(&[]).deadline, None);
        assert!(check(&[order("a", day(1))]).allowed);
    }
}
