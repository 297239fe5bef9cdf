//! Reading a WishPost answer: one pass over the XML (element names in either ASCII case), then
//! the report for the barcode we asked about.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::statuses::normalize_event;
use crate::error::{TrackError, excerpt};
use crate::xml::push_text;
use crate::{CarrierEvent, TrackReport};

/// What the parser keeps of an answer.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    saw_root: bool,
    status: Option<String>,
    error_message: Option<String>,
    tracks: Vec<Tracks>,
}

/// One `tracks` element: one barcode's answer.
#[derive(Debug, Default)]
struct Tracks {
    barcode: String,
    error_message: String,
    entries: Vec<Entry>,
}

/// One `track` element: one checkpoint.
#[derive(Debug, Default)]
struct Entry {
    date: String,
    status_number: String,
    status_desc: String,
    remark: String,
    city: String,
    state: String,
    country_code: String,
    raw: String,
}

impl Parsed {
    /// The error a non-zero root `status` stands for.
    pub(super) fn request_error(&self, http_status: u16) -> Option<TrackError> {
        let status = self.status.as_deref()?.trim();
        if status == "0" {
            return None;
        }
        let message = self.error_message.clone().unwrap_or_default();
        let lower = message.to_lowercase();
        Some(
            if lower.contains("token") || lower.contains("auth") || http_status == 401 {
                TrackError::Unauthorized
            } else if lower.contains("invalid barcode") {
                TrackError::NotFound
            } else {
                TrackError::Carrier {
                    status: http_status,
                    message: format!("status {status}: {}", excerpt(message.as_bytes())),
                }
            },
        )
    }
}

fn malformed(e: impl std::fmt::Display) -> TrackError {
    TrackError::Malformed(format!("WishPost XML: {e}"))
}

/// The lower-cased local name of an element (see the module doc on case).
fn name_of(e: &BytesStart<'_>) -> Result<String, TrackError> {
    std::str::from_utf8(e.local_name().as_ref())
        .map(str::to_ascii_lowercase)
        .map_err(malformed)
}

/// The value of an attribute, by lower-cased local name.
fn attribute(e: &BytesStart<'_>, wanted: &str) -> Result<Option<String>, TrackError> {
    for attr in e.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = std::str::from_utf8(attr.key.local_name().as_ref())
            .map_err(malformed)?
            .to_ascii_lowercase();
        if key == wanted {
            let value = attr.unescape_value().map_err(malformed)?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The 2xx answer parser alone, for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, xml: &str) -> Result<TrackReport, TrackError> {
    report(requested, parse_xml(xml)?)
}

/// Walks the answer once, keeping the root status and message, and each `tracks` with its
/// `track` entries (with their XML text as received, for the raw payload).
pub(super) fn parse_xml(xml: &str) -> Result<Parsed, TrackError> {
    let mut reader = Reader::from_str(xml);
    let mut parsed = Parsed::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut entry: Option<(usize, Entry)> = None;

    loop {
        let event = reader.read_event().map_err(malformed)?;
        let position = usize::try_from(reader.buffer_position()).map_err(malformed)?;
        match event {
            Event::Start(e) | Event::Empty(e) if path.is_empty() => {
                let name = name_of(&e)?;
                if name != "root" {
                    return Err(malformed(format!("the answer is <{name}>, not <root>")));
                }
                parsed.saw_root = true;
                path.push(name);
            }
            Event::Start(e) => {
                let name = name_of(&e)?;
                open(&e, &name, &path, &mut parsed, &mut entry, position)?;
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = name_of(&e)?;
                open(&e, &name, &path, &mut parsed, &mut entry, position)?;
                path.push(name);
                close(&path, "", &mut parsed, &mut entry, xml, position);
                path.pop();
                text.clear();
            }
            Event::End(e) => {
                let name = std::str::from_utf8(e.local_name().as_ref())
                    .map_err(malformed)?
                    .to_ascii_lowercase();
                if path.last() != Some(&name) {
                    return Err(malformed(format!("unexpected </{name}>")));
                }
                close(&path, text.trim(), &mut parsed, &mut entry, xml, position);
                text.clear();
                path.pop();
            }
            Event::Eof => break,
            other => push_text(&other, &mut text).map_err(malformed)?,
        }
    }
    if !parsed.saw_root || !path.is_empty() {
        return Err(malformed("not a complete <root> answer"));
    }
    Ok(parsed)
}

/// An element opens below `path`: a `tracks` or a `track` begins.
fn open(
    e: &BytesStart<'_>,
    name: &str,
    path: &[String],
    parsed: &mut Parsed,
    entry: &mut Option<(usize, Entry)>,
    position: usize,
) -> Result<(), TrackError> {
    match (path, name) {
        ([root], "tracks") if root == "root" => parsed.tracks.push(Tracks {
            barcode: attribute(e, "barcode")?.unwrap_or_default(),
            error_message: attribute(e, "error_message")?.unwrap_or_default(),
            entries: Vec::new(),
        }),
        ([_, tracks], "track") if tracks == "tracks" => {
            // The tag is `<` + its content + `>` (or `/>`), ending at `position`.
            let start = position.saturating_sub(e.len() + 2);
            *entry = Some((start, Entry::default()));
        }
        _ => {}
    }
    Ok(())
}

/// The element at the end of `path` closes with `value`.
fn close(
    path: &[String],
    value: &str,
    parsed: &mut Parsed,
    entry: &mut Option<(usize, Entry)>,
    xml: &str,
    position: usize,
) {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["root", "status"] => parsed.status = Some(value.to_owned()),
        ["root", "error_message"] => parsed.error_message = Some(value.to_owned()),
        ["root", "tracks", "track"] => {
            if let (Some((start, mut done)), Some(tracks)) =
                (entry.take(), parsed.tracks.last_mut())
            {
                done.raw = xml.get(start..position).unwrap_or_default().to_owned();
                tracks.entries.push(done);
            }
        }
        ["root", "tracks", "track", field] => {
            if let Some((_, e)) = entry.as_mut() {
                let slot = match *field {
                    "date" => &mut e.date,
                    "status_number" => &mut e.status_number,
                    "status_desc" => &mut e.status_desc,
                    "remark" => &mut e.remark,
                    "city" => &mut e.city,
                    "state" => &mut e.state,
                    "country_code" => &mut e.country_code,
                    _ => return,
                };
                *slot = value.to_owned();
            }
        }
        _ => {}
    }
}

