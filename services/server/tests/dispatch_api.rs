//! Carrier dispatch over gRPC (R19, R20): CreateShipments and GetLabels against a real server
//! and PostgreSQL, with the three carriers faked by wiremock answering the fixtures of
//! `services/carriers/tests/fixtures/dispatch`.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Duration as Days;
use common::{error_reason, release_request, today};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_carriers::dispatch::{paczka_w_ruchu, poczta_polska};
use fulfillment_core::schema::{order_events, orders, outbox, shipments};
use fulfillment_core::secrets::Keyring;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, ManualClock};
use fulfillment_dispatch::dispatch::DispatchConfig;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::connect_carrier_account_request::Settings;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_server::app::{self, ServeOptions};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::Code;
use tonic::transport::Channel;
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const MERCHANT: &str = "m-krakow";
const INPOST_ORG: &str = "5123";
const INPOST_TOKEN: &str = "shipx-eyJhbGciOiJSUzI1NiJ9-SecretToken";
const PP_LOGIN: &str = "sklep-krakow";
const PP_PASSWORD: &str = "pp-Haslo!2026-sekret";
const PWR_PARTNER: &str = "P-100";
const PWR_KEY: &str = "pwr-partner-key-77f1e0";
const INPOST_CREATE: &str = "/v1/organizations/5123/shipments";
const EN_PATH: &str = "/websrv/en.php";
const PWR_PATH: &str = "/WebServicePwR.asmx";
/// The tracking number of `inpost/shipment_confirmed.json`.
const INPOST_NUMBER: &str = "520000011395200025754311";
/// The pack code of `paczka_w_ruchu/generate_label_ok.xml`.
const PWR_NUMBER: &str = "6400217359104";
/// A UPU S10 number for the Poczta Polska answers (R3 holds Poczta Polska to S10).
const PP_NUMBER: &str = "RR123456785PL";

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/../carriers/tests/fixtures/dispatch/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn fixture_bytes(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../carriers/tests/fixtures/dispatch/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn json_answer(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/xml; charset=utf-8")
}

fn pdf() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture_bytes("inpost/label.pdf"), "application/pdf")
}

