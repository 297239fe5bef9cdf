//! Issue 24 (R5, R15–R18, R30): SimulatePolicy over a history the real API and the real
//! reconciliation workers wrote. Simulating the version in force reproduces every recorded
//! decision exactly; a longer re-release window and a shorter fulfilment window answer their
//! transitions, merchants and samples; a decision whose facts history lacks is counted as not
//! judged, never guessed; and the simulation writes nothing.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fulfillment_core::schema::trackings;
use fulfillment_core::{Clock, Db};
use fulfillment_orders::{Actor, PolicyStore};
use fulfillment_proto::v1 as pb;
use fulfillment_tracking::tracking::{self, CancelledBy};
use fulfillment_workers::reconcile::{
    self, CancellationDetector, DeadlineEnforcer, ReReleaseDecider, Step,
};
use tonic::Code;

fn d0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

struct History {
    s: TestServer,
    db: Db,
    policies: Arc<PolicyStore>,
}

impl History {
    async fn run<S: Step>(&self, at: DateTime<Utc>) {
        self.s.clock.set(at);
        let clock: Arc<dyn Clock> = self.s.clock.clone();
        reconcile::run::<S>(&self.db, &clock, &self.policies, 3, false)
            .await
            .unwrap();
    }

    fn cancel(&self, number: &str, at: DateTime<Utc>) {
        tracking::cancel(
            &mut self.s.conn(),
            at,
            &Actor("test".into()),
            "wishpost",
            number,
            CancelledBy::Carrier,
            at,
        )
        .unwrap();
    }
}

/// Seven orders of two merchants, released at D0, with every kind of decision the simulation
/// replays, each made by the code that makes it in production.
async fn history() -> History {
    let mut s = TestServer::start().await;
    s.clock.set(d0());
    s.merchant("m-cn", "CN").await;
    s.merchant("m-br", "BR").await;
    let orders = [
        ("m-cn", "o-refund-27"),
        ("m-cn", "o-rerelease-10"),
        ("m-cn", "o-refund-40"),
        ("m-br", "o-flag-br"),
        ("m-cn", "o-unconfirmed"),
        ("m-cn", "o-late"),
        ("m-cn", "o-ontime"),
    ];
    for (merchant, id) in orders {
        s.release_at(merchant, id, d0(), alice()).await;
    }
    s.clock.set(d0() + Duration::days(1));
    for (i, (merchant, id)) in orders.iter().take(5).enumerate() {
        s.orders
            .fulfill_order(fulfil(
                merchant,
                id,
                "wishpost",
                &format!("LX10000000{i}CN"),
            ))
            .await
            .unwrap();
    }
    // Scanned by the carrier (the unconfirmed one never is).
    for i in 0..4 {
        diesel::update(
            trackings::table.filter(trackings::tracking_number.eq(format!("LX10000000{i}CN"))),
        )
        .set((
            trackings::status.eq("IN_TRANSIT"),
            trackings::confirmed_fulfillment_at.eq(d0() + Duration::days(2)),
        ))
        .execute(&mut s.conn())
        .unwrap();
    }
    // Shipped 4.5 days after release: on time under 5 days, late under 4.
    s.clock.set(d0() + Duration::hours(108));
    s.orders
        .fulfill_order(fulfil("m-cn", "o-ontime", "usps", "9400111899223334445520"))
        .await
        .unwrap();
    let h = History {
        db: Db::new(s.db.pool(3)),
        s,
        policies: Arc::new(PolicyStore::new()),
    };
    // R5: o-late is refunded an hour after its deadline.
    h.run::<DeadlineEnforcer>(d0() + Duration::days(5) + Duration::hours(1))
        .await;
    for (numbers, day) in [(&[1, 3, 4][..], 10), (&[0][..], 27), (&[2][..], 40)] {
        let at = d0() + Duration::days(day);
        for n in numbers {
            h.cancel(&format!("LX10000000{n}CN"), at);
        }
        h.run::<CancellationDetector>(at + Duration::hours(1)).await;
        h.run::<ReReleaseDecider>(at + Duration::hours(2)).await;
    }
    h.s.clock.set(d0() + Duration::days(50));
    h
}

async fn simulate(
    s: &mut TestServer,
    request: pb::SimulatePolicyRequest,
) -> (usize, pb::SimulationResult) {
    let mut stream = s
        .policy
        .simulate_policy(request)
        .await
        .unwrap()
        .into_inner();
    let (mut progress, mut result) = (0, None);
    while let Some(message) = stream.message().await.unwrap() {
        match message.item.unwrap() {
            pb::simulate_policy_response::Item::Progress(_) => progress += 1,
            pb::simulate_policy_response::Item::Result(r) => result = Some(r),
        }
    }
    (progress, result.unwrap())
}

