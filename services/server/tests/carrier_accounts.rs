//! R19 and issue 5: carrier accounts keep their secrets sealed (AES-256-GCM, key id stored),
//! never answer with them, audit every change without them, and survive a key rotation.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;

use common::{TestServer, error_reason};
use diesel::prelude::*;
use fulfillment_core::schema::{carrier_account_events, carrier_accounts};
use fulfillment_core::secrets::Keyring;
use fulfillment_dispatch::carrier_accounts::{credentials, rotate_secrets};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::connect_carrier_account_request::Settings;
use fulfillment_server::app::ServeOptions;
use tonic::Code;

const K1: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2: &str = "k2:f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";
const PP_PASSWORD: &str = "pp-Haslo!2026-sekret";
const PWR_KEY: &str = "pwr-partner-key-77f1e0";
const INPOST_TOKEN: &str = "eyJhbGciOi.inpost-token-9c2d";
const NRB: &str = "61 1090 1014 0000 0712 1981 2874";

fn keys(text: &str) -> Option<Arc<Keyring>> {
    Some(Arc::new(Keyring::parse(text).unwrap()))
}

fn poczta(kind: pb::PocztaPolskaAccountKind, password: &str) -> Settings {
    Settings::PocztaPolska(pb::PocztaPolskaSettings {
        login: "sklep-krakow".into(),
        password: password.into(),
        account_kind: kind as i32,
        default_sizes: [("pocztex".to_string(), "M".to_string())].into(),
        cod_bank_account: NRB.into(),
    })
}

fn inpost(locker: &str, from_locker: bool) -> Settings {
    Settings::Inpost(pb::InpostSettings {
        organization_id: "12345".into(),
        api_token: INPOST_TOKEN.into(),
        default_template: "small".into(),
        sending_locker: locker.into(),
        send_from_locker: from_locker,
    })
}

fn ruch() -> Settings {
    Settings::PaczkaWRuchu(pb::PaczkaWRuchuSettings {
        partner_id: "P-100".into(),
        partner_key: PWR_KEY.into(),
        default_size: "B".into(),
    })
}

async fn connect(
    s: &mut TestServer,
    merchant: &str,
    settings: Settings,
) -> Result<pb::CarrierAccount, tonic::Status> {
    s.orders
        .connect_carrier_account(pb::ConnectCarrierAccountRequest {
            merchant_id: merchant.into(),
            settings: Some(settings),
        })
        .await
        .map(|r| r.into_inner().account.unwrap())
}

async fn list(s: &mut TestServer, merchant: &str) -> Vec<pb::CarrierAccount> {
    s.orders
        .list_carrier_accounts(pb::ListCarrierAccountsRequest {
            merchant_id: merchant.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .accounts
}

fn sealed_bytes(s: &TestServer) -> Vec<(String, String, Vec<u8>)> {
    carrier_accounts::table
        .select((
            carrier_accounts::id,
            carrier_accounts::secret_key_id,
            carrier_accounts::secret_sealed,
        ))
        .order(carrier_accounts::id)
        .load(&mut s.conn())
        .unwrap()
}

#[tokio::test]
async fn each_carrier_connects_and_no_secret_is_answered_stored_or_audited_in_clear() {
    let mut s = TestServer::start_with_keys(ServeOptions::default(), keys(K1)).await;
    s.merchant("m-krakow", "PL").await;
    let connected = connects_each_carrier_and_reconnects(&mut s).await;
    no_secret_is_answered_audited_or_stored_in_clear(&s, &connected);
    let Connected {
        regular,
        ruch,
        inpost,
        ..
    } = connected;
    the_sealed_secrets_open_only_where_they_belong(&s, &regular.id, &ruch.id, &inpost.id);
    disconnects(&mut s, &inpost.id).await;
    s.stop().await;
}

/// The accounts each connect answered, and the reconnect's answer and list.
struct Connected {
    regular: pb::CarrierAccount,
    marketplace: pb::CarrierAccount,
    ruch: pb::CarrierAccount,
    inpost: pb::CarrierAccount,
    again: pb::CarrierAccount,
    accounts: Vec<pb::CarrierAccount>,
}

async fn connects_each_carrier_and_reconnects(s: &mut TestServer) -> Connected {
    let regular = connect(
        s,
        "m-krakow",
        poczta(pb::PocztaPolskaAccountKind::Regular, PP_PASSWORD),
    )
    .await
    .unwrap();
    assert_eq!(regular.carrier, "poczta-polska");
    assert_eq!(regular.settings["login"], "sklep-krakow");
    assert_eq!(regular.settings["account_kind"], "regular");
    assert_eq!(
        regular.settings["cod_bank_account"],
        "61109010140000071219812874"
    );
    assert_eq!(regular.settings["default_size.pocztex"], "M");
    // R19: a regular and a marketplace account may both be connected.
    let marketplace = connect(
        s,
        "m-krakow",
        poczta(pb::PocztaPolskaAccountKind::Marketplace, PP_PASSWORD),
    )
    .await
    .unwrap();
    assert_ne!(marketplace.id, regular.id);
    let ruch = connect(s, "m-krakow", ruch()).await.unwrap();
    assert_eq!(ruch.settings["partner_id"], "P-100");
    let inpost = connect(s, "m-krakow", inpost("KRA010", true))
        .await
        .unwrap();
    assert_eq!(inpost.settings["sending_locker"], "KRA010");

    // Reconnecting replaces the credentials of the same account.
    let again = connect(
        s,
        "m-krakow",
        poczta(pb::PocztaPolskaAccountKind::Regular, "new-pass-2027"),
    )
    .await
    .unwrap();
    assert_eq!(again.id, regular.id);
    let accounts = list(s, "m-krakow").await;
    assert_eq!(accounts.len(), 4);
    Connected {
        regular,
        marketplace,
        ruch,
        inpost,
        again,
        accounts,
    }
}

fn no_secret_is_answered_audited_or_stored_in_clear(s: &TestServer, c: &Connected) {
    let answered = format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}",
        c.regular, c.marketplace, c.ruch, c.inpost, c.again, c.accounts
    );
    let audit: Vec<(String, serde_json::Value)> = carrier_account_events::table
        .select((
            carrier_account_events::kind,
            carrier_account_events::details,
        ))
        .load(&mut s.conn())
        .unwrap();
    let kinds: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "connected",
            "connected",
            "connected",
            "credentials_replaced"
        ]
    );
    let audited = format!("{audit:?}");
    let rows = sealed_bytes(s);
    for secret in [PP_PASSWORD, "new-pass-2027", PWR_KEY, INPOST_TOKEN] {
        assert!(!answered.contains(secret), "a response holds {secret}");
        assert!(!audited.contains(secret), "the audit holds {secret}");
        for (_, key_id, bytes) in &rows {
            assert_eq!(key_id, "k1");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "stored in clear"
            );
        }
    }
}

