//! Each carrier creates its shipment, the order ships with its number, and its label prints (R19).

use fulfillment_carriers::dispatch::{paczka_w_ruchu, poczta_polska};
use fulfillment_proto::v1 as pb;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};

use crate::fakes::*;
use crate::harness::*;

#[tokio::test]
async fn each_carrier_creates_its_shipment_and_the_order_ships_with_its_tracking_number() {
    let mut h = Harness::start().await;
    let inpost = h.inpost_account().await;
    let poczta = h.poczta_account().await;
    let ruch = h.ruch_account().await;
    for id in ["o-inpost", "o-poczta", "o-ruch"] {
        h.release(id).await;
    }
    expect_each_carriers_create(&h).await;
    for (req, carrier, number) in one_request_per_carrier(&inpost, &poczta, &ruch) {
        ships_with_the_carriers_number(&mut h, req, carrier, number).await;
    }
    every_carriers_label_prints(&mut h).await;
}

/// What each carrier is sent, once.
async fn expect_each_carriers_create(h: &Harness) {
    // InPost: the buyer's delivery data and our order id as the reference.
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .and(header(
            "authorization",
            format!("Bearer {INPOST_TOKEN}").as_str(),
        ))
        .and(body_partial_json(json!({
            "receiver": {
                "first_name": "Anna Maria",
                "last_name": "Kowalska",
                "phone": "501202303",
                "address": {"street": "ul. Długa", "building_number": "5/3", "city": "Kraków",
                            "post_code": "30-001", "country_code": "PL"},
            },
            "parcels": [{"template": "small"}],
            "custom_attributes": {"target_point": "KRA010", "sending_method": "parcel_locker",
                                  "dropoff_point": "WAW01A"},
            "reference": "o-inpost",
        })))
        .respond_with(json_answer(201, fixture("inpost/shipment_confirmed.json")))
        .expect(1)
        .mount(&h.inpost)
        .await;
    // Poczta Polska: Basic auth, the parcel with its weight and the account's default size, as
    // en.wsdl's pocztex2021Type child elements (not attributes).
    soap(poczta_polska::soap_action("addShipment"))
        .and(path(EN_PATH))
        .and(body_string_contains(r#"opis="o-poczta""#))
        .and(body_string_contains("<masa>1200</masa>"))
        .and(body_string_contains("<format>M</format>"))
        .respond_with(EchoGuid)
        .expect(1)
        .mount(&h.poczta)
        .await;
    // Paczka w Ruchu: the pickup point, the sender, our order id on the label.
    soap(paczka_w_ruchu::soap_action("GenerateLabelBusinessPack"))
        .and(path(PWR_PATH))
        .and(body_string_contains(
            "<DestinationCode>KR-116263</DestinationCode>",
        ))
        .and(body_string_contains("<SenderOrders>o-ruch</SenderOrders>"))
        .and(body_string_contains("<SenderCity>Warszawa</SenderCity>"))
        .respond_with(xml(fixture("paczka_w_ruchu/generate_label_ok.xml")))
        .expect(1)
        .mount(&h.ruch)
        .await;
}

/// A request per carrier with what it needs, the carrier's name and the number it answers.
fn one_request_per_carrier(
    inpost: &str,
    poczta: &str,
    ruch: &str,
) -> [(pb::CreateShipmentsRequest, &'static str, &'static str); 3] {
    let mut to_locker = request(inpost, &["o-inpost"]);
    to_locker.target_points = [("o-inpost".to_string(), "KRA010".to_string())].into();
    let mut parcel = request(poczta, &["o-poczta"]);
    parcel.weight_grams = 1_200;
    parcel.shipment_type = pb::DispatchShipmentType::Parcel as i32;
    let mut to_point = request(ruch, &["o-ruch"]);
    to_point.target_points = [("o-ruch".to_string(), "KR-116263".to_string())].into();
    to_point.sender = Some(sender());
    to_point.sender_email = "sklep@example.com".into();
    [
        (to_locker, "inpost", INPOST_NUMBER),
        (parcel, "poczta-polska", PP_NUMBER),
        (to_point, "paczka-w-ruchu", PWR_NUMBER),
    ]
}

async fn ships_with_the_carriers_number(
    h: &mut Harness,
    req: pb::CreateShipmentsRequest,
    carrier: &str,
    number: &str,
) {
    let order_id = req.order_ids[0].clone();
    let results = h.create(req).await;
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r.outcome, CREATED, "{carrier}: {r:?}");
    assert_eq!(r.order_id, order_id);
    assert_eq!(r.carrier, carrier);
    assert_eq!(r.tracking_number, number);
    assert!(!r.carrier_shipment_id.is_empty() && r.shipment_id.starts_with("sh-"));

    let order = h.order(&order_id).await;
    assert_eq!(order.state, pb::OrderState::Shipped as i32, "{carrier}");
    let tracking = order.tracking.unwrap();
    assert_eq!(tracking.carrier, carrier);
    assert_eq!(tracking.tracking_number, number);
    assert_eq!(tracking.origin_country, "PL");
    let shipments = h.shipments(&order_id);
    assert_eq!(shipments.len(), 1, "{carrier}: {shipments:?}");
    assert_eq!(shipments[0].0, "CREATED");
    assert_eq!(shipments[0].2.as_deref(), Some(number));
    assert_eq!(h.events(&order_id, "shipped"), 1);
}

/// Every carrier's label, one PDF per order.
async fn every_carriers_label_prints(h: &mut Harness) {
    Mock::given(method("GET"))
        .and(path("/v1/shipments/49201373/label"))
        .respond_with(pdf())
        .expect(1)
        .mount(&h.inpost)
        .await;
    soap(poczta_polska::soap_action("getAddresLabelByGuid"))
        .respond_with(xml(fixture("poczta_polska/label.xml")))
        .expect(1)
        .mount(&h.poczta)
        .await;
    soap(paczka_w_ruchu::soap_action("LabelPrintDuplicate"))
        .and(body_string_contains(format!(
            "<PackCode>{PWR_NUMBER}</PackCode>"
        )))
        .respond_with(xml(fixture("paczka_w_ruchu/label_duplicate.xml")))
        .expect(1)
        .mount(&h.ruch)
        .await;
    let labels = h.labels(&["o-inpost", "o-poczta", "o-ruch"]).await;
    assert!(labels.unavailable.is_empty(), "{:?}", labels.unavailable);
    assert_eq!(
        labels.labelled_order_ids,
        ["o-inpost", "o-poczta", "o-ruch"]
    );
    assert_eq!(labels.labels.len(), 3);
    for label in &labels.labels {
        assert!(label.pdf.starts_with(b"%PDF"), "{}", label.order_id);
    }
    assert_eq!(labels.labels[1].carrier, "poczta-polska");
    assert_eq!(labels.labels[1].tracking_number, PP_NUMBER);
    // Several labels: no merged document, each in `labels`.
    assert!(labels.pdf.is_empty());
}