pub(super) fn report(requested: &str, parsed: Parsed) -> Result<TrackReport, TrackError> {
    if parsed.status.is_none() {
        return Err(malformed("no <status> in <root>"));
    }
    if let Some(err) = parsed.request_error(200) {
        return Err(err);
    }
    // We ask about one barcode; an answer naming another one is not ours.
    let mut tracks = parsed.tracks;
    let index = match tracks.len() {
        0 => return Err(malformed("no <tracks> in the answer")),
        1 if tracks[0].barcode.is_empty() => 0,
        _ => tracks
            .iter()
            .position(|t| t.barcode.trim().eq_ignore_ascii_case(requested))
            .ok_or_else(|| malformed("no <tracks> for the requested barcode"))?,
    };
    let tracks = tracks.swap_remove(index);
    if !tracks.error_message.trim().is_empty() {
        let lower = tracks.error_message.to_lowercase();
        return Err(
            if lower.contains("invalid barcode") || lower.contains("not found") {
                TrackError::NotFound
            } else {
                TrackError::Carrier {
                    status: 200,
                    message: format!(
                        "barcode error: {}",
                        excerpt(tracks.error_message.as_bytes())
                    ),
                }
            },
        );
    }
    let events = tracks
        .entries
        .into_iter()
        .map(event)
        .collect::<Result<Vec<_>, TrackError>>()?;
    Ok(TrackReport {
        tracking_number: if tracks.barcode.trim().is_empty() {
            requested.to_owned()
        } else {
            tracks.barcode.trim().to_owned()
        },
        events,
    })
}

fn event(entry: Entry) -> Result<CarrierEvent, TrackError> {
    let status = normalize_event(&entry.status_number, &entry.status_desc);
    // The code is the number; an event with only a description (a `Cancelled` with no
    // number) keeps the description as its code, so R21's "carrier code" is never empty.
    let code = if entry.status_number.is_empty() {
        entry.status_desc.clone()
    } else {
        entry.status_number.clone()
    };
    if code.is_empty() {
        return Err(malformed("a <track> without status_number or status_desc"));
    }
    let place: Vec<&str> = [&entry.city, &entry.state, &entry.country_code]
        .into_iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    // `remark` is where the PHP client reads the place from; city/state/country, when
    // WishPost fills them, are more precise.
    let location = if place.is_empty() {
        entry.remark.trim().to_owned()
    } else {
        place.join(", ")
    };
    Ok(CarrierEvent {
        event_id: None,
        occurred_at: parse_time(&entry.date)?,
        status,
        carrier_status_code: code,
        carrier_status_text: entry.status_desc,
        location,
        raw_payload: entry.raw,
    })
}

/// RFC 3339, or a zone-less date read as UTC+8 (see the module doc).
pub(super) fn parse_time(value: &str) -> Result<DateTime<Utc>, TrackError> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let china = FixedOffset::east_opt(8 * 3600).ok_or_else(|| malformed("bad offset"))?;
    [
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
    .and_then(|t| china.from_local_datetime(&t).single())
    .map(|t| t.with_timezone(&Utc))
    .ok_or_else(|| malformed(format!("bad date {value:?}")))
}
