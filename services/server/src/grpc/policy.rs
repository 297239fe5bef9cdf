use chrono::{DateTime, Utc};
use fulfillment_core::{ServiceError, Violations};
use fulfillment_orders::policies::{self as publishing, PublishInput, PublishedVersion};
use fulfillment_orders::simulation::{self, SimulationInput};
use fulfillment_orders::{combined, evaluate};
use fulfillment_policy::cancellation::CancelledBy;
use fulfillment_policy::publishing::validate_values;
use fulfillment_policy::simulation::Tally;
use fulfillment_policy::values::{Policy, PolicyValues, policy_in_force};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::policy_service_server::PolicyService;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::grpc::snapshot_stream::snapshot_stream;
use crate::state::{AppState, Begin, authorize};
use crate::status::{invalid_field, to_status};

const DEFAULT_SAMPLES: usize = 5;
const MAX_SAMPLES: usize = 50;
const DEFAULT_TOP_MERCHANTS: usize = 10;
const MAX_TOP_MERCHANTS: usize = 100;
/// Longest a simulation's snapshot may run (each page is one short statement).
const SIMULATION_STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '10min'";

/// Every value of a version from the wire: all of them are required, a version is whole.
fn values_from_pb(v: &pb::PolicyValues, prefix: &str, errors: &mut Violations) -> PolicyValues {
    let mut time = |ts: Option<&prost_types::Timestamp>, field: &str| match ts {
        None => {
            errors.add(format!("{prefix}.{field}"), "is required");
            DateTime::<Utc>::UNIX_EPOCH
        }
        Some(ts) => convert::from_timestamp(ts).unwrap_or_else(|| {
            errors.add(format!("{prefix}.{field}"), convert::TIMESTAMP_RANGE);
            DateTime::<Utc>::UNIX_EPOCH
        }),
    };
    let confirmed_removal_from = time(v.confirmed_removal_from.as_ref(), "confirmed_removal_from");
    let rerelease_from = time(v.rerelease_from.as_ref(), "rerelease_from");
    PolicyValues {
        fulfillment_window_days: v.fulfillment_window_days.into(),
        combine_window_days: v.combine_window_days.into(),
        rerelease_window_days: v.rerelease_window_days.into(),
        rerelease_deadline_days: v.rerelease_deadline_days.into(),
        confirmed_removal_from,
        rerelease_from,
        rerelease_countries: v.rerelease_countries.clone(),
    }
}

