//! `intelipost::parse_push`: the body Intelipost (or anyone who can reach the webhook) POSTs.
//!
//! Invariants beyond "no panic": a refusal matches the body (not UTF-8, empty, not JSON);
//! an accepted push names its tracking (an NF-e number, digits only, or a normalised carrier
//! code), holds no NUL anywhere (PostgreSQL stores none), has a non-empty carrier status
//! code, keeps its history entry as JSON, and reads the same twice.
#![no_main]

use fulfillment_carriers::intelipost::{PushError, parse_push};
use fulfillment_policy::tracking_number::{is_nfe_number, normalize_tracking_number};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = parse_push(data);
    assert_eq!(result, parse_push(data), "not deterministic");
    let push = match result {
        Ok(push) => push,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            let text = std::str::from_utf8(data);
            match error {
                PushError::NotUtf8 => assert!(text.is_err()),
                PushError::Empty => assert!(text.is_ok_and(|t| t.trim().is_empty())),
                PushError::NotJson(_) => {
                    assert!(serde_json::from_slice::<serde_json::Value>(data).is_err())
                }
                PushError::NotAnObject => {
                    assert!(text.is_ok_and(|t| !t.trim_start().starts_with('{')))
                }
                PushError::Missing(field) | PushError::Invalid { field, .. } => {
                    assert!(!field.is_empty())
                }
                PushError::Unidentifiable => {}
            }
            return;
        }
    };
    // The whole body as JSON text (its numbers may be too large for `Value`; jsonb takes them).
    let body: &serde_json::value::RawValue =
        serde_json::from_slice(data).expect("an accepted push is JSON");
    assert!(body.get().trim_start().starts_with('{'));
    assert!(push.invoice_number.is_some() || push.tracking_code.is_some());
    if let Some(nfe) = &push.invoice_number {
        assert!(is_nfe_number(nfe), "NF-e {nfe:?}");
    }
    if let Some(code) = &push.tracking_code {
        assert!(!code.is_empty());
        assert_eq!(
            &normalize_tracking_number(code),
            code,
            "tracking code not normalised"
        );
    }
    let event = &push.event;
    assert!(!event.carrier_status_code.is_empty());
    assert!(event.event_id.as_ref().is_none_or(|id| !id.is_empty()));
    let texts = [
        push.order_number.as_deref(),
        push.volume_number.as_deref(),
        push.tracking_code.as_deref(),
        push.invoice_number.as_deref(),
        event.event_id.as_deref(),
        Some(&event.carrier_status_code),
        Some(&event.carrier_status_text),
        Some(&event.location),
        Some(&event.raw_payload),
    ];
    for text in texts.into_iter().flatten() {
        assert!(!text.contains('\0'), "a NUL got through: {text:?}");
    }
    let history: serde_json::Value =
        serde_json::from_str(&event.raw_payload).expect("the raw payload is JSON");
    assert!(history.is_object());
    assert!(
        !history.to_string().contains("\\u0000"),
        "a NUL in the raw payload"
    );
});
