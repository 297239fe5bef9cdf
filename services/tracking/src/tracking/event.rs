//! One carrier event as it arrives: its identity (R22's event key) and the checks of its
//! free-text fields.

use fulfillment_core::Violations;
use fulfillment_policy::tracking_status::CarrierEvent;
use sha2::{Digest, Sha256};

/// Largest raw payload kept per event.
pub const MAX_RAW_PAYLOAD: usize = 64 * 1024;
const MAX_EVENT_ID: usize = 128;
const MAX_CARRIER_TEXT: usize = 1000;

/// One event to store: the carrier's event (its status already normalised by the carrier's
/// mapping) and the tracking it belongs to.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub carrier: String,
    pub tracking_number: String,
    /// `event.event_id` `None` or empty: R22 keys it by a hash of carrier, number, time and
    /// status.
    pub event: CarrierEvent,
}

impl IncomingEvent {
    pub fn new(
        carrier: impl Into<String>,
        tracking_number: impl Into<String>,
        event: CarrierEvent,
    ) -> Self {
        Self {
            carrier: carrier.into(),
            tracking_number: tracking_number.into(),
            event,
        }
    }

    /// R22: the carrier's event id, or a hash of what identifies the event.
    pub fn event_key(&self) -> String {
        let event = &self.event;
        match event.event_id.as_deref() {
            Some(id) if !id.is_empty() => format!("id:{id}"),
            _ => {
                let mut hash = Sha256::new();
                for part in [
                    self.carrier.as_str(),
                    self.tracking_number.as_str(),
                    &event.occurred_at.timestamp_micros().to_string(),
                    event.carrier_status_code.as_str(),
                    event.status.as_str(),
                ] {
                    hash.update(part.as_bytes());
                    hash.update([0]);
                }
                format!("sha256:{}", hex_prefix(&hash.finalize()))
            }
        }
    }

    fn texts(&self) -> [&str; 6] {
        let event = &self.event;
        [
            self.tracking_number.as_str(),
            event.event_id.as_deref().unwrap_or(""),
            event.carrier_status_code.as_str(),
            event.carrier_status_text.as_str(),
            event.location.as_str(),
            event.raw_payload.as_str(),
        ]
    }

    pub fn has_nul(&self) -> bool {
        self.texts().iter().any(|t| t.contains('\0'))
    }

    /// The event with every NUL replaced by U+FFFD (the replacement character).
    pub fn without_nul(&self) -> Self {
        let clean = |s: &str| s.replace('\0', "\u{fffd}");
        let event = &self.event;
        Self {
            carrier: self.carrier.clone(),
            tracking_number: clean(&self.tracking_number),
            event: CarrierEvent {
                event_id: event.event_id.as_deref().map(clean),
                carrier_status_code: clean(&event.carrier_status_code),
                carrier_status_text: clean(&event.carrier_status_text),
                location: clean(&event.location),
                raw_payload: clean(&event.raw_payload),
                ..event.clone()
            },
        }
    }

    /// Checks the free-text fields of event `index` (the gRPC edge checks the rest).
    pub fn check(&self, v: &mut Violations, index: usize) {
        let field = |name: &str| format!("events[{index}].{name}");
        let event = &self.event;
        if event
            .event_id
            .as_deref()
            .is_some_and(|id| id.len() > MAX_EVENT_ID)
        {
            v.add(
                field("event_id"),
                format!("must be at most {MAX_EVENT_ID} bytes"),
            );
        }
        for (name, value) in [
            ("carrier_status_code", &event.carrier_status_code),
            ("carrier_status_text", &event.carrier_status_text),
            ("location", &event.location),
        ] {
            if value.len() > MAX_CARRIER_TEXT {
                v.add(
                    field(name),
                    format!("must be at most {MAX_CARRIER_TEXT} bytes"),
                );
            }
        }
        if event.raw_payload.len() > MAX_RAW_PAYLOAD {
            v.add(
                field("raw_payload"),
                format!("must be at most {MAX_RAW_PAYLOAD} bytes"),
            );
        }
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use fulfillment_policy::tracking_status::TrackingStatus;

    use super::*;

    fn event(id: Option<&str>) -> IncomingEvent {
        IncomingEvent::new(
            "wishpost",
            "WP12345678",
            CarrierEvent {
                event_id: id.map(str::to_owned),
                occurred_at: Utc.with_ymd_and_hms(2021, 3, 1, 10, 0, 0).unwrap(),
                status: TrackingStatus::InTransit,
                carrier_status_code: "20".into(),
                carrier_status_text: "In transit".into(),
                location: "Shenzhen".into(),
                raw_payload: "{}".into(),
            },
        )
    }

    #[test]
    fn a_carriers_nul_becomes_the_replacement_character_and_the_rest_is_kept() {
        let clean = event(Some("e-1"));
        assert!(!clean.has_nul());
        let mut dirty = clean.clone();
        dirty.event.location = "Shen\0zhen".into();
        dirty.event.raw_payload = "{\"x\":\"a\0\"}".into();
        assert!(dirty.has_nul());
        let fixed = dirty.without_nul();
        assert!(!fixed.has_nul());
        assert_eq!(fixed.event.location, "Shen\u{fffd}zhen");
        assert_eq!(fixed.event.raw_payload, "{\"x\":\"a\u{fffd}\"}");
        assert_eq!(fixed.event_key(), clean.event_key());
        assert_eq!(
            fixed.event.carrier_status_text,
            clean.event.carrier_status_text
        );
    }

    #[test]
    fn r22_event_key_is_the_carrier_id_or_a_stable_hash() {
        assert_eq!(event(Some("e-1")).event_key(), "id:e-1");
        let hashed = event(None).event_key();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 32);
        assert_eq!(hashed, event(Some("")).event_key());
        let mut later = event(None);
        later.event.occurred_at += chrono::Duration::seconds(1);
        assert_ne!(hashed, later.event_key());
        // The text and raw payload are not part of the identity: a re-worded redelivery is the same event.
        let mut reworded = event(None);
        reworded.event.carrier_status_text = "En tránsito".into();
        reworded.event.raw_payload = "{\"x\":1}".into();
        assert_eq!(hashed, reworded.event_key());
    }
}
