use super::answer::{parse_time, parse_xml, report};
use super::*;
use crate::TrackingStatus;
use TrackingStatus::*;

#[test]
fn every_status_number() {
    // Written out again, not read from STATUSES, so a changed row fails here.
    let expected: [TrackingStatus; 30] = [
        InfoReceived,  // 1 order created
        InTransit,     // 2 picked up
        InTransit,     // 3
        InTransit,     // 4
        InTransit,     // 5
        Exception,     // 6 returned by the first-mile sorting centre
        InTransit,     // 7
        InTransit,     // 8
        InTransit,     // 9
        Exception,     // 10 returned by the logistics provider
        InTransit,     // 11
        Exception,     // 12 origin customs clearance failed
        InTransit,     // 13
        InTransit,     // 14
        InTransit,     // 15
        InTransit,     // 16
        InTransit,     // 17
        Exception,     // 18 destination customs clearance failed
        InTransit,     // 19
        InTransit,     // 20
        InTransit,     // 21
        FailedAttempt, // 22 delivery attempted
        Delivered,     // 23 delivered
        Delivered,     // 24 signed for
        Exception,     // 25 returned from abroad
        InTransit,     // 26
        Expired,       // 27 tracking ended
        InTransit,     // 28
        InTransit,     // 29
        InTransit,     // 30
    ];
    for (i, ((code, ..), status)) in STATUSES.iter().zip(expected).enumerate() {
        assert_eq!(*code, (i + 1).to_string());
        assert_eq!(normalize(code), status, "{code}");
    }
}

#[test]
fn cancelled_by_number_or_description() {
    assert_eq!(normalize("Cancelled"), Cancelled);
    assert_eq!(normalize("CANCELED"), Cancelled);
    assert_eq!(normalize_event("", "Cancelled"), Cancelled);
    assert_eq!(normalize_event("31", "已取消"), Cancelled);
    assert_eq!(normalize_event("23", "Cancelled"), Cancelled);
}

#[test]
fn unknown_number_is_not_a_scan() {
    assert_eq!(normalize_event("99", "妥投"), InfoReceived);
}

#[test]
fn dates() {
    assert_eq!(
        parse_time("2024/03/01 09:12:00").unwrap().to_rfc3339(),
        "2024-03-01T01:12:00+00:00"
    );
    assert_eq!(
        parse_time("2024-03-01 09:12:00").unwrap().to_rfc3339(),
        "2024-03-01T01:12:00+00:00"
    );
    assert_eq!(
        parse_time("2024-03-01T09:12:00+08:00")
            .unwrap()
            .to_rfc3339(),
        "2024-03-01T01:12:00+00:00"
    );
    assert!(parse_time("soon").is_err());
}

#[test]
fn request_escapes_every_value() {
    let body = request_body("t<k>&", " LM1&2 ");
    assert!(
        body.contains("<access_token>t&lt;k&gt;&amp;</access_token>"),
        "{body}"
    );
    assert!(
        body.contains("<track><barcode>LM1&amp;2</barcode></track>"),
        "{body}"
    );
    assert!(body.contains("<language>cn</language>"), "{body}");
}

#[test]
fn element_names_in_either_case() {
    let xml = r#"<root><status>0</status><tracks barcode="A1"><track><date>2024/03/01 09:12:00</date><status_Number>2</status_Number><status_Desc>揽件</status_Desc><remark/><city>Shenzhen</city><state/><country_Code>CN</country_Code></track></tracks></root>"#;
    let report = report("A1", parse_xml(xml).unwrap()).unwrap();
    let e = &report.events[0];
    assert_eq!(e.carrier_status_code, "2");
    assert_eq!(e.status, InTransit);
    assert_eq!(e.location, "Shenzhen, CN");
    assert!(
        e.raw_payload.starts_with("<track><date>"),
        "{}",
        e.raw_payload
    );
    assert!(e.raw_payload.ends_with("</track>"), "{}", e.raw_payload);
    assert!(parse_xml("<html/>").is_err());
    assert!(parse_xml("<root><status>0</root>").is_err());
}