/// Sealed, not lost: dispatch gets the latest secret back; a sealed secret copied onto another
/// account does not open there.
fn the_sealed_secrets_open_only_where_they_belong(
    s: &TestServer,
    regular: &str,
    ruch: &str,
    inpost: &str,
) {
    let mut conn = s.conn();
    let keyring = Keyring::parse(K1).unwrap();
    assert_eq!(
        credentials(&mut conn, Some(&keyring), "m-krakow", regular)
            .unwrap()
            .secret,
        "new-pass-2027"
    );
    assert_eq!(
        credentials(&mut conn, Some(&keyring), "m-krakow", inpost)
            .unwrap()
            .secret,
        INPOST_TOKEN
    );
    assert!(
        !format!(
            "{:?}",
            credentials(&mut conn, Some(&keyring), "m-krakow", ruch).unwrap()
        )
        .contains(PWR_KEY)
    );
    // A sealed secret copied onto another account does not open there.
    diesel::sql_query(format!(
        "UPDATE carrier_accounts SET secret_sealed = (SELECT secret_sealed FROM carrier_accounts WHERE id = '{}') WHERE id = '{}'",
        inpost, ruch
    ))
    .execute(&mut conn)
    .unwrap();
    assert!(credentials(&mut conn, Some(&keyring), "m-krakow", ruch).is_err());
}

