//! The carriers' answer parsers (JSON: AfterShip, InPost ShipX, Intelipost; XML: Poczta
//! Polska's SOAP Sledzenie, WishPost): a carrier's body is as untrusted as any caller's. The
//! first byte picks the parser, the rest is the body.
//!
//! Invariants beyond "no panic": a parse reads the same twice; a refusal renders; an accepted
//! answer names a tracking number (the requested one when the body has none); each event's raw
//! payload is JSON for a JSON carrier and a complete element of the body for an XML one; an
//! event's status is what the carrier's table (or its safe reading of an unknown code) says
//! for its code.
#![no_main]

use fulfillment_carriers::{
    CarrierEvent, TrackError, TrackReport, TrackingStatus, aftership, inpost, intelipost,
    poczta_polska, wishpost,
};
use libfuzzer_sys::fuzz_target;

const REQUESTED: &str = "RR123456785PL";

#[derive(Clone, Copy, Debug)]
enum Carrier {
    AfterShip,
    InPost,
    Intelipost,
    PocztaPolska,
    WishPost,
}

impl Carrier {
    fn parse(self, requested: &str, body: &str) -> Result<TrackReport, TrackError> {
        match self {
            Carrier::AfterShip => aftership::parse_answer(requested, body),
            Carrier::InPost => inpost::parse_answer(requested, body),
            Carrier::Intelipost => intelipost::parse_answer(requested, body),
            Carrier::PocztaPolska => poczta_polska::parse_answer(requested, body),
            Carrier::WishPost => wishpost::parse_answer(requested, body),
        }
    }

    fn is_xml(self) -> bool {
        matches!(self, Carrier::PocztaPolska | Carrier::WishPost)
    }
}

fn check_event(carrier: Carrier, body: &str, event: &CarrierEvent) {
    let raw = &event.raw_payload;
    if carrier.is_xml() {
        assert!(
            body.contains(raw.as_str()),
            "{carrier:?}: raw payload not from the body"
        );
        assert!(
            raw.starts_with('<') && raw.ends_with('>'),
            "{carrier:?}: raw payload {raw:?} is not an element"
        );
    } else {
        let value: Result<&serde_json::value::RawValue, _> = serde_json::from_str(raw);
        assert!(
            value.is_ok(),
            "{carrier:?}: raw payload {raw:?} is not JSON"
        );
    }
    if matches!(carrier, Carrier::Intelipost | Carrier::WishPost) {
        assert!(
            !event.carrier_status_code.is_empty(),
            "{carrier:?}: empty code"
        );
    }
    assert!(event.event_id.as_ref().is_none_or(|id| !id.is_empty()));
    // R21: an unknown code is never read as a delivery.
    let status = event.status;
    if status == TrackingStatus::Delivered {
        let code = event.carrier_status_code.trim();
        let known = match carrier {
            Carrier::WishPost => wishpost::lookup(code) == Some(TrackingStatus::Delivered),
            Carrier::PocztaPolska => {
                poczta_polska::normalize(code) == Some(TrackingStatus::Delivered)
            }
            _ => true,
        };
        assert!(known, "{carrier:?}: {code:?} read as DELIVERED");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let carrier = match selector % 5 {
        0 => Carrier::AfterShip,
        1 => Carrier::InPost,
        2 => Carrier::Intelipost,
        3 => Carrier::PocztaPolska,
        _ => Carrier::WishPost,
    };
    // The HTTP layer hands the parsers text (a body that is not UTF-8 is refused before).
    let Ok(body) = std::str::from_utf8(body) else {
        return;
    };
    let result = carrier.parse(REQUESTED, body);
    assert_eq!(
        result,
        carrier.parse(REQUESTED, body),
        "{carrier:?}: not deterministic"
    );
    match result {
        Err(error) => {
            let _ = error.to_string();
            let _ = error.is_transient();
        }
        Ok(report) => {
            match carrier {
                Carrier::Intelipost => assert_eq!(report.tracking_number, REQUESTED),
                Carrier::PocztaPolska | Carrier::WishPost => {
                    assert!(!report.tracking_number.is_empty())
                }
                Carrier::AfterShip | Carrier::InPost => {}
            }
            for event in &report.events {
                check_event(carrier, body, event);
            }
        }
    }
});
