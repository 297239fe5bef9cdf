//! Issue 5: no RPC without a valid token, roles as the authorization table says, no merchant
//! gateway near another merchant's data, and the abuse suite: every RPC fed garbage, oversized,
//! non-UTF-8, negative and far-off input gets the right code, writes nothing, and leaves the
//! server healthy.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::raw::{self, Method, call, string_field};
use common::{Authed, TestServer, alice, fulfil, release_request, today, with_token};
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_proto::v1::policy_service_client::PolicyServiceClient;
use fulfillment_server::app::{Limits, ServeOptions};
use fulfillment_server::auth::{Role, TokenTable, token_hash_hex};
use fulfillment_server::authz;
use tonic::{Code, Request, Status};

const OPERATOR: &str = "op-7f3a-secret";
const SERVICE: &str = "svc-91bc-secret";
const GATEWAY_M1: &str = "gw-m1-44d0-secret";
const GATEWAY_ANY: &str = "gw-any-0e2b-secret";

const MAX_MESSAGE: usize = 256 * 1024;

fn options() -> ServeOptions {
    let text = format!(
        "operator {}\nservice {}\nmerchant-gateway {} m-1\nmerchant-gateway {} *\n",
        token_hash_hex(OPERATOR),
        token_hash_hex(SERVICE),
        token_hash_hex(GATEWAY_M1),
        token_hash_hex(GATEWAY_ANY),
    );
    ServeOptions {
        tokens: Some(Arc::new(RwLock::new(Arc::new(
            TokenTable::parse(&text).unwrap(),
        )))),
        limits: Limits {
            max_message_bytes: MAX_MESSAGE,
            ..Limits::default()
        },
        ..ServeOptions::default()
    }
}

fn orders_as(s: &TestServer, token: &'static str) -> FulfillmentServiceClient<Authed> {
    FulfillmentServiceClient::new(with_token(s.channel(), token))
}

fn token_of(role: Role) -> &'static str {
    match role {
        Role::Operator => OPERATOR,
        Role::Service => SERVICE,
        Role::MerchantGateway => GATEWAY_ANY,
    }
}

fn roles(method: &Method) -> &'static [Role] {
    authz::allowed_roles(&method.path).unwrap()
}

/// Row counts of every table a call could write.
fn counts(s: &TestServer) -> Vec<(String, i64)> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = s.conn();
    [
        "merchants",
        "orders",
        "trackings",
        "order_trackings",
        "order_events",
        "outbox",
        "idempotency_keys",
        "carrier_accounts",
        "carrier_account_events",
    ]
    .iter()
    .map(|t| {
        let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {t}"))
            .get_result::<N>(&mut conn)
            .unwrap()
            .n;
        (t.to_string(), n)
    })
    .collect()
}

async fn assert_healthy(s: &TestServer) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