fn window(candidate: Option<pb::PolicyValues>, version: i32) -> pb::SimulatePolicyRequest {
    pb::SimulatePolicyRequest {
        candidate,
        candidate_version: version,
        from: Some(ts(d0() - Duration::days(1))),
        to: Some(ts(d0() + Duration::days(50))),
        samples_per_transition: 3,
        top_merchants: 5,
    }
}

fn values(fulfillment: i32, rerelease: i32) -> pb::PolicyValues {
    pb::PolicyValues {
        fulfillment_window_days: fulfillment,
        combine_window_days: 5,
        rerelease_window_days: rerelease,
        rerelease_deadline_days: 5,
        confirmed_removal_from: Some(ts(Utc.with_ymd_and_hms(2020, 11, 10, 0, 0, 0).unwrap())),
        rerelease_from: Some(ts(Utc.with_ymd_and_hms(2021, 3, 4, 0, 0, 0).unwrap())),
        rerelease_countries: vec!["CN".into()],
    }
}

fn outcomes(r: &pb::SimulationResult) -> Vec<(String, String, i64, i64)> {
    r.outcomes
        .iter()
        .map(|o| (o.rule.clone(), o.outcome.clone(), o.baseline, o.candidate))
        .collect()
}

fn o(rule: &str, outcome: &str, baseline: i64, candidate: i64) -> (String, String, i64, i64) {
    (rule.into(), outcome.into(), baseline, candidate)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(s: &TestServer, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(&mut s.conn())
        .unwrap()
        .n
}

#[tokio::test]
async fn r30_simulating_the_version_in_force_reproduces_every_recorded_decision() {
    let mut h = history().await;
    let (progress, r) = simulate(&mut h.s, window(None, 1)).await;
    assert!(progress >= 1, "progress is streamed before the result");
    assert_eq!(r.decisions, 12, "{r:#?}");
    assert_eq!((r.reproduced, r.not_reproduced), (12, 0), "{r:#?}");
    assert!(r.transitions.is_empty() && r.unjudged.is_empty(), "{r:#?}");
    assert_eq!(
        outcomes(&r),
        [
            o("R15-R18", "FLAG_ONLY", 1, 1),
            o("R15-R18", "NOT_APPLICABLE", 1, 1),
            o("R15-R18", "REFUND", 2, 2),
            o("R15-R18", "RE_RELEASE", 1, 1),
            o("R5", "REFUND", 1, 1),
            o("R5", "SHIPPED_ON_TIME", 6, 6),
        ]
    );
    // The same counts as the decisions history holds.
    assert_eq!(
        count(
            &h.s,
            "SELECT count(*) AS n FROM order_events WHERE kind = 'refunded'"
        ),
        3
    );
    assert_eq!(
        count(
            &h.s,
            "SELECT count(*) AS n FROM order_events WHERE kind = 're_released'"
        ),
        1
    );
    h.s.stop().await;
}

#[tokio::test]
async fn r16_r5_a_longer_rerelease_window_and_a_shorter_fulfilment_window_answer_their_transitions()
{
    let mut h = history().await;
    let tables = "SELECT (SELECT count(*) FROM order_events) + (SELECT count(*) FROM outbox)
                  + (SELECT count(*) FROM policies) + (SELECT count(*) FROM policy_audit) AS n";
    let before = count(&h.s, tables);
    let (_, r) = simulate(&mut h.s, window(Some(values(4, 30)), 0)).await;
    assert_eq!((r.reproduced, r.not_reproduced), (12, 0));
    let transitions: Vec<_> = r
        .transitions
        .iter()
        .map(|t| (t.rule.as_str(), t.from.as_str(), t.to.as_str(), t.count))
        .collect();
    assert_eq!(
        transitions,
        [
            ("R15-R18", "REFUND", "RE_RELEASE", 1),
            ("R5", "SHIPPED_ON_TIME", "SHIPPED_LATE", 1)
        ]
    );
    let refund = &r.transitions[0].samples[0];
    assert_eq!(
        (refund.order_id.as_str(), refund.baseline_version),
        ("o-refund-27", 1)
    );
    assert!(
        refund.baseline_explanation.contains("27 calendar days")
            && refund.baseline_explanation.contains(">= 25"),
        "{refund:?}"
    );
    assert!(refund.candidate_explanation.contains("< 30"), "{refund:?}");
    let late = &r.transitions[1].samples[0];
    assert_eq!(late.order_id, "o-ontime");
    assert!(
        late.candidate_explanation
            .contains("4 days after the release"),
        "{late:?}"
    );
    // o-refund-40 stays a refund; o-late is still late under 4 days.
    assert!(outcomes(&r).contains(&o("R15-R18", "REFUND", 2, 1)));
    assert!(outcomes(&r).contains(&o("R5", "REFUND", 1, 1)));
    let top: Vec<_> = r
        .top_merchants
        .iter()
        .map(|m| {
            (
                m.merchant_id.as_str(),
                m.changed,
                m.refund_to_rerelease,
                m.newly_late,
            )
        })
        .collect();
    assert_eq!(top, [("m-cn", 2, 1, 1)]);
    assert_eq!(r.candidate.as_ref().unwrap().version, 0);
    assert!(r.notes.iter().any(|n| n.contains("R10/R11")));
    assert_eq!(count(&h.s, tables), before, "a simulation writes nothing");

    // A published future version is simulated by its number.
    h.s.policy
        .publish_policy_version(pb::PublishPolicyVersionRequest {
            values: Some(values(5, 30)),
            effective_from: Some(ts(d0() + Duration::days(60))),
            note: String::new(),
        })
        .await
        .unwrap();
    let (_, r) = simulate(&mut h.s, window(None, 2)).await;
    assert_eq!(r.candidate.as_ref().unwrap().version, 2);
    assert_eq!(r.transitions.len(), 1);
    assert_eq!(r.transitions[0].count, 1);
    // A longer fulfilment window: the refund would not have happened when it did.
    let (_, r) = simulate(&mut h.s, window(Some(values(7, 25)), 0)).await;
    let t = &r.transitions[0];
    assert_eq!(
        (t.rule.as_str(), t.from.as_str(), t.to.as_str()),
        ("R5", "REFUND", "NOT_YET_DUE")
    );
    assert_eq!(t.samples[0].order_id, "o-late");
    h.s.stop().await;
}

#[tokio::test]
async fn r15_a_decision_whose_facts_history_lacks_is_not_judged_and_says_why() {
    let mut h = history().await;
    // A decision recorded without its inputs (as an older decider wrote them).
    h.s.conn()
        .batch_execute(
            "INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after,
                                       policy_version, details, occurred_at)
             VALUES ('o-flag-br', 'm-br', 'worker:old', 'cancellation_flag_only', 'SHIPPED',
                     'SHIPPED', 1, '{\"rule\": \"R16\", \"outcome\": \"FLAG_ONLY\"}',
                     '2026-11-15T00:00:00Z')",
        )
        .unwrap();
    let (_, r) = simulate(&mut h.s, window(Some(values(5, 30)), 0)).await;
    assert_eq!(r.decisions, 13);
    assert_eq!((r.reproduced, r.not_reproduced), (12, 0));
    let u: Vec<_> = r
        .unjudged
        .iter()
        .map(|u| {
            (
                u.rule.as_str(),
                u.reason.as_str(),
                u.count,
                u.sample_order_ids.clone(),
            )
        })
        .collect();
    assert_eq!(
        u,
        [(
            "R15-R18",
            "FACTS_NOT_RECORDED",
            1,
            vec!["o-flag-br".to_owned()]
        )]
    );
    // Not counted under any outcome: the replay does not guess.
    let judged: i64 = r.outcomes.iter().map(|o| o.baseline).sum();
    assert_eq!(judged, 12);
    h.s.stop().await;
}

#[tokio::test]
async fn r30_bad_simulation_requests_name_the_field() {
    let mut s = TestServer::start().await;
    let mut both = window(Some(values(5, 30)), 1);
    let e = s.policy.simulate_policy(both.clone()).await.unwrap_err();
    assert_eq!(
        error_reason(&e),
        ("INVALID_SIMULATION".into(), vec!["candidate".into()])
    );
    both.candidate = None;
    both.candidate_version = 9;
    let e = s.policy.simulate_policy(both.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let mut long = window(None, 1);
    long.to = Some(ts(d0() + Duration::days(4_000)));
    let e = s.policy.simulate_policy(long).await.unwrap_err();
    assert_eq!(error_reason(&e).1, ["to"]);
    let e = s
        .policy
        .simulate_policy(window(Some(values(0, 30)), 0))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&e).1, ["candidate.fulfillment_window_days"]);
    let mut samples = window(None, 1);
    samples.samples_per_transition = 51;
    let e = s.policy.simulate_policy(samples).await.unwrap_err();
    assert_eq!(error_reason(&e).1, ["samples_per_transition"]);
    s.stop().await;
}