/// Disconnect: gone from the list, audited, idempotent; another merchant's id is not found.
async fn disconnects(s: &mut TestServer, inpost: &str) {
    s.merchant("m-other", "PL").await;
    let e = s
        .orders
        .disconnect_carrier_account(pb::DisconnectCarrierAccountRequest {
            merchant_id: "m-other".into(),
            account_id: inpost.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    for _ in 0..2 {
        s.orders
            .disconnect_carrier_account(pb::DisconnectCarrierAccountRequest {
                merchant_id: "m-krakow".into(),
                account_id: inpost.into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(list(s, "m-krakow").await.len(), 3);
    let disconnects: i64 = carrier_account_events::table
        .filter(carrier_account_events::kind.eq("disconnected"))
        .count()
        .get_result(&mut s.conn())
        .unwrap();
    assert_eq!(disconnects, 1);
}

#[tokio::test]
async fn r19_settings_are_validated_field_by_field() {
    let mut s = TestServer::start_with_keys(ServeOptions::default(), keys(K1)).await;
    s.merchant("m-krakow", "PL").await;
    let cases: Vec<(Settings, &str)> = vec![
        (
            Settings::PocztaPolska(pb::PocztaPolskaSettings {
                cod_bank_account: "61 1090 1014 0000 0712 1981 2875".into(),
                ..match poczta(pb::PocztaPolskaAccountKind::Regular, "x") {
                    Settings::PocztaPolska(p) => p,
                    _ => unreachable!(),
                }
            }),
            "poczta_polska.cod_bank_account",
        ),
        (
            poczta(pb::PocztaPolskaAccountKind::Unspecified, "x"),
            "poczta_polska.account_kind",
        ),
        (
            poczta(pb::PocztaPolskaAccountKind::Regular, ""),
            "poczta_polska.password",
        ),
        (inpost("", true), "inpost.sending_locker"),
        (
            Settings::PaczkaWRuchu(pb::PaczkaWRuchuSettings {
                partner_key: String::new(),
                ..match ruch() {
                    Settings::PaczkaWRuchu(p) => p,
                    _ => unreachable!(),
                }
            }),
            "paczka_w_ruchu.partner_key",
        ),
    ];
    for (settings, field) in cases {
        let e = connect(&mut s, "m-krakow", settings).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert_eq!(error_reason(&e).1, vec![field.to_string()], "{e:?}");
    }
    let e = s
        .orders
        .connect_carrier_account(pb::ConnectCarrierAccountRequest {
            merchant_id: "m-krakow".into(),
            settings: None,
        })
        .await
        .unwrap_err();
    assert_eq!(error_reason(&e).1, vec!["settings".to_string()]);
    let e = connect(&mut s, "m-nobody", ruch()).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(list(&mut s, "m-krakow").await.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn without_an_encryption_key_accounts_are_refused_and_say_why() {
    let mut s = TestServer::start().await;
    s.merchant("m-krakow", "PL").await;
    let e = connect(&mut s, "m-krakow", ruch()).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&e).0, "ENCRYPTION_KEY_MISSING");
    assert!(e.message().contains("FULFILLMENT_ENCRYPTION_KEYS"));
    s.stop().await;
}

#[tokio::test]
async fn key_rotation_reads_old_secrets_writes_new_ones_and_reseals() {
    // Two accounts written under k1 through the API.
    let mut s = TestServer::start_with_keys(ServeOptions::default(), keys(K1)).await;
    s.merchant("m-krakow", "PL").await;
    let ruch = connect(&mut s, "m-krakow", ruch()).await.unwrap();
    let pp = connect(
        &mut s,
        "m-krakow",
        poczta(pb::PocztaPolskaAccountKind::Regular, PP_PASSWORD),
    )
    .await
    .unwrap();

    // The ring rotates: k2 first, k1 still listed. Old secrets still open ...
    let rotated = Keyring::parse(&format!("{K2},{K1}")).unwrap();
    let mut conn = s.conn();
    assert_eq!(
        credentials(&mut conn, Some(&rotated), "m-krakow", &ruch.id)
            .unwrap()
            .secret,
        PWR_KEY
    );
    // ... new writes use k2 ...
    let actor = fulfillment_orders::Actor::api("test");
    let now = common::today();
    fulfillment_dispatch::carrier_accounts::connect(
        &mut conn,
        now,
        Some(&rotated),
        &actor,
        "m-krakow",
        Some(
            &fulfillment_dispatch::carrier_accounts::AccountSettings::Inpost {
                organization_id: "1".into(),
                api_token: INPOST_TOKEN.into(),
                default_template: "small".into(),
                sending_locker: String::new(),
                send_from_locker: false,
            },
        ),
    )
    .unwrap();
    let ids: Vec<String> = sealed_bytes(&s).into_iter().map(|r| r.1).collect();
    assert_eq!(ids.iter().filter(|k| *k == "k2").count(), 1, "{ids:?}");
    // ... and rotation re-seals the rest, once.
    assert_eq!(rotate_secrets(&mut conn, &rotated, 1).unwrap(), 2);
    assert_eq!(rotate_secrets(&mut conn, &rotated, 1).unwrap(), 0);
    assert!(sealed_bytes(&s).iter().all(|r| r.1 == "k2"));

    // k1 can now be retired; a server still on k1 alone says which key it lacks.
    let k2_only = Keyring::parse(K2).unwrap();
    assert_eq!(
        credentials(&mut conn, Some(&k2_only), "m-krakow", &pp.id)
            .unwrap()
            .secret,
        PP_PASSWORD
    );
    let k1_only = Keyring::parse(K1).unwrap();
    let e = credentials(&mut conn, Some(&k1_only), "m-krakow", &pp.id).unwrap_err();
    assert_eq!(e.reason(), "ENCRYPTION_KEY_UNKNOWN");
    assert!(e.to_string().contains("\"k2\""), "{e}");
    s.stop().await;
}