/// A merchant `m-1` with one order, and `m-2` with one, released by the service pipeline.
async fn seed(s: &TestServer) {
    let mut svc = orders_as(s, SERVICE);
    for (m, o) in [("m-1", "o-1"), ("m-2", "o-2")] {
        svc.upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: m.into(),
                name: format!("Merchant {m}"),
                country: "CN".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
        svc.release_order(release_request(
            m,
            o,
            today() - chrono::Duration::days(1),
            alice(),
        ))
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn every_rpc_refuses_missing_and_bad_tokens() {
    let s = TestServer::start_with(options()).await;
    let ch = s.channel();
    let methods = raw::methods();
    assert!(methods.len() >= 27);
    for m in &methods {
        let none = call(&ch, m, None, vec![]).await.unwrap_err();
        assert_eq!(
            none.code(),
            Code::Unauthenticated,
            "{} without token: {none:?}",
            m.path
        );
        for bad in ["wrong-token", "op-7f3a-secreT", &token_hash_hex(OPERATOR)] {
            let e = call(&ch, m, Some(bad), vec![]).await.unwrap_err();
            assert_eq!(
                e.code(),
                Code::Unauthenticated,
                "{} with {bad}: {e:?}",
                m.path
            );
        }
    }
    // A malformed scheme is refused too, and says what is expected.
    let mut req = Request::new(pb::GetPolicyRequest::default());
    req.metadata_mut().insert(
        "authorization",
        format!("Basic {OPERATOR}").parse().unwrap(),
    );
    let e = PolicyServiceClient::new(ch.clone())
        .get_policy(req)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("Bearer"), "{e:?}");
    // Probes and reflection need no token.
    assert_healthy(&s).await;
    s.stop().await;
}

#[tokio::test]
async fn roles_get_exactly_what_the_authorization_table_allows() {
    let s = TestServer::start_with(options()).await;
    let ch = s.channel();
    for m in raw::methods() {
        for role in Role::ALL {
            let result = call(&ch, &m, Some(token_of(role)), vec![]).await;
            let allowed = roles(&m).contains(&role);
            match result {
                Err(e) if !allowed => {
                    assert_eq!(
                        e.code(),
                        Code::PermissionDenied,
                        "{role} on {}: {e:?}",
                        m.path
                    );
                    assert!(e.message().contains(role.as_str()), "{e:?}");
                }
                Ok(()) if !allowed => panic!("{role} reached {}", m.path),
                Err(e) => assert!(
                    !matches!(e.code(), Code::PermissionDenied | Code::Unauthenticated),
                    "{role} is allowed {} but got {e:?}",
                    m.path
                ),
                Ok(()) => {}
            }
        }
    }
    assert_eq!(
        counts(&s).iter().map(|c| c.1).sum::<i64>(),
        0,
        "an empty call wrote something"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_merchant_gateway_cannot_touch_another_merchants_data() {
    let s = TestServer::start_with(options()).await;
    seed(&s).await;
    let before = counts(&s);
    let ch = s.channel();

    // Every RPC a gateway may call and that names a merchant refuses a merchant not on the
    // token, before looking anything up.
    let mut checked = 0;
    for m in raw::methods() {
        let Some(field) = m.merchant_id_field else {
            continue;
        };
        if !roles(&m).contains(&Role::MerchantGateway) {
            continue;
        }
        let e = call(&ch, &m, Some(GATEWAY_M1), string_field(field, b"m-2"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}: {e:?}", m.path);
        assert_eq!(
            common::error_reason(&e).0,
            "MERCHANT_NOT_ALLOWED",
            "{}",
            m.path
        );
        // An empty merchant id never widens to "every merchant".
        let e = call(&ch, &m, Some(GATEWAY_M1), vec![]).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{}: {e:?}", m.path);
        assert_eq!(
            common::error_reason(&e).1,
            vec!["merchant_id".to_string()],
            "{}",
            m.path
        );
        // Its own merchant gets past the scope check.
        if let Err(e) = call(&ch, &m, Some(GATEWAY_M1), string_field(field, b"m-1")).await {
            assert_ne!(e.code(), Code::PermissionDenied, "{}: {e:?}", m.path);
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} merchant-scoped RPCs");

    // Asking for m-2's order under its own merchant id: NOT_FOUND, as if it did not exist.
    let mut gw = orders_as(&s, GATEWAY_M1);
    let e = gw
        .get_order(pb::GetOrderRequest {
            merchant_id: "m-1".into(),
            order_id: "o-2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = gw
        .fulfill_order(fulfil("m-1", "o-2", "usps", "9400111899223100000001"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(counts(&s), before, "refused calls wrote something");

    // Its own order: shipped, and the audit row names the gateway caller, not the token.
    gw.fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223100000001"))
        .await
        .unwrap();
    let actors: Vec<String> = {
        use diesel::prelude::*;
        use fulfillment_core::schema::order_events::dsl::*;
        order_events.select(actor).load(&mut s.conn()).unwrap()
    };
    assert!(
        actors
            .iter()
            .any(|a| a.starts_with("api:merchant-gateway:")),
        "{actors:?}"
    );
    assert!(actors.iter().all(|a| !a.contains("secret")), "{actors:?}");
    s.stop().await;
}

#[tokio::test]
async fn abuse_suite_garbage_oversized_and_non_utf8_on_every_rpc() {
    let s = TestServer::start_with(options()).await;
    seed(&s).await;
    let before = counts(&s);
    let ch = s.channel();
    for m in raw::methods() {
        let token = token_of(roles(&m)[0]);
        // Not protobuf at all.
        let e = call(&ch, &m, Some(token), vec![0xff; 64])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{} garbage: {e:?}", m.path);
        assert!(e.message().contains("malformed"), "{e:?}");
        // A string field that is not UTF-8.
        if let Some(field) = m.first_string_field {
            let e = call(&ch, &m, Some(token), string_field(field, b"m-1\xff\xfe"))
                .await
                .unwrap_err();
            assert_eq!(
                e.code(),
                Code::InvalidArgument,
                "{} non-UTF-8: {e:?}",
                m.path
            );
        }
        // Bigger than the message limit: refused before decoding, saying why.
        let field = m.first_string_field.unwrap_or(1);
        let e = call(
            &ch,
            &m,
            Some(token),
            string_field(field, &vec![b'a'; MAX_MESSAGE + 1]),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted),
            "{} oversized: {e:?}",
            m.path
        );
        assert!(e.message().contains("too large"), "{e:?}");
        // An empty request: a clear answer, never an internal error.
        match call(&ch, &m, Some(token), vec![]).await {
            // Reads whose every field is optional: all of it, the first page.
            Ok(()) => assert!(
                [
                    "GetPolicy",
                    "ListOutboxEvents",
                    "ListWorkerRuns",
                    "ListPolicyVersions"
                ]
                .contains(&m.name.as_str()),
                "{} accepted an empty request",
                m.path
            ),
            Err(e) => assert!(
                matches!(e.code(), Code::InvalidArgument | Code::Unimplemented),
                "{} empty: {e:?}",
                m.path
            ),
        }
    }
    assert_eq!(counts(&s), before);
    assert_healthy(&s).await;
    s.stop().await;
}

/// The field an INVALID_ARGUMENT names.
fn field_of(e: &Status) -> Vec<String> {
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    common::error_reason(e).1
}

fn stamp(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

/// Far past, far future and impossible nanos.
async fn far_off_times_name_the_field(
    svc: &mut FulfillmentServiceClient<Authed>,
    policy: &mut PolicyServiceClient<Authed>,
) {
    for (released_at, what) in [
        (stamp(-62_135_596_800, 0), "year 1"),
        (stamp(253_402_300_799, 0), "year 9999"),
        (stamp(1_700_000_000, -1), "negative nanos"),
        (stamp(1_700_000_000, 1_000_000_000), "nanos overflow"),
        (stamp(i64::MAX, 0), "i64::MAX"),
    ] {
        let mut r = release_request("m-1", "o-new", today(), alice());
        r.released_at = released_at;
        let e = svc.release_order(r).await.unwrap_err();
        assert_eq!(field_of(&e), vec!["released_at"], "{what}");
    }
    let e = policy
        .get_policy(pb::GetPolicyRequest {
            at: stamp(i64::MIN, 0),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["at"]);
    let e = policy
        .decide_cancellation(pb::DecideCancellationRequest {
            merchant_id: "m-1".into(),
            order_id: "o-1".into(),
            cancelled_at: stamp(-1, 0),
            cancelled_by: pb::CancelledBy::Carrier as i32,
            re_released_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["cancelled_at"]);
}

async fn negative_numbers_name_the_field(
    svc: &mut FulfillmentServiceClient<Authed>,
    gw: &mut FulfillmentServiceClient<Authed>,
) {
    let mut r = release_request("m-1", "o-new", today(), alice());
    r.quantity = -3;
    assert_eq!(
        field_of(&svc.release_order(r).await.unwrap_err()),
        vec!["quantity"]
    );
    let e = gw
        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
            merchant_id: "m-1".into(),
            page_size: -1,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["page_size"]);
    let e = gw
        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
            merchant_id: "m-1".into(),
            page_size: 10,
            page_token: "not-a-token\u{0}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["page_token"]);
}

/// Huge strings and lists, under the message limit but over each field's own.
async fn huge_values_name_the_field(
    svc: &mut FulfillmentServiceClient<Authed>,
    gw: &mut FulfillmentServiceClient<Authed>,
) {
    let huge = "x".repeat(100_000);
    let e = gw
        .fulfill_order(fulfil("m-1", "o-1", "usps", &huge))
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["tracking_number"]);
    let e = gw
        .get_order(pb::GetOrderRequest {
            merchant_id: "m-1".into(),
            order_id: huge.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["order_id"]);
    let mut r = release_request("m-1", "o-new", today(), alice());
    r.product_name = huge.clone();
    assert_eq!(
        field_of(&svc.release_order(r).await.unwrap_err()),
        vec!["product_name"]
    );
    let e = gw
        .batch_get_orders(pb::BatchGetOrdersRequest {
            merchant_id: "m-1".into(),
            order_ids: (0..5_000).map(|i| format!("o-{i}")).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["order_ids"]);
    let e = svc
        .upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: "m-3".into(),
                name: huge.clone(),
                country: "CN".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["merchant.name"]);
}

#[tokio::test]
async fn abuse_suite_huge_negative_and_far_off_values_name_the_field() {
    let s = TestServer::start_with(options()).await;
    seed(&s).await;
    let before = counts(&s);
    let mut svc = orders_as(&s, SERVICE);
    let mut gw = orders_as(&s, GATEWAY_M1);
    let mut policy = PolicyServiceClient::new(with_token(s.channel(), OPERATOR));

    far_off_times_name_the_field(&mut svc, &mut policy).await;
    negative_numbers_name_the_field(&mut svc, &mut gw).await;
    huge_values_name_the_field(&mut svc, &mut gw).await;
    // Control characters in an id.
    let e = gw
        .get_order(pb::GetOrderRequest {
            merchant_id: "m-1".into(),
            order_id: "o-1\u{7}\n".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&e), vec!["order_id"]);

    assert_eq!(counts(&s), before, "refused calls wrote something");
    assert_healthy(&s).await;
    // And the server still does its job.
    gw.fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223100000001"))
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test]
async fn deadlines_are_enforced_and_reflection_can_be_switched_off() {
    let mut opts = options();
    opts.reflection = false;
    let s = TestServer::start_with(opts).await;
    seed(&s).await;
    let mut gw = orders_as(&s, GATEWAY_M1);
    let mut req = Request::new(pb::GetOrderRequest {
        merchant_id: "m-1".into(),
        order_id: "o-1".into(),
    });
    req.set_timeout(Duration::from_nanos(1));
    let e = gw.get_order(req).await.unwrap_err();
    assert!(
        matches!(e.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{e:?}"
    );

    let reflection = Method {
        path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".into(),
        name: "ServerReflectionInfo".into(),
        server_streaming: true,
        merchant_id_field: None,
        first_string_field: None,
    };
    let e = call(&s.channel(), &reflection, None, vec![])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
    s.stop().await;
}
