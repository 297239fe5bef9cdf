//! Issue 23.1 at the gRPC level: a database error the repository names (`repo::meaning`) reaches
//! the caller as the row it stands for, in our words: a write for a merchant that does not
//! exist (a foreign key) is NOT_FOUND naming the merchant, never INTERNAL or PostgreSQL's text.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;

use common::*;
use fulfillment_core::secrets::Keyring;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::connect_carrier_account_request::Settings;
use fulfillment_server::app::ServeOptions;
use tonic::Code;

const NOBODY: &str = "m-nobody";
const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// NOT_FOUND, reason NOT_FOUND, the message naming `resource` `id`, nothing of PostgreSQL's.
#[track_caller]
fn assert_names_the_missing(status: &tonic::Status, resource: &str, id: &str) {
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(error_reason(status).0, "NOT_FOUND", "{status:?}");
    let message = status.message();
    assert!(
        message.contains(resource) && message.contains(id),
        "names {resource} {id}: {message:?}"
    );
    for theirs in ["violates", "foreign key", "constraint", "fkey"] {
        assert!(!message.contains(theirs), "PostgreSQL's text: {message:?}");
    }
}

#[tokio::test]
async fn releasing_an_order_of_an_unknown_merchant_names_the_merchant() {
    let mut s = TestServer::start().await;
    let status = s
        .orders
        .release_order(release_request(NOBODY, "o-1", day(1), alice()))
        .await
        .unwrap_err();
    assert_names_the_missing(&status, "merchant", NOBODY);
    s.stop().await;
}

#[tokio::test]
async fn connecting_a_carrier_account_of_an_unknown_merchant_names_the_merchant() {
    let keys = Arc::new(Keyring::parse(K1).unwrap());
    let mut s = TestServer::start_with_keys(ServeOptions::default(), Some(keys)).await;
    let status = s
        .orders
        .connect_carrier_account(pb::ConnectCarrierAccountRequest {
            merchant_id: NOBODY.into(),
            settings: Some(Settings::PaczkaWRuchu(pb::PaczkaWRuchuSettings {
                partner_id: "P-100".into(),
                partner_key: "pwr-key-1".into(),
                default_size: "B".into(),
            })),
        })
        .await
        .unwrap_err();
    assert_names_the_missing(&status, "merchant", NOBODY);
    s.stop().await;
}

#[tokio::test]
async fn shipping_an_unknown_order_names_the_order() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    let status = s
        .orders
        .fulfill_order(fulfil("m-1", "o-missing", "usps", "9400111899223334445566"))
        .await
        .unwrap_err();
    assert_names_the_missing(&status, "order", "o-missing");
    s.stop().await;
}
