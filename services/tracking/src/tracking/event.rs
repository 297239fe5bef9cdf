//! One carrier event as it arrives: its identity (R22's event key) and the checks of its
//! free-text fields.

use chrono::{DateTime, Utc};
use fulfillment_core::Violations;
use fulfillment_policy::tracking_status::TrackingStatus;
use sha2::{Digest, Sha256};

/// Largest raw payload kept per event.
pub const MAX_RAW_PAYLOAD: usize = 64 * 1024;
const MAX_EVENT_ID: usize = 128;
const MAX_CARRIER_TEXT: usize = 1000;

/// One event to store, its status already normalised by the carrier's mapping.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's event id; `None` or empty: a hash of carrier, number, time and status.
    pub event_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub status: TrackingStatus,
    pub carrier_status_code: String,
    pub carrier_status_text: String,
    pub location: String,
    pub raw_payload: String,
}

impl IncomingEvent {
    /// R22: the carrier's event id, or a hash of what identifies the event.
    pub fn event_key(&self) -> String {
        match self.event_id.as_deref() {
            Some(id) if !id.is_empty() => format!("id:{id}"),
            _ => {
                let mut hash = Sha256::new();
                for part in [
                    self.carrier.as_str(),
                    self.tracking_number.as_str(),
                    &self.occurred_at.timestamp_micros().to_string(),
                    self.carrier_status_code.as_str(),
                    self.status.as_str(),
                ] {
                    hash.update(part.as_bytes());
                    hash.update([0]);
                }
                format!("sha256:{}", hex_prefix(&hash.finalize()))
            }
        }
    }

    fn texts(&self) -> [&str; 6] {
        [
            self.tracking_number.as_str(),
            self.event_id.as_deref().unwrap_or(""),
            self.carrier_status_code.as_str(),
            self.carrier_status_text.as_str(),
            self.location.as_str(),
            self.raw_payload.as_str(),
        ]
    }

    pub fn has_nul(&self) -> bool {
        self.texts().iter().any(|t| t.contains('\0'))
    }

    /// The event with every NUL replaced by U+FFFD (the replacement character).
    pub fn without_nul(&self) -> Self {
        let clean = |s: &str| s.replace('\0', "\u{fffd}");
        Self {
            tracking_number: clean(&self.tracking_number),
            event_id: self.event_id.as_deref().map(clean),
            carrier_status_code: clean(&self.carrier_status_code),
            carrier_status_text: clean(&self.carrier_status_text),
            location: clean(&self.location),
            raw_payload: clean(&self.raw_payload),
            ..self.clone()
        }
    }

    /// Checks the free-text fields of event `index` (the gRPC edge checks the rest).
    pub fn check(&self, v: &mut Violations, index: usize) {
        let field = |name: &str| format!("events[{index}].{name}");
        if self
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
            ("carrier_status_code", &self.carrier_status_code),
            ("carrier_status_text", &self.carrier_status_text),
            ("location", &self.location),
        ] {
            if value.len() > MAX_CARRIER_TEXT {
                v.add(
                    field(name),
                    format!("must be at most {MAX_CARRIER_TEXT} bytes"),
                );
            }
        }
        if self.raw_payload.len() > MAX_RAW_PAYLOAD {
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
    use chrono::TimeZone;

    use super::*;

    fn event(id: Option<&str>) -> IncomingEvent {
        IncomingEvent {
            carrier: "wishpost".into(),
            tracking_number: "WP12345678".into(),
            event_id: id.map(str::to_owned),
            occurred_at: Utc.with_ymd_and_hms(2021, 3, 1, 10, 0, 0).unwrap(),
            status: TrackingStatus::InTransit,
            carrier_status_code: "20".into(),
            carrier_status_text: "In transit".into(),
            location: "Shenzhen".into(),
            raw_payload: "{}".into(),
        }
    }

    #[test]
    fn a_carriers_nul_becomes_the_replacement_character_and_the_rest_is_kept() {
        let clean = event(Some("e-1"));
        assert!(!clean.has_nul());
        let mut dirty = clean.clone();
        dirty.location = "Shen\0zhen".into();
        dirty.raw_payload = "{\"x\":\"a\0\"}".into();
        assert!(dirty.has_nul());
        let fixed = dirty.without_nul();
        assert!(!fixed.has_nul());
        assert_eq!(fixed.location, "Shen\u{fffd}zhen");
        assert_eq!(fixed.raw_payload, "{\"x\":\"a\u{fffd}\"}");
        assert_eq!(fixed.event_key(), clean.event_key());
        assert_eq!(fixed.carrier_status_text, clean.carrier_status_text);
    }

    #[test]
    fn r22_event_key_is_the_carrier_id_or_a_stable_hash() {
        assert_eq!(event(Some("e-1")).event_key(), "id:e-1");
        let hashed = event(None).event_key();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 32);
        assert_eq!(hashed, event(Some("")).event_key());
        let mut later = event(None);
        later.occurred_at += chrono::Duration::seconds(1);
        assert_ne!(hashed, later.event_key());
        // The text and raw payload are not part of the identity: a re-worded redelivery is the same event.
        let mut reworded = event(None);
        reworded.carrier_status_text = "En tránsito".into();
        reworded.raw_payload = "{\"x\":1}".into();
        assert_eq!(hashed, reworded.event_key());
    }
}
