//! Issue 24, R30: publishing policy versions over real gRPC and PostgreSQL: operator only,
//! validated with the field named, idempotent, audited with its diff, listed with differences,
//! in force exactly from its instant, and never changed once in force (the database refuses).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fulfillment_core::schema::trackings;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::policy_service_client::PolicyServiceClient;
use fulfillment_server::app::ServeOptions;
use fulfillment_server::auth::{TokenTable, token_hash_hex};
use tonic::{Code, Request, Status};

fn values(rerelease_window_days: i32) -> pb::PolicyValues {
    pb::PolicyValues {
        fulfillment_window_days: 5,
        combine_window_days: 5,
        rerelease_window_days,
        rerelease_deadline_days: 5,
        confirmed_removal_from: Some(ts(Utc.with_ymd_and_hms(2020, 11, 10, 0, 0, 0).unwrap())),
        rerelease_from: Some(ts(Utc.with_ymd_and_hms(2021, 3, 4, 0, 0, 0).unwrap())),
        rerelease_countries: vec!["CN".into()],
    }
}

fn publish(values: pb::PolicyValues, from: DateTime<Utc>) -> pb::PublishPolicyVersionRequest {
    pb::PublishPolicyVersionRequest {
        values: Some(values),
        effective_from: Some(ts(from)),
        note: "policy team: longer re-release window".into(),
    }
}

#[tokio::test]
async fn r30_only_operators_publish_and_simulate() {
    const OPERATOR: &str = "op-issue24-secret";
    const SERVICE: &str = "svc-issue24-secret";
    const GATEWAY: &str = "gw-issue24-secret";
    let text = format!(
        "operator {}\nservice {}\nmerchant-gateway {} *\n",
        token_hash_hex(OPERATOR),
        token_hash_hex(SERVICE),
        token_hash_hex(GATEWAY)
    );
    let options = ServeOptions {
        tokens: Some(Arc::new(RwLock::new(Arc::new(
            TokenTable::parse(&text).unwrap(),
        )))),
        ..ServeOptions::default()
    };
    let s = TestServer::start_with(options).await;
    let channel = s.channel();
    let client = |token| PolicyServiceClient::new(with_token(channel.clone(), token));
    let request = publish(values(30), today() + Duration::days(1));
    for token in [SERVICE, GATEWAY] {
        let e = client(token)
            .publish_policy_version(request.clone())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let e = client(token)
            .simulate_policy(pb::SimulatePolicyRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        // Everyone may read the versions.
        client(token)
            .list_policy_versions(pb::ListPolicyVersionsRequest {})
            .await
            .unwrap();
    }
    let published = client(OPERATOR)
        .publish_policy_version(request)
        .await
        .unwrap()
        .into_inner();
    let version = published.version.unwrap();
    assert!(published.created);
    assert_eq!(version.policy.unwrap().version, 2);
    // The audit names the operator by its stable id, never by its secret.
    assert!(
        version.published_by.starts_with("api:operator"),
        "{}",
        version.published_by
    );
    assert!(!version.published_by.contains("secret"));
    s.stop().await;
}

/// Publishes `request`, which must be refused with InvalidArgument; the refusal.
async fn publish_refused(s: &mut TestServer, request: pb::PublishPolicyVersionRequest) -> Status {
    let e = s.policy.publish_policy_version(request).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    e
}

#[tokio::test]
async fn r30_publishing_is_validated_with_the_field_named() {
    let mut s = TestServer::start().await;
    let later = today() + Duration::days(1);
    let mut bad = values(0);
    bad.fulfillment_window_days = 61;
    bad.rerelease_countries = vec!["CN".into(), "XX".into()];
    let e = publish_refused(&mut s, publish(bad, later)).await;
    let (reason, fields) = error_reason(&e);
    assert_eq!(reason, "INVALID_POLICY");
    assert_eq!(
        fields,
        [
            "values.fulfillment_window_days",
            "values.rerelease_window_days",
            "values.rerelease_countries"
        ]
    );
    let mut missing = values(30);
    missing.rerelease_from = None;
    let e = publish_refused(&mut s, publish(missing, later)).await;
    assert_eq!(error_reason(&e).1, ["values.rerelease_from"]);
    let e = publish_refused(&mut s, pb::PublishPolicyVersionRequest::default()).await;
    assert_eq!(error_reason(&e).1, ["values", "effective_from"]);
    // Not in the past, nor inside the caches' lead.
    for from in [today() - Duration::days(1), today() + Duration::minutes(4)] {
        let e = publish_refused(&mut s, publish(values(30), from)).await;
        assert_eq!(
            error_reason(&e),
            (
                "POLICY_EFFECTIVE_FROM_INVALID".into(),
                vec!["effective_from".into()]
            )
        );
    }
    // After the newest version, not at or before it.
    s.policy
        .publish_policy_version(publish(values(30), later))
        .await
        .unwrap();
    for from in [later, later - Duration::hours(1)] {
        let e = publish_refused(&mut s, publish(values(20), from)).await;
        let (reason, fields) = error_reason(&e);
        assert_eq!(
            (reason.as_str(), fields),
            (
                "POLICY_EFFECTIVE_FROM_INVALID",
                vec!["effective_from".to_owned()]
            )
        );
        assert!(e.message().contains("newest version"), "{e:?}");
    }
    let versions = versions(&mut s).await;
    assert_eq!(versions.len(), 2, "refused requests wrote nothing");
    s.stop().await;
}

/// Every policy version, oldest first, as ListPolicyVersions answers.
async fn versions(s: &mut TestServer) -> Vec<pb::PolicyVersion> {
    s.policy
        .list_policy_versions(pb::ListPolicyVersionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .versions
}

/// A version's differences from the one before: `(field, from, to)`.
fn changes(version: &pb::PolicyVersion) -> Vec<(&str, &str, &str)> {
    version
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.from.as_str(), c.to.as_str()))
        .collect()
}

