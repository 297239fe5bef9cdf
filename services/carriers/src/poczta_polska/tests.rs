use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};

use super::answer::parse_xml;
use super::warsaw_time::last_sunday;
use super::*;
use crate::TrackingStatus;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn is_sunday(d: NaiveDate) -> bool {
    d.weekday() == chrono::Weekday::Sun
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

#[test]
fn codes_of_the_public_test_answer() {
    use TrackingStatus::*;
    // Every code the `testp0` answer carries, with what its name says.
    let cases = [
        ("P_NAD", "Nadanie", InTransit),
        ("P_WZL", "Wysłanie z ładunkiem", InTransit),
        ("P_PZL", "Przyjęcie z ładunkiem", InTransit),
        // Handed to the postman for delivery: out for delivery, not merely moving.
        ("P_WD", "Wydanie doręczycielowi", OutForDelivery),
        ("P_A", "Awizo", AvailableForPickup),
        ("P_D", "Doręczenie", Delivered),
    ];
    for (code, name, status) in cases {
        assert_eq!(normalize(code), Some(status), "{code}");
        assert_eq!(normalize_event(code, name), status, "{code}");
    }
}

#[test]
fn every_known_code_has_a_reading_by_its_kind() {
    use TrackingStatus::*;
    for (code, name, status) in EVENT_CODES {
        assert_eq!(normalize(code), Some(status), "{code}");
        let lower = name.to_lowercase();
        // Spot checks of the table against the names: a return is never delivered, a
        // failed delivery never delivered, a notification never a scan.
        if lower.contains("zwrot przesyłki do") || lower.contains("o zwrocie") {
            assert_eq!(status, Exception, "{code} {name}");
        }
        if lower.starts_with("nieudane doręczenie") {
            assert_ne!(status, Delivered, "{code} {name}");
        }
        if lower.starts_with("wysłanie e-mail") || lower.starts_with("wysłanie sms") {
            assert!(!status.is_scan(), "{code} {name}");
        }
    }
    let mut codes: Vec<&str> = EVENT_CODES.iter().map(|(c, ..)| *c).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), EVENT_CODES.len(), "a code listed twice");
    assert_eq!(normalize("P_XYZ"), None);
}

#[test]
fn unknown_codes_are_read_safely_from_their_name() {
    use TrackingStatus::*;
    let cases = [
        ("Zwrot do nadawcy", Exception),
        ("Przesyłka zwrócona", Exception),
        ("Doręczenie", InfoReceived),
        ("Awizo - przesyłka czeka na odbiór", InfoReceived),
        ("Wysłanie z urzędu wymiany", InfoReceived),
    ];
    for (name, status) in cases {
        assert_eq!(normalize_event("P_NEW", name), status, "{name}");
    }
}

#[test]
fn last_sundays() {
    assert_eq!(last_sunday(2024, 3), NaiveDate::from_ymd_opt(2024, 3, 31));
    assert_eq!(last_sunday(2024, 10), NaiveDate::from_ymd_opt(2024, 10, 27));
    assert_eq!(last_sunday(2025, 3), NaiveDate::from_ymd_opt(2025, 3, 30));
    assert_eq!(last_sunday(2025, 10), NaiveDate::from_ymd_opt(2025, 10, 26));
    assert_eq!(last_sunday(2020, 12), NaiveDate::from_ymd_opt(2020, 12, 27));
    for year in 2000..2040 {
        for month in [3, 10] {
            let d = last_sunday(year, month).unwrap();
            assert!(is_sunday(d) && d.day() > 24, "{d}");
        }
    }
}

#[test]
fn summer_time_bounds() {
    assert!(!is_eu_summer_time(utc("2024-03-31T00:59:59Z")));
    assert!(is_eu_summer_time(utc("2024-03-31T01:00:00Z")));
    assert!(is_eu_summer_time(utc("2024-10-27T00:59:59Z")));
    assert!(!is_eu_summer_time(utc("2024-10-27T01:00:00Z")));
    assert!(!is_eu_summer_time(utc("2024-01-15T12:00:00Z")));
    assert!(is_eu_summer_time(utc("2024-07-15T12:00:00Z")));
}

#[test]
fn warsaw_local_to_utc() {
    let cases = [
        ("2020-01-02 10:15", "2020-01-02T09:15:00Z"), // CET
        ("2020-07-02 10:15", "2020-07-02T08:15:00Z"), // CEST
        ("2024-03-31 01:59", "2024-03-31T00:59:00Z"), // last minute of winter time
        ("2024-03-31 03:00", "2024-03-31T01:00:00Z"), // first minute of summer time
        ("2024-03-31 02:30", "2024-03-31T01:30:00Z"), // skipped hour: read as CET
        ("2024-10-27 01:30", "2024-10-26T23:30:00Z"),
        ("2024-10-27 02:30", "2024-10-27T00:30:00Z"), // twice: the summer one
        ("2024-10-27 03:00", "2024-10-27T02:00:00Z"), // winter time again
        ("2024-12-31 23:30", "2024-12-31T22:30:00Z"),
    ];
    for (wall, expected) in cases {
        assert_eq!(warsaw_to_utc(local(wall)), utc(expected), "{wall}");
    }
}

#[test]
fn request_escapes_every_value() {
    let body = request_body("u<s", "p&w\"", " RR<1>&2 ");
    assert!(
        body.contains("<wsse:Username>u&lt;s</wsse:Username>"),
        "{body}"
    );
    assert!(body.contains(">p&amp;w&quot;</wsse:Password>"), "{body}");
    assert!(
        body.contains("<sled:numer>RR&lt;1&gt;&amp;2</sled:numer>"),
        "{body}"
    );
}

#[test]
fn entities_and_raw_events() {
    let xml = r#"<s:Envelope xmlns:s="x"><s:Body><ns:sprawdzPrzesylkeResponse xmlns:ns="y"><ns:return xmlns:ax="z">
<ax:danePrzesylki><ax:zdarzenia>
<ax:zdarzenie><ax:czas>2020-01-02 10:15</ax:czas><ax:jednostka><ax:nazwa>UP A &amp; B&#32;1</ax:nazwa></ax:jednostka><ax:kod>P_NAD</ax:kod><ax:konczace>false</ax:konczace><ax:nazwa>Nadanie</ax:nazwa><ax:przyczyna/></ax:zdarzenie>
</ax:zdarzenia></ax:danePrzesylki><ax:numer>RR1</ax:numer><ax:status>0</ax:status></ns:return></ns:sprawdzPrzesylkeResponse></s:Body></s:Envelope>"#;
    let parsed = parse_xml(xml).unwrap();
    assert_eq!(parsed.status.as_deref(), Some("0"));
    assert_eq!(parsed.number.as_deref(), Some("RR1"));
    let e = &parsed.events[0];
    assert_eq!(e.unit, "UP A & B 1");
    assert_eq!(e.name, "Nadanie");
    assert!(e.raw.starts_with("<ax:zdarzenie><ax:czas>"), "{}", e.raw);
    assert!(e.raw.ends_with("</ax:zdarzenie>"), "{}", e.raw);
    assert!(parse_xml("<a><b></a>").is_err());
    assert!(parse_xml("{}").is_err());
}
