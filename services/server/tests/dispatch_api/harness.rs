//! The server with dispatch pointed at three wiremock carriers, and the requests the tests send.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use diesel::prelude::*;
use fulfillment_core::schema::{order_events, shipments};
use fulfillment_core::secrets::Keyring;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, ManualClock};
use fulfillment_dispatch::dispatch::DispatchConfig;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::connect_carrier_account_request::Settings;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_server::app::{self, ServeOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Channel;
use wiremock::{MockServer, ResponseTemplate};

pub use crate::common::carrier_fakes::{PP_NUMBER, fixture, fixture_bytes, xml};
use crate::common::{release_request, today};

pub const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const MERCHANT: &str = "m-krakow";
pub const INPOST_ORG: &str = "5123";
pub const INPOST_TOKEN: &str = "shipx-eyJhbGciOiJSUzI1NiJ9-SecretToken";
pub const PP_LOGIN: &str = "sklep-krakow";
pub const PP_PASSWORD: &str = "pp-Haslo!2026-sekret";
pub const PWR_PARTNER: &str = "P-100";
pub const PWR_KEY: &str = "pwr-partner-key-77f1e0";
pub const INPOST_CREATE: &str = "/v1/organizations/5123/shipments";
pub const EN_PATH: &str = "/websrv/en.php";
pub const PWR_PATH: &str = "/WebServicePwR.asmx";
/// The tracking number of `inpost/shipment_confirmed.json`.
pub const INPOST_NUMBER: &str = "520000011395200025754311";
/// The pack code of `paczka_w_ruchu/generate_label_ok.xml`.
pub const PWR_NUMBER: &str = "6400217359104";
pub fn json_answer(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

pub fn pdf() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture_bytes("inpost/label.pdf"), "application/pdf")
}

/// The server with its three fake carriers.
pub struct Harness {
    pub db: TestDb,
    pub orders: FulfillmentServiceClient<Channel>,
    pub inpost: MockServer,
    pub poczta: MockServer,
    pub ruch: MockServer,
    _stop: watch::Sender<bool>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts the server with dispatch pointed at the fakes; `tune` adjusts the rest.
    pub async fn start_with(tune: impl FnOnce(&mut DispatchConfig)) -> Self {
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

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    pub async fn connect(&mut self, settings: Settings) -> String {
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

    pub async fn inpost_account(&mut self) -> String {
        self.connect(Settings::Inpost(pb::InpostSettings {
            organization_id: INPOST_ORG.into(),
            api_token: INPOST_TOKEN.into(),
            default_template: "small".into(),
            sending_locker: "WAW01A".into(),
            send_from_locker: true,
        }))
        .await
    }

    pub async fn poczta_account(&mut self) -> String {
        self.connect(Settings::PocztaPolska(pb::PocztaPolskaSettings {
            login: PP_LOGIN.into(),
            password: PP_PASSWORD.into(),
            account_kind: pb::PocztaPolskaAccountKind::Regular as i32,
            default_sizes: [("pocztex".to_string(), "M".to_string())].into(),
            cod_bank_account: "61 1090 1014 0000 0712 1981 2874".into(),
        }))
        .await
    }

    pub async fn ruch_account(&mut self) -> String {
        self.connect(Settings::PaczkaWRuchu(pb::PaczkaWRuchuSettings {
            partner_id: PWR_PARTNER.into(),
            partner_key: PWR_KEY.into(),
            default_size: "M".into(),
        }))
        .await
    }

    pub async fn release(&mut self, order_id: &str) {
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

    pub async fn create(&mut self, request: pb::CreateShipmentsRequest) -> Vec<pb::ShipmentResult> {
        self.orders
            .create_shipments(request)
            .await
            .unwrap()
            .into_inner()
            .results
    }

    pub async fn order(&mut self, order_id: &str) -> pb::Order {
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

    pub async fn labels(&mut self, order_ids: &[&str]) -> pb::GetLabelsResponse {
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
    pub fn shipments(&self, order_id: &str) -> Vec<(String, Option<String>, Option<String>)> {
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

    pub fn events(&self, order_id: &str, kind: &str) -> i64 {
        order_events::table
            .filter(order_events::order_id.eq(order_id))
            .filter(order_events::kind.eq(kind))
            .count()
            .get_result(&mut self.conn())
            .unwrap()
    }
}

pub fn buyer() -> pb::ShippingDetail {
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

pub fn sender() -> pb::ShippingDetail {
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

pub fn request(account_id: &str, order_ids: &[&str]) -> pb::CreateShipmentsRequest {
    pb::CreateShipmentsRequest {
        merchant_id: MERCHANT.into(),
        account_id: account_id.into(),
        order_ids: order_ids.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub const CREATED: i32 = pb::ShipmentOutcome::Created as i32;
pub const SKIPPED: i32 = pb::ShipmentOutcome::Skipped as i32;
pub const FAILED: i32 = pb::ShipmentOutcome::Failed as i32;