/// The three versions listed: the seed in force, the two published with who, when, the note
/// and their differences.
async fn listed_with_their_differences(s: &mut TestServer) {
    let versions = versions(s).await;
    assert_eq!(versions.len(), 3);
    let v1 = &versions[0];
    assert!(v1.in_force && v1.published_by.is_empty(), "{v1:?}");
    let v2 = &versions[1];
    assert!(!v2.in_force);
    assert_eq!(
        v2.policy.as_ref().unwrap().rerelease_countries,
        ["CN", "HK"]
    );
    assert_eq!(v2.published_by, "api:local");
    assert_eq!(v2.published_at, Some(ts(today())));
    assert_eq!(v2.note, "policy team: longer re-release window");
    assert_eq!(
        changes(v2),
        [
            ("rerelease_window_days", "25", "30"),
            ("rerelease_countries", "CN", "CN,HK")
        ]
    );
    let v3 = &versions[2];
    assert_eq!(
        changes(v3),
        [
            ("rerelease_window_days", "30", "20"),
            ("rerelease_countries", "CN,HK", "CN")
        ]
    );
}

#[tokio::test]
async fn r30_publishing_is_idempotent_audited_and_listed_with_its_differences() {
    let mut s = TestServer::start().await;
    let from = today() + Duration::days(3);
    let mut v = values(30);
    v.rerelease_countries = vec!["hk".into(), "CN".into()];
    let first = s
        .policy
        .publish_policy_version(publish(v.clone(), from))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    // The same request again, without a key: the same version, nothing new.
    let again = s
        .policy
        .publish_policy_version(publish(v.clone(), from))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    assert_eq!(again.version, first.version);
    // With an idempotency key: the first response replayed; the key reused for another
    // request is refused.
    let keyed = |r: pb::PublishPolicyVersionRequest| {
        let mut r = Request::new(r);
        r.metadata_mut()
            .insert("idempotency-key", "pub-1".parse().unwrap());
        r
    };
    let later = from + Duration::days(1);
    let k1 = s
        .policy
        .publish_policy_version(keyed(publish(values(20), later)))
        .await
        .unwrap()
        .into_inner();
    let k2 = s
        .policy
        .publish_policy_version(keyed(publish(values(20), later)))
        .await
        .unwrap()
        .into_inner();
    assert!(k1.created);
    assert_eq!(k1, k2);
    let e = s
        .policy
        .publish_policy_version(keyed(publish(values(21), later + Duration::days(1))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");

    listed_with_their_differences(&mut s).await;
    // One audit row per version published, whatever the retries.
    let audited: Vec<(i32, String)> =
        diesel::sql_query("SELECT version, actor FROM policy_audit ORDER BY version")
            .load::<AuditRow>(&mut s.conn())
            .unwrap()
            .into_iter()
            .map(|r| (r.version, r.actor))
            .collect();
    assert_eq!(audited, [(2, "api:local".into()), (3, "api:local".into())]);
    s.stop().await;
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    actor: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn r30_a_version_in_force_is_never_changed_even_in_the_database() {
    let mut s = TestServer::start().await;
    let mut conn = s.conn();
    for sql in [
        "UPDATE policies SET rerelease_window_days = 30 WHERE version = 1",
        "DELETE FROM policies WHERE version = 1",
    ] {
        let e = conn.batch_execute(sql).unwrap_err();
        assert!(e.to_string().contains("never changed"), "{sql}: {e}");
    }
    // A version not yet in force may be corrected by a migration, but not moved into the past.
    let future = Utc::now() + Duration::days(30);
    s.policy
        .publish_policy_version(publish(values(30), future))
        .await
        .unwrap();
    conn.batch_execute("UPDATE policies SET rerelease_window_days = 29 WHERE version = 2")
        .unwrap();
    let e = conn
        .batch_execute(
            "UPDATE policies SET effective_from = now() - interval '1 day' WHERE version = 2",
        )
        .unwrap_err();
    assert!(e.to_string().contains("past"), "{e}");
    // The audit is append-only.
    let e = conn
        .batch_execute("UPDATE policy_audit SET actor = 'someone else'")
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let n: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM policies WHERE version = 1 AND rerelease_window_days = 25",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(n.n, 1);
    s.stop().await;
}

/// Marks the order's tracking as scanned by the carrier.
fn confirm_tracking(s: &TestServer, number: &str, at: DateTime<Utc>) {
    diesel::update(trackings::table.filter(trackings::tracking_number.eq(number)))
        .set((
            trackings::status.eq("IN_TRANSIT"),
            trackings::confirmed_fulfillment_at.eq(at),
        ))
        .execute(&mut s.conn())
        .unwrap();
}

#[tokio::test]
async fn r30_r16_a_published_version_takes_effect_exactly_at_its_instant() {
    let mut s = TestServer::start().await;
    s.merchant("m-cn", "CN").await;
    let released = today() - Duration::days(2);
    s.release_at("m-cn", "o-1", released, alice()).await;
    s.orders
        .fulfill_order(fulfil("m-cn", "o-1", "wishpost", "LX100000001CN"))
        .await
        .unwrap();
    confirm_tracking(&s, "LX100000001CN", today() - Duration::days(1));
    // The cache holds version 1 only, loaded before the publication.
    let before = s
        .policy
        .get_policy(pb::GetPolicyRequest::default())
        .await
        .unwrap();
    assert_eq!(before.into_inner().policy.unwrap().version, 1);

    // Cancelled 27 calendar days after the release: a refund under 25 days, a re-release under 30.
    let cancelled = released + Duration::days(27);
    let switch = cancelled + Duration::days(1);
    s.policy
        .publish_policy_version(publish(values(30), switch))
        .await
        .unwrap();
    let policy_at = |at: DateTime<Utc>| {
        let mut client = s.policy.clone();
        async move {
            client
                .get_policy(pb::GetPolicyRequest { at: Some(ts(at)) })
                .await
                .unwrap()
                .into_inner()
                .policy
                .unwrap()
                .version
        }
    };
    let just_before = switch - Duration::microseconds(1);
    assert_eq!(policy_at(just_before).await, 1);
    assert_eq!(policy_at(switch).await, 2);
    let by = pb::CancelledBy::Carrier;
    // R16 decided a microsecond before the switch keeps version 1; at the switch, version 2.
    let old = s.decide("m-cn", "o-1", cancelled, by, just_before).await;
    assert_eq!(
        (old.outcome, old.policy_version, old.threshold_days),
        (pb::CancellationOutcome::Refund as i32, 1, 25),
        "{}",
        old.explanation
    );
    let new = s.decide("m-cn", "o-1", cancelled, by, switch).await;
    assert_eq!(
        (new.outcome, new.policy_version, new.threshold_days),
        (pb::CancellationOutcome::ReRelease as i32, 2, 30),
        "{}",
        new.explanation
    );
    // The clock reaching the switch makes it the version in force for "now" too.
    s.clock.set(switch);
    let now = s
        .policy
        .get_policy(pb::GetPolicyRequest::default())
        .await
        .unwrap();
    assert_eq!(now.into_inner().policy.unwrap().version, 2);
    s.stop().await;
}
