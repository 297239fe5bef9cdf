//! GetLabels, and requests refused before anything is sent.

use fulfillment_proto::v1 as pb;
use tonic::Code;
use wiremock::Mock;
use wiremock::matchers::{header, method, path};

use crate::common::error_reason;
use crate::fakes::*;
use crate::harness::*;

#[tokio::test]
async fn labels_are_pdfs_while_the_carrier_keeps_them_and_say_why_when_not() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    for id in ["o-kept", "o-gone", "o-none"] {
        h.release(id).await;
    }
    mount_inpost_create(&h.inpost, ShipX::default()).await;
    let created = h.create(request(&account, &["o-kept", "o-gone"])).await;
    assert!(created.iter().all(|r| r.outcome == CREATED), "{created:?}");
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1/shipments/{}/label",
            created[0].carrier_shipment_id
        )))
        .and(header(
            "authorization",
            format!("Bearer {INPOST_TOKEN}").as_str(),
        ))
        .respond_with(pdf())
        .mount(&h.inpost)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1/shipments/{}/label",
            created[1].carrier_shipment_id
        )))
        .respond_with(json_answer(404, fixture("inpost/label_not_found.json")))
        .mount(&h.inpost)
        .await;

    let one = h.labels(&["o-kept"]).await;
    assert!(one.pdf.starts_with(b"%PDF-"), "one label: `pdf` holds it");
    assert_eq!(one.labelled_order_ids, ["o-kept"]);

    let many = h.labels(&["o-gone", "o-kept", "o-none", "o-missing"]).await;
    assert_eq!(many.labelled_order_ids, ["o-kept"]);
    assert_eq!(many.labels[0].tracking_number, created[0].tracking_number);
    assert!(many.labels[0].pdf.starts_with(b"%PDF-"));
    let reasons: Vec<(&str, &str)> = many
        .unavailable
        .iter()
        .map(|u| (u.order_id.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("o-gone", "LABEL_GONE"),
            ("o-none", "NO_SHIPMENT"),
            ("o-missing", "ORDER_NOT_FOUND")
        ]
    );
    assert!(
        many.unavailable[0].message.contains("no longer keeps"),
        "{:?}",
        many.unavailable[0]
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_sent() {
    let mut h = Harness::start().await;
    let account = h.poczta_account().await;
    h.release("o-1").await;

    let mut letter = request(&account, &["o-1"]);
    letter.shipment_type = pb::DispatchShipmentType::UnregisteredLetter as i32;
    let err = h.orders.create_shipments(letter).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        error_reason(&err),
        (
            "UNREGISTERED_LETTER_NOT_SUPPORTED".to_string(),
            vec!["shipment_type".to_string()]
        )
    );
    assert!(err.message().contains("R19"), "{}", err.message());

    let err = h
        .orders
        .create_shipments(request(&account, &["o-1", "o-1"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = h
        .orders
        .create_shipments(request("ca-unknown", &["o-1"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // An order that is not this merchant's is reported, not created.
    let results = h.create(request(&account, &["o-nobody"])).await;
    assert_eq!(results[0].outcome, FAILED);
    assert_eq!(results[0].reason, "ORDER_NOT_FOUND");
    assert!(h.poczta.received_requests().await.unwrap().is_empty());
}
