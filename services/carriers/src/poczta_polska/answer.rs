//! Reading a Sledzenie answer: one pass over the XML by local names, then the report.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::event_codes::normalize_event;
use super::warsaw_time::{parse_local_time, warsaw_to_utc};
use crate::error::{TrackError, excerpt};
use crate::xml::push_text;
use crate::{CarrierEvent, TrackReport};

/// What the parser keeps of an answer.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub(super) status: Option<String>,
    pub(super) number: Option<String>,
    pub(super) events: Vec<RawEvent>,
    pub(super) fault: Option<Fault>,
}

#[derive(Debug, Default)]
pub(super) struct RawEvent {
    pub(super) time: String,
    pub(super) code: String,
    pub(super) name: String,
    pub(super) unit: String,
    pub(super) reason: String,
    pub(super) raw: String,
}

#[derive(Debug, Default)]
pub(super) struct Fault {
    code: String,
    text: String,
}

impl Fault {
    pub(super) fn into_error(self, http_status: u16) -> TrackError {
        let all = format!("{} {}", self.code, self.text).to_lowercase();
        if all.contains("failedauthentication")
            || all.contains("authenticat")
            || all.contains("security")
        {
            TrackError::Unauthorized
        } else {
            TrackError::Carrier {
                status: http_status,
                message: format!(
                    "SOAP fault {}: {}",
                    self.code,
                    excerpt(self.text.as_bytes())
                ),
            }
        }
    }
}

pub(super) fn malformed(e: impl std::fmt::Display) -> TrackError {
    TrackError::Malformed(format!("Sledzenie XML: {e}"))
}

/// The 2xx answer parser alone (SOAP fault included), for the fuzz targets in `fuzz/`; not
/// part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, xml: &str) -> Result<TrackReport, TrackError> {
    let parsed = parse_xml(xml)?;
    if let Some(fault) = parsed.fault {
        return Err(fault.into_error(200));
    }
    report(requested, parsed)
}

/// Walks the answer once, by local names, keeping the return status, the events (with their
/// XML text as received) and any SOAP fault.
pub(super) fn parse_xml(xml: &str) -> Result<Parsed, TrackError> {
    let mut reader = Reader::from_str(xml);
    let mut parsed = Parsed::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut current: Option<(usize, RawEvent)> = None;
    let mut saw_envelope = false;

    loop {
        let event = reader.read_event().map_err(malformed)?;
        let position = usize::try_from(reader.buffer_position()).map_err(malformed)?;
        match event {
            Event::Start(e) => {
                let name = local(e.local_name().as_ref())?;
                if name == "Envelope" {
                    saw_envelope = true;
                }
                if name == "zdarzenie" && current.is_none() {
                    // The start tag is `<` + its content + `>`, ending at `position`.
                    let start = position.saturating_sub(e.len() + 2);
                    current = Some((start, RawEvent::default()));
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = local(e.local_name().as_ref())?;
                path.push(name);
                text.clear();
                assign(&path, "", &mut parsed, &mut current);
                path.pop();
            }
            Event::End(e) => {
                let name = local(e.local_name().as_ref())?;
                if path.last() != Some(&name) {
                    return Err(malformed(format!("unexpected </{name}>")));
                }
                assign(&path, text.trim(), &mut parsed, &mut current);
                text.clear();
                if name == "zdarzenie"
                    && let Some((start, mut event)) = current.take()
                {
                    event.raw = xml.get(start..position).unwrap_or_default().to_owned();
                    parsed.events.push(event);
                }
                path.pop();
            }
            Event::Eof => break,
            other => push_text(&other, &mut text).map_err(malformed)?,
        }
    }
    if !saw_envelope || !path.is_empty() {
        return Err(malformed("not a complete SOAP envelope"));
    }
    Ok(parsed)
}

fn local(name: &[u8]) -> Result<String, TrackError> {
    std::str::from_utf8(name)
        .map(str::to_owned)
        .map_err(malformed)
}

/// Stores the text of the element that just closed, by where it sits.
fn assign(
    path: &[String],
    value: &str,
    parsed: &mut Parsed,
    current: &mut Option<(usize, RawEvent)>,
) {
    let tail = |n: usize| -> Vec<&str> {
        path.iter()
            .rev()
            .take(n)
            .rev()
            .map(String::as_str)
            .collect()
    };
    if let Some((_, event)) = current.as_mut() {
        match tail(3).as_slice() {
            [_, "zdarzenie", "czas"] => event.time = value.to_owned(),
            [_, "zdarzenie", "kod"] => event.code = value.to_owned(),
            [_, "zdarzenie", "nazwa"] => event.name = value.to_owned(),
            ["zdarzenie", "jednostka", "nazwa"] => event.unit = value.to_owned(),
            ["zdarzenie", "przyczyna", "nazwa"] => event.reason = value.to_owned(),
            _ => {}
        }
        return;
    }
    match tail(2).as_slice() {
        ["return", "status"] => parsed.status = Some(value.to_owned()),
        ["return", "numer"] => parsed.number = Some(value.to_owned()),
        ["Fault", "faultcode"] => {
            parsed.fault.get_or_insert_with(Fault::default).code = value.into()
        }
        ["Fault", "faultstring"] => {
            parsed.fault.get_or_insert_with(Fault::default).text = value.into();
        }
        _ => {}
    }
}

pub(super) fn report(requested: &str, parsed: Parsed) -> Result<TrackReport, TrackError> {
    let status = parsed
        .status
        .ok_or_else(|| malformed("no sprawdzPrzesylkeResponse/return/status"))?;
    match status.as_str() {
        "0" | "2" => {}
        // Another parcel shares the number: the service still describes one of them.
        "1" => tracing::warn!("Poczta Polska: several parcels share this tracking number"),
        // -1: no such parcel; -2: the number is invalid, which the service will never know.
        "-1" | "-2" => return Err(TrackError::NotFound),
        other => {
            return Err(TrackError::Carrier {
                status: 200,
                message: format!("Sledzenie status {other}"),
            });
        }
    }
    let events = parsed
        .events
        .into_iter()
        .map(|e| {
            let local = parse_local_time(&e.time)?;
            let text = if e.reason.is_empty() {
                e.name.clone()
            } else {
                format!("{} ({})", e.name, e.reason)
            };
            Ok(CarrierEvent {
                event_id: None,
                occurred_at: warsaw_to_utc(local),
                status: normalize_event(&e.code, &e.name),
                carrier_status_code: e.code,
                carrier_status_text: text,
                location: e.unit,
                raw_payload: e.raw,
            })
        })
        .collect::<Result<Vec<_>, TrackError>>()?;
    Ok(TrackReport {
        tracking_number: parsed
            .number
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| requested.to_owned()),
        events,
    })
}