/// The server with its three fake carriers.
struct Harness {
    db: TestDb,
    orders: FulfillmentServiceClient<Channel>,
    inpost: MockServer,
    poczta: MockServer,
    ruch: MockServer,
    _stop: watch::Sender<bool>,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the server with dispatch pointed at the fakes; `tune` adjusts the rest.
    async fn start_with(tune: impl FnOnce(&mut DispatchConfig)) -> Self {
        let (inpost, poczta, ruch) = tokio::join!(
            MockServer::start(),
            MockServer::start(),
            MockServer::start()
        );
        let mut config = DispatchConfig {
            inpost_url: inpost.uri(),
            poczta_polska_url: format!("{}{EN_PATH}", poczta.uri()),
            paczka_w_ruchu_url: format!("{}{PWR_PATH}", ruch.uri()),
            timeout: Duration::from_secs(5),
            inpost_polls: 2,
            inpost_poll_interval: Duration::from_millis(10),
            ..DispatchConfig::default()
        };
        tune(&mut config);
        let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(today()));
        let mut state = app::app_state(db.pool(12), clock);
        state.keys = Some(Arc::new(Keyring::parse(K1).unwrap()));
        state.dispatch = config;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            app::serve(listener, state, ServeOptions::default(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let mut harness = Self {
            db,
            orders: FulfillmentServiceClient::new(channel),
            inpost,
            poczta,
            ruch,
            _stop: stop,
        };
        harness
            .orders
            .upsert_merchant(pb::UpsertMerchantRequest {
                merchant: Some(pb::Merchant {
                    id: MERCHANT.into(),
                    name: "Sklep Kraków".into(),
                    country: "PL".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        harness
    }

    fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    async fn connect(&mut self, settings: Settings) -> String {
        self.orders
            .connect_carrier_account(pb::ConnectCarrierAccountRequest {
                merchant_id: MERCHANT.into(),
                settings: Some(settings),
            })
            .await
            .unwrap()
            .into_inner()
            .account
            .unwrap()
            .id
    }

    async fn inpost_account(&mut self) -> String {
        self.connect(Settings::Inpost(pb::InpostSettings {
            organization_id: INPOST_ORG.into(),
            api_token: INPOST_TOKEN.into(),
            default_template: "small".into(),
            sending_locker: "WAW01A".into(),
            send_from_locker: true,
        }))
        .await
    }

    async fn poczta_account(&mut self) -> String {
        self.connect(Settings::PocztaPolska(pb::PocztaPolskaSettings {
            login: PP_LOGIN.into(),
            password: PP_PASSWORD.into(),
            account_kind: pb::PocztaPolskaAccountKind::Regular as i32,
            default_sizes: [("pocztex".to_string(), "M".to_string())].into(),
            cod_bank_account: "61 1090 1014 0000 0712 1981 2874".into(),
        }))
        .await
    }

    async fn ruch_account(&mut self) -> String {
        self.connect(Settings::PaczkaWRuchu(pb::PaczkaWRuchuSettings {
            partner_id: PWR_PARTNER.into(),
            partner_key: PWR_KEY.into(),
            default_size: "M".into(),
        }))
        .await
    }

    async fn release(&mut self, order_id: &str) {
        self.orders
            .release_order(release_request(
                MERCHANT,
                order_id,
                today() - Days::days(1),
                buyer(),
            ))
            .await
            .unwrap();
    }

    async fn create(&mut self, request: pb::CreateShipmentsRequest) -> Vec<pb::ShipmentResult> {
        self.orders
            .create_shipments(request)
            .await
            .unwrap()
            .into_inner()
            .results
    }

    async fn order(&mut self, order_id: &str) -> pb::Order {
        self.orders
            .get_order(pb::GetOrderRequest {
                merchant_id: MERCHANT.into(),
                order_id: order_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    async fn labels(&mut self, order_ids: &[&str]) -> pb::GetLabelsResponse {
        self.orders
            .get_labels(pb::GetLabelsRequest {
                merchant_id: MERCHANT.into(),
                order_ids: order_ids.iter().map(|s| s.to_string()).collect(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// (state, carrier_shipment_id, tracking_number) of an order's shipments, oldest first.
    fn shipments(&self, order_id: &str) -> Vec<(String, Option<String>, Option<String>)> {
        shipments::table
            .filter(shipments::order_id.eq(order_id))
            .order((shipments::created_at.asc(), shipments::attempts.asc()))
            .select((
                shipments::state,
                shipments::carrier_shipment_id,
                shipments::tracking_number,
            ))
            .load(&mut self.conn())
            .unwrap()
    }

    fn events(&self, order_id: &str, kind: &str) -> i64 {
        order_events::table
            .filter(order_events::order_id.eq(order_id))
            .filter(order_events::kind.eq(kind))
            .count()
            .get_result(&mut self.conn())
            .unwrap()
    }
}

fn buyer() -> pb::ShippingDetail {
    pb::ShippingDetail {
        name: "Anna Maria Kowalska".into(),
        street_address1: "ul. Długa 5/3".into(),
        street_address2: String::new(),
        city: "Kraków".into(),
        state: String::new(),
        zipcode: "30-001".into(),
        country: "PL".into(),
        phone_number: "+48 501 202 303".into(),
    }
}

fn sender() -> pb::ShippingDetail {
    pb::ShippingDetail {
        name: "Jan Nowak".into(),
        street_address1: "Prosta 1".into(),
        city: "Warszawa".into(),
        zipcode: "00-838".into(),
        country: "PL".into(),
        phone_number: "500600700".into(),
        ..Default::default()
    }
}

fn request(account_id: &str, order_ids: &[&str]) -> pb::CreateShipmentsRequest {
    pb::CreateShipmentsRequest {
        merchant_id: MERCHANT.into(),
        account_id: account_id.into(),
        order_ids: order_ids.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

const CREATED: i32 = pb::ShipmentOutcome::Created as i32;
const SKIPPED: i32 = pb::ShipmentOutcome::Skipped as i32;
const FAILED: i32 = pb::ShipmentOutcome::Failed as i32;

/// ShipX answering a new shipment as bought: the fixture for the first call, then the same
/// with the next id and tracking number, so every shipment has its own.
#[derive(Clone, Default)]
struct ShipX {
    calls: Arc<AtomicUsize>,
}

impl ShipX {
    fn number(n: usize) -> (String, String) {
        if n == 0 {
            ("49201373".into(), INPOST_NUMBER.into())
        } else {
            (format!("{}", 49_300_000 + n), format!("62{n:022}"))
        }
    }
}

impl Respond for ShipX {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let (id, number) = Self::number(n);
        let body = fixture("inpost/shipment_confirmed.json")
            .replace("49201373", &id)
            .replace(INPOST_NUMBER, &number);
        json_answer(201, body)
    }
}

async fn mount_inpost_create(server: &MockServer, responder: impl Respond + 'static) {
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .and(header(
            "authorization",
            format!("Bearer {INPOST_TOKEN}").as_str(),
        ))
        .respond_with(responder)
        .mount(server)
        .await;
}

/// EN answering `addShipment` with the guid it was sent, as it does, and an S10 number.
struct EchoGuid;

impl Respond for EchoGuid {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let guid = body
            .split("guid=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("none")
            .to_owned();
        xml(fixture("poczta_polska/add_shipment_ok.xml")
            .replace("{GUID}", &guid)
            .replace("00659007734100020216", PP_NUMBER))
    }
}

/// A SOAP operation, by its action.
fn soap(action: String) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(header("soapaction", action.as_str()))
}

async fn inpost_posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

#[tokio::test]
async fn each_carrier_creates_its_shipment_and_the_order_ships_with_its_tracking_number() {
    let mut h = Harness::start().await;
    let inpost = h.inpost_account().await;
    let poczta = h.poczta_account().await;
    let ruch = h.ruch_account().await;
    for id in ["o-inpost", "o-poczta", "o-ruch"] {
        h.release(id).await;
    }

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

    let mut to_locker = request(&inpost, &["o-inpost"]);
    to_locker.target_points = [("o-inpost".to_string(), "KRA010".to_string())].into();
    let mut parcel = request(&poczta, &["o-poczta"]);
    parcel.weight_grams = 1_200;
    parcel.shipment_type = pb::DispatchShipmentType::Parcel as i32;
    let mut to_point = request(&ruch, &["o-ruch"]);
    to_point.target_points = [("o-ruch".to_string(), "KR-116263".to_string())].into();
    to_point.sender = Some(sender());
    to_point.sender_email = "sklep@example.com".into();

    for (req, carrier, number) in [
        (to_locker, "inpost", INPOST_NUMBER),
        (parcel, "poczta-polska", PP_NUMBER),
        (to_point, "paczka-w-ruchu", PWR_NUMBER),
    ] {
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

    // Every carrier's label, one PDF per order.
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

#[tokio::test]
async fn a_second_shipment_needs_confirmation_and_then_replaces_the_tracking() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    let shipx = ShipX::default();
    mount_inpost_create(&h.inpost, shipx.clone()).await;

    let first = h.create(request(&account, &["o-1"])).await;
    assert_eq!(first[0].outcome, CREATED, "{first:?}");
    assert_eq!(first[0].tracking_number, INPOST_NUMBER);

    // R20: again without confirmation: skipped, nothing sent.
    let again = h.create(request(&account, &["o-1"])).await;
    assert_eq!(again[0].outcome, SKIPPED, "{again:?}");
    assert_eq!(again[0].reason, "SHIPMENT_EXISTS");
    assert_eq!(again[0].tracking_number, INPOST_NUMBER);
    assert!(again[0].message.contains("confirm_recreate"), "{again:?}");
    assert_eq!(inpost_posts(&h.inpost).await, 1);

    // Confirmed: a new shipment, whose number replaces the old one (R4 history kept).
    let mut confirmed = request(&account, &["o-1"]);
    confirmed.confirm_recreate = true;
    let recreated = h.create(confirmed).await;
    assert_eq!(recreated[0].outcome, CREATED, "{recreated:?}");
    let (_, second_number) = ShipX::number(1);
    assert_eq!(recreated[0].tracking_number, second_number);
    assert_eq!(inpost_posts(&h.inpost).await, 2);
    let order = h.order("o-1").await;
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    assert_eq!(order.tracking.unwrap().tracking_number, second_number);
    let states: Vec<String> = h.shipments("o-1").into_iter().map(|s| s.0).collect();
    assert_eq!(states, ["SUPERSEDED", "CREATED"]);
    assert_eq!(h.events("o-1", "shipped"), 1);
    assert_eq!(h.events("o-1", "tracking_modified"), 1);

    // An order marked shipped by hand is skipped too, unless confirmed.
    h.release("o-2").await;
    h.orders
        .fulfill_order(common::fulfil(MERCHANT, "o-2", "inpost", &"7".repeat(24)))
        .await
        .unwrap();
    let by_hand = h.create(request(&account, &["o-2"])).await;
    assert_eq!(by_hand[0].outcome, SKIPPED);
    assert_eq!(by_hand[0].reason, "ORDER_ALREADY_SHIPPED");
    assert_eq!(inpost_posts(&h.inpost).await, 2);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_answers_with_what_it_created() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    mount_inpost_create(&h.inpost, ShipX::default()).await;
    let call = |key: &str, confirm: bool| {
        let mut req = tonic::Request::new(pb::CreateShipmentsRequest {
            confirm_recreate: confirm,
            ..request(&account, &["o-1"])
        });
        req.metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
        req
    };

    let first = h.orders.create_shipments(call("k-1", false)).await.unwrap();
    let first = first.into_inner().results.remove(0);
    assert_eq!(first.outcome, CREATED);
    let replay = h.orders.create_shipments(call("k-1", false)).await.unwrap();
    assert_eq!(replay.into_inner().results[0], first);

    // A confirmed re-creation retried with its key does not create a third shipment.
    let second = h.orders.create_shipments(call("k-2", true)).await.unwrap();
    let second = second.into_inner().results.remove(0);
    assert_eq!(second.outcome, CREATED);
    assert_ne!(second.tracking_number, first.tracking_number);
    let replay = h.orders.create_shipments(call("k-2", true)).await.unwrap();
    assert_eq!(replay.into_inner().results[0], second);
    assert_eq!(inpost_posts(&h.inpost).await, 2);
    assert_eq!(h.shipments("o-1").len(), 2);
}

#[tokio::test]
async fn rejected_paczka_w_ruchu_credentials_say_they_must_be_fixed_and_the_order_stays_approved() {
    let mut h = Harness::start().await;
    let account = h.ruch_account().await;
    h.release("o-1").await;
    soap(paczka_w_ruchu::soap_action("GenerateLabelBusinessPack"))
        .and(body_string_contains(format!(
            "<PartnerKey>{PWR_KEY}</PartnerKey>"
        )))
        .respond_with(xml(fixture("paczka_w_ruchu/credentials_rejected.xml")))
        .expect(1)
        .mount(&h.ruch)
        .await;
    let mut req = request(&account, &["o-1"]);
    req.target_points = [("o-1".to_string(), "KR-116263".to_string())].into();
    req.sender = Some(sender());

    let results = h.create(req).await;
    let r = &results[0];
    assert_eq!(r.outcome, FAILED, "{r:?}");
    assert_eq!(r.reason, "CARRIER_CREDENTIALS_REJECTED");
    assert!(r.message.contains("must fix them"), "{}", r.message);
    assert!(r.message.contains(&account), "{}", r.message);
    assert!(!format!("{r:?}").contains(PWR_KEY));
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
    let shipments = h.shipments("o-1");
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0].0, "FAILED");
    assert_eq!(h.events("o-1", "shipped"), 0);
}

#[tokio::test]
async fn a_carrier_success_our_database_then_loses_is_applied_on_retry_without_a_second_call() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(json_answer(201, fixture("inpost/shipment_confirmed.json")))
        .expect(1)
        .mount(&h.inpost)
        .await;
    // Our transaction fails after the carrier answered: the audit row cannot be written.
    h.conn()
        .batch_execute(
            "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: the database failed'; END $$; \
             CREATE TRIGGER injected_failure BEFORE INSERT ON order_events \
             FOR EACH ROW EXECUTE FUNCTION injected_failure();",
        )
        .unwrap();

    let failed = h.create(request(&account, &["o-1"])).await;
    assert_eq!(failed[0].outcome, FAILED, "{failed:?}");
    assert_eq!(failed[0].reason, "SHIPMENT_NOT_APPLIED");
    assert_eq!(failed[0].carrier_shipment_id, "49201373");
    assert!(failed[0].message.contains("not called again"), "{failed:?}");
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
    // The carrier's answer is kept with the attempt.
    assert_eq!(
        h.shipments("o-1"),
        [(
            "REQUESTED".to_string(),
            Some("49201373".to_string()),
            Some(INPOST_NUMBER.to_string())
        )]
    );

    h.conn()
        .batch_execute("DROP TRIGGER injected_failure ON order_events;")
        .unwrap();
    let retried = h.create(request(&account, &["o-1"])).await;
    assert_eq!(retried[0].outcome, CREATED, "{retried:?}");
    assert_eq!(retried[0].shipment_id, failed[0].shipment_id);
    assert_eq!(retried[0].tracking_number, INPOST_NUMBER);
    let order = h.order("o-1").await;
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    assert_eq!(order.tracking.unwrap().tracking_number, INPOST_NUMBER);
    assert_eq!(h.events("o-1", "shipped"), 1);
    // `expect(1)`, checked when the fake stops, and here.
    assert_eq!(inpost_posts(&h.inpost).await, 1);
}

#[tokio::test]
async fn a_shipment_inpost_has_not_numbered_yet_is_picked_up_later_not_bought_twice() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(json_answer(201, fixture("inpost/shipment_created.json")))
        .expect(1)
        .mount(&h.inpost)
        .await;
    // Still buying through both polls of the first call.
    Mock::given(method("GET"))
        .and(path("/v1/shipments/49201373"))
        .respond_with(json_answer(200, fixture("inpost/shipment_created.json")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.inpost)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/shipments/49201373"))
        .respond_with(json_answer(200, fixture("inpost/shipment_confirmed.json")))
        .mount(&h.inpost)
        .await;

    let pending = h.create(request(&account, &["o-1"])).await;
    assert_eq!(pending[0].outcome, FAILED, "{pending:?}");
    assert_eq!(pending[0].reason, "CARRIER_TRACKING_PENDING");
    assert_eq!(pending[0].carrier_shipment_id, "49201373");
    assert_eq!(h.shipments("o-1")[0].0, "REQUESTED");

    let later = h.create(request(&account, &["o-1"])).await;
    assert_eq!(later[0].outcome, CREATED, "{later:?}");
    assert_eq!(later[0].tracking_number, INPOST_NUMBER);
    assert_eq!(inpost_posts(&h.inpost).await, 1);
    assert_eq!(h.shipments("o-1").len(), 1);
}

#[tokio::test]
async fn a_timed_out_send_is_sent_again_with_the_same_reference_on_the_same_attempt() {
    let mut h = Harness::start_with(|c| c.timeout = Duration::from_millis(500)).await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(
            json_answer(201, fixture("inpost/shipment_confirmed.json"))
                .set_delay(Duration::from_millis(1_500)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.inpost)
        .await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .and(body_partial_json(json!({"reference": "o-1"})))
        .respond_with(json_answer(201, fixture("inpost/shipment_confirmed.json")))
        .mount(&h.inpost)
        .await;

    let timed_out = h.create(request(&account, &["o-1"])).await;
    assert_eq!(timed_out[0].outcome, FAILED);
    assert_eq!(timed_out[0].reason, "CARRIER_TIMEOUT");
    assert!(timed_out[0].message.contains("same reference"));
    let retried = h.create(request(&account, &["o-1"])).await;
    assert_eq!(retried[0].outcome, CREATED, "{retried:?}");
    assert_eq!(retried[0].shipment_id, timed_out[0].shipment_id);
    let attempts: i32 = shipments::table
        .filter(shipments::order_id.eq("o-1"))
        .select(shipments::attempts)
        .first(&mut h.conn())
        .unwrap();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn two_calls_for_the_same_order_at_once_send_it_to_the_carrier_once() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(
            json_answer(201, fixture("inpost/shipment_confirmed.json"))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&h.inpost)
        .await;

    let mut other = h.orders.clone();
    let (a, b) = tokio::join!(h.create(request(&account, &["o-1"])), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        other
            .create_shipments(request(&account, &["o-1"]))
            .await
            .unwrap()
            .into_inner()
            .results
    });
    assert_eq!(a[0].outcome, CREATED, "{a:?}");
    assert_eq!(b[0].outcome, FAILED, "{b:?}");
    assert_eq!(b[0].reason, "SHIPMENT_IN_PROGRESS");
    assert_eq!(inpost_posts(&h.inpost).await, 1);
    assert_eq!(h.shipments("o-1").len(), 1);
}

#[tokio::test]
async fn a_tracking_number_another_merchant_uses_fails_the_order_and_keeps_the_carrier_ids() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    h.orders
        .upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: "m-other".into(),
                name: "Other".into(),
                country: "PL".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    h.orders
        .release_order(release_request(
            "m-other",
            "o-other",
            today() - Days::days(1),
            buyer(),
        ))
        .await
        .unwrap();
    h.orders
        .fulfill_order(common::fulfil(
            "m-other",
            "o-other",
            "inpost",
            INPOST_NUMBER,
        ))
        .await
        .unwrap();
    mount_inpost_create(&h.inpost, ShipX::default()).await;

    let results = h.create(request(&account, &["o-1"])).await;
    assert_eq!(results[0].outcome, FAILED, "{results:?}");
    assert_eq!(results[0].reason, "TRACKING_NUMBER_IN_USE");
    assert!(results[0].message.contains("Cancel it with the carrier"));
    assert_eq!(
        h.shipments("o-1"),
        [(
            "FAILED".to_string(),
            Some("49201373".to_string()),
            Some(INPOST_NUMBER.to_string())
        )]
    );
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
}

#[tokio::test]
async fn two_hundred_orders_ship_but_the_ten_the_carrier_refuses_and_nothing_is_half_done() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    let ids: Vec<String> = (0..200).map(|i| format!("o-{i:03}")).collect();
    for id in &ids {
        h.release(id).await;
    }
    let refused: HashSet<String> = (0..10).map(|i| format!("o-{:03}", i * 20 + 7)).collect();
    for id in &refused {
        Mock::given(method("POST"))
            .and(path(INPOST_CREATE))
            .and(body_partial_json(json!({"reference": id})))
            .respond_with(json_answer(422, fixture("inpost/validation_failed.json")))
            .with_priority(1)
            .expect(1)
            .mount(&h.inpost)
            .await;
    }
    mount_inpost_create(&h.inpost, ShipX::default()).await;

    let mut req = request(&account, &[]);
    req.order_ids = ids.clone();
    let results = h.create(req).await;
    assert_eq!(results.len(), 200);
    let answered: Vec<&str> = results.iter().map(|r| r.order_id.as_str()).collect();
    assert_eq!(answered, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for r in &results {
        if refused.contains(&r.order_id) {
            assert_eq!(r.outcome, FAILED, "{r:?}");
            assert_eq!(r.reason, "CARRIER_VALIDATION_FAILED");
            assert!(r.message.contains("receiver.phone"), "{r:?}");
        } else {
            assert_eq!(r.outcome, CREATED, "{r:?}");
        }
    }
    assert_eq!(inpost_posts(&h.inpost).await, 200);

    let mut conn = h.conn();
    let by_state: Vec<(String, i64)> = shipments::table
        .group_by(shipments::state)
        .select((shipments::state, diesel::dsl::count_star()))
        .order(shipments::state)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        by_state,
        [("CREATED".to_string(), 190), ("FAILED".to_string(), 10)]
    );
    let shipped: i64 = orders::table
        .filter(orders::state.eq("SHIPPED"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(shipped, 190);
    // Each shipped order exactly one audit row and one customer notification; the refused none.
    let audited: Vec<(String, i64)> = order_events::table
        .filter(order_events::kind.eq("shipped"))
        .group_by(order_events::order_id)
        .select((order_events::order_id, diesel::dsl::count_star()))
        .load(&mut conn)
        .unwrap();
    assert_eq!(audited.len(), 190);
    assert!(
        audited
            .iter()
            .all(|(id, n)| *n == 1 && !refused.contains(id))
    );
    let notified: i64 = outbox::table
        .filter(outbox::event_type.eq("customer.notified"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(notified, 190);
}

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