fn version_to_pb(v: &PublishedVersion, in_force: Option<i32>) -> pb::PolicyVersion {
    pb::PolicyVersion {
        policy: Some(convert::policy(&v.policy)),
        published_by: v.published_by.clone().unwrap_or_default(),
        published_at: convert::opt_timestamp(v.published_at),
        changes: v
            .changes
            .iter()
            .map(|c| pb::PolicyChange {
                field: c.field.to_owned(),
                from: c.from.clone(),
                to: c.to.clone(),
            })
            .collect(),
        note: v.note.clone(),
        in_force: in_force == Some(v.policy.version),
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn sample_to_pb(s: &fulfillment_policy::simulation::Sample) -> pb::SimulationSample {
    pb::SimulationSample {
        order_id: s.order_id.clone(),
        merchant_id: s.merchant_id.clone(),
        decided_at: Some(convert::timestamp(s.decided_at)),
        baseline_version: s.baseline_version,
        baseline_explanation: s.baseline_explanation.clone(),
        candidate_explanation: s.candidate_explanation.clone(),
    }
}

fn result_to_pb(
    tally: &Tally,
    input: &SimulationInput,
    top: usize,
    elapsed_ms: u64,
) -> pb::SimulationResult {
    pb::SimulationResult {
        candidate: Some(convert::policy(&input.candidate)),
        from: Some(convert::timestamp(input.from)),
        to: Some(convert::timestamp(input.to)),
        decisions: count(tally.decisions),
        outcomes: tally
            .outcomes
            .iter()
            .map(
                |((rule, outcome), (baseline, candidate))| pb::SimulationOutcomeCount {
                    rule: (*rule).to_owned(),
                    outcome: (*outcome).to_owned(),
                    baseline: count(*baseline),
                    candidate: count(*candidate),
                },
            )
            .collect(),
        transitions: tally
            .transitions
            .iter()
            .map(|((rule, from, to), t)| pb::SimulationTransition {
                rule: (*rule).to_owned(),
                from: (*from).to_owned(),
                to: (*to).to_owned(),
                count: count(t.count),
                samples: t.samples.iter().map(sample_to_pb).collect(),
            })
            .collect(),
        top_merchants: tally
            .top_merchants(top)
            .into_iter()
            .map(|(id, m)| pb::SimulationMerchant {
                merchant_id: id.to_owned(),
                changed: count(m.changed),
                refund_to_rerelease: count(m.refund_to_rerelease),
                newly_late: count(m.newly_late),
            })
            .collect(),
        unjudged: tally
            .unjudged
            .iter()
            .map(|((rule, reason), u)| pb::SimulationUnjudged {
                rule: (*rule).to_owned(),
                reason: (*reason).to_owned(),
                count: count(u.count),
                message: u.message.to_owned(),
                sample_order_ids: u.sample_order_ids.clone(),
            })
            .collect(),
        reproduced: count(tally.reproduced),
        not_reproduced: count(tally.not_reproduced),
        not_reproduced_samples: tally
            .not_reproduced_samples
            .iter()
            .map(sample_to_pb)
            .collect(),
        elapsed_ms: i64::try_from(elapsed_ms).unwrap_or(i64::MAX),
        notes: simulation::NOTES.iter().map(|n| (*n).to_owned()).collect(),
    }
}

/// A bounded count from the request: 0 means the default.
fn bounded(value: i32, field: &str, default: usize, max: usize) -> Result<usize, Status> {
    match usize::try_from(value) {
        Ok(0) => Ok(default),
        Ok(n) if n <= max => Ok(n),
        _ => Err(invalid_field(
            "INVALID_SIMULATION",
            field,
            &format!("must be between 0 (default {default}) and {max}"),
        )),
    }
}

/// The simulated window: `from` is required, `to` defaults to now, and the window is bounded.
fn simulation_window(
    req: &pb::SimulatePolicyRequest,
    state: &AppState,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Status> {
    let from = match req.from.as_ref() {
        None => return Err(invalid_field("INVALID_SIMULATION", "from", "is required")),
        Some(ts) => convert::from_timestamp(ts)
            .ok_or_else(|| invalid_field("INVALID_SIMULATION", "from", convert::TIMESTAMP_RANGE))?,
    };
    let to = time_or_now(req.to.as_ref(), "to", state)?;
    if from >= to {
        return Err(invalid_field(
            "INVALID_SIMULATION",
            "to",
            "must be after from",
        ));
    }
    if to - from > simulation::max_window() {
        return Err(invalid_field(
            "INVALID_SIMULATION",
            "to",
            &format!(
                "the window may span at most {} days",
                simulation::max_window().num_days()
            ),
        ));
    }
    Ok((from, to))
}

/// The candidate's values when given inline (checked as a publication would be), `None` when
/// the candidate is a published version; exactly one of the two must be given.
fn candidate_values(req: &pb::SimulatePolicyRequest) -> Result<Option<PolicyValues>, Status> {
    match (req.candidate.as_ref(), req.candidate_version) {
        (Some(v), 0) => {
            let mut errors = Violations::new();
            let values = values_from_pb(v, "candidate", &mut errors);
            errors.finish("INVALID_SIMULATION").map_err(to_status)?;
            Ok(Some(validate_values(&values).map_err(|problems| {
                let mut errors = Violations::new();
                for p in problems {
                    errors.add(format!("candidate.{}", p.field), p.description);
                }
                to_status(errors.into_error("INVALID_SIMULATION"))
            })?))
        }
        (None, n) if n > 0 => Ok(None),
        _ => Err(invalid_field(
            "INVALID_SIMULATION",
            "candidate",
            "give exactly one of candidate (values) and candidate_version (a published version)",
        )),
    }
}

pub struct PolicyApi {
    pub state: AppState,
}

/// A request timestamp or, when unset, now.
fn time_or_now(
    ts: Option<&prost_types::Timestamp>,
    field: &str,
    state: &AppState,
) -> Result<chrono::DateTime<chrono::Utc>, Status> {
    match ts {
        None => Ok(state.clock.now()),
        Some(ts) => convert::from_timestamp(ts)
            .ok_or_else(|| invalid_field("INVALID_TIMESTAMP", field, convert::TIMESTAMP_RANGE)),
    }
}

#[tonic::async_trait]
impl PolicyService for PolicyApi {
    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        authorize(&request)?;
        let at = time_or_now(request.get_ref().at.as_ref(), "at", &self.state)?;
        let policy = self
            .state
            .read(move |conn, state| state.policies.at(conn, at))
            .await?;
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(convert::policy(&policy)),
        }))
    }

    async fn evaluate_order(
        &self,
        request: Request<pb::EvaluateOrderRequest>,
    ) -> Result<Response<pb::EvaluateOrderResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let e = self
            .state
            .read(move |conn, state| {
                let now = state.clock.now();
                let policy = state.policies.at(conn, now)?;
                evaluate::evaluate_order(conn, now, &policy, &req.merchant_id, &req.order_id)
            })
            .await?;
        Ok(Response::new(pb::EvaluateOrderResponse {
            order_id: e.view.order.id.clone(),
            policy_version: e.policy_version,
            fulfillment_deadline: Some(convert::timestamp(e.view.order.fulfillment_deadline)),
            days_to_fulfill: e.view.time_left.days_to_fulfill,
            hours_to_fulfill: e.view.time_left.hours_to_fulfill,
            overdue: e.overdue,
            payment_eligible: e.view.payment.eligible,
            payment_eligibility_reason: e.view.payment.reason.clone(),
            cancellation_if_now: Some(convert::cancellation_decision(
                &e.cancellation_if_now,
                e.policy_version,
            )),
        }))
    }

    async fn check_combined_shipment(
        &self,
        request: Request<pb::CheckCombinedShipmentRequest>,
    ) -> Result<Response<pb::CheckCombinedShipmentResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let outcome = self
            .state
            .read(move |conn, state| {
                let policy = state.policies.at(conn, state.clock.now())?;
                let tracking = (!req.tracking_number.is_empty() || !req.carrier.is_empty())
                    .then_some((req.carrier.as_str(), req.tracking_number.as_str()));
                combined::check_combined(conn, &policy, &req.merchant_id, &req.order_ids, tracking)
            })
            .await?;
        let check = outcome.check;
        Ok(Response::new(pb::CheckCombinedShipmentResponse {
            allowed: check.allowed,
            violations: check
                .violations
                .into_iter()
                .map(|v| pb::CombinedShipmentViolation {
                    reason: v.kind.reason().to_owned(),
                    order_ids: v.order_ids,
                    message: v.message,
                })
                .collect(),
            requirement: convert::requirement(check.requirement) as i32,
            deadline: convert::opt_timestamp(check.deadline),
            existing_order_ids: outcome.existing_order_ids,
        }))
    }

    async fn decide_cancellation(
        &self,
        request: Request<pb::DecideCancellationRequest>,
    ) -> Result<Response<pb::DecideCancellationResponse>, Status> {
        authorize(&request)?;
        let at = time_or_now(
            request.get_ref().cancelled_at.as_ref(),
            "cancelled_at",
            &self.state,
        )?;
        // A decision cannot precede its cancellation: a what-if about a future cancellation
        // is decided the moment it arrives unless the caller says otherwise.
        let decided_at = match request.get_ref().re_released_at.as_ref() {
            None => self.state.clock.now().max(at),
            Some(_) => time_or_now(
                request.get_ref().re_released_at.as_ref(),
                "re_released_at",
                &self.state,
            )?,
        };
        if decided_at < at {
            return Err(invalid_field(
                "RE_RELEASE_BEFORE_CANCELLATION",
                "re_released_at",
                "must not be before cancelled_at",
            ));
        }
        let req = request.into_inner();
        // The API's documented default: a what-if about a cancellation is a carrier's (R18).
        let by = convert::cancelled_by(req.cancelled_by).unwrap_or(CancelledBy::Carrier);
        let (decision, version) = self
            .state
            .read(move |conn, state| {
                // R30: the version in force at the decision moment, as the decider reads it.
                let policy = state.policies.at(conn, decided_at)?;
                let decision = evaluate::what_if_cancelled(
                    conn,
                    state.clock.now(),
                    &policy,
                    &req.merchant_id,
                    &req.order_id,
                    at,
                    by,
                    decided_at,
                )?;
                Ok((decision, policy.version))
            })
            .await?;
        Ok(Response::new(pb::DecideCancellationResponse {
            decision: Some(convert::cancellation_decision(&decision, version)),
        }))
    }

    async fn publish_policy_version(
        &self,
        request: Request<pb::PublishPolicyVersionRequest>,
    ) -> Result<Response<pb::PublishPolicyVersionResponse>, Status> {
        let (version, created) = self
            .state
            .mutate(
                Begin::Plain,
                "PublishPolicyVersion",
                request,
                |conn, state, actor, req: pb::PublishPolicyVersionRequest| {
                    let mut errors = Violations::new();
                    let values = match req.values.as_ref() {
                        Some(v) => values_from_pb(v, "values", &mut errors),
                        None => {
                            errors.add("values", "is required (every value of the version)");
                            PolicyValues::default()
                        }
                    };
                    let effective_from = match req.effective_from.as_ref() {
                        None => {
                            errors.add("effective_from", "is required");
                            None
                        }
                        Some(ts) => {
                            let at = convert::from_timestamp(ts);
                            if at.is_none() {
                                errors.add("effective_from", convert::TIMESTAMP_RANGE);
                            }
                            at
                        }
                    };
                    errors.finish("INVALID_POLICY")?;
                    let effective_from = effective_from
                        .ok_or_else(|| ServiceError::internal("validated time missing"))?;
                    let now = state.clock.now();
                    let (version, created) = publishing::publish(
                        conn,
                        now,
                        actor,
                        &PublishInput {
                            values,
                            effective_from,
                            note: req.note,
                        },
                    )?;
                    let versions = publishing::list(conn)?;
                    let policies: Vec<Policy> = versions.iter().map(|v| v.policy.clone()).collect();
                    let in_force = policy_in_force(&policies, now).map(|p| p.version);
                    Ok(pb::PublishPolicyVersionResponse {
                        version: Some(version_to_pb(&version, in_force)),
                        created,
                    })
                },
            )
            .await
            .map(|r| (r.version, r.created))?;
        // This replica sees the new version at once; the others within their 60 s refresh,
        // well before the version's instant (it is at least 5 minutes ahead).
        self.state.policies.invalidate();
        Ok(Response::new(pb::PublishPolicyVersionResponse {
            version,
            created,
        }))
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Result<Response<pb::ListPolicyVersionsResponse>, Status> {
        authorize(&request)?;
        let versions = self
            .state
            .read(move |conn, state| {
                let versions = publishing::list(conn)?;
                let policies: Vec<Policy> = versions.iter().map(|v| v.policy.clone()).collect();
                let in_force = policy_in_force(&policies, state.clock.now()).map(|p| p.version);
                Ok(versions
                    .iter()
                    .map(|v| version_to_pb(v, in_force))
                    .collect())
            })
            .await?;
        Ok(Response::new(pb::ListPolicyVersionsResponse { versions }))
    }

    type SimulatePolicyStream = BoxStream<pb::SimulatePolicyResponse>;

    async fn simulate_policy(
        &self,
        request: Request<pb::SimulatePolicyRequest>,
    ) -> Result<Response<Self::SimulatePolicyStream>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let samples = bounded(
            req.samples_per_transition,
            "samples_per_transition",
            DEFAULT_SAMPLES,
            MAX_SAMPLES,
        )?;
        let top = bounded(
            req.top_merchants,
            "top_merchants",
            DEFAULT_TOP_MERCHANTS,
            MAX_TOP_MERCHANTS,
        )?;
        let now = self.state.clock.now();
        let (from, to) = simulation_window(&req, &self.state)?;
        let candidate_values = candidate_values(&req)?;
        let candidate_version = req.candidate_version;
        // The versions, and the candidate, are resolved before the stream starts, so a bad
        // version number is refused with a plain error.
        let (versions, candidate) = self
            .state
            .read(move |conn, _| {
                let versions: Vec<Policy> = publishing::list(conn)?
                    .into_iter()
                    .map(|v| v.policy)
                    .collect();
                let candidate = match candidate_values {
                    Some(values) => Policy {
                        version: 0,
                        effective_from: now,
                        values,
                    },
                    None => versions
                        .iter()
                        .find(|p| p.version == candidate_version)
                        .cloned()
                        .ok_or_else(|| {
                            ServiceError::not_found("policy version", candidate_version.to_string())
                        })?,
                };
                Ok((versions, candidate))
            })
            .await?;
        let input = SimulationInput {
            candidate,
            from,
            to,
            samples_per_transition: samples,
        };
        let stream = snapshot_stream(
            &self.state,
            SIMULATION_STATEMENT_TIMEOUT,
            move |conn, sink| {
                let started = std::time::Instant::now();
                let tally = simulation::simulate(conn, &versions, &input, &mut |p| {
                    sink(pb::SimulatePolicyResponse {
                        item: Some(pb::simulate_policy_response::Item::Progress(
                            pb::SimulationProgress {
                                decisions_read: count(p.decisions_read),
                                reached: Some(convert::timestamp(p.reached)),
                                elapsed_ms: i64::try_from(p.elapsed_ms).unwrap_or(i64::MAX),
                            },
                        )),
                    })
                })?;
                let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::info!(
                    decisions = tally.decisions,
                    not_reproduced = tally.not_reproduced,
                    elapsed_ms = elapsed,
                    "policy simulation done"
                );
                sink(pb::SimulatePolicyResponse {
                    item: Some(pb::simulate_policy_response::Item::Result(result_to_pb(
                        &tally, &input, top, elapsed,
                    ))),
                });
                Ok(())
            },
        );
        Ok(Response::new(stream))
    }
}
