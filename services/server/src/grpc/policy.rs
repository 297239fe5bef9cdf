use fulfillment_orders::{combined, evaluate};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::policy_service_server::PolicyService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::state::{AppState, authorize};
use crate::status::invalid_field;

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
        let by = convert::cancelled_by(req.cancelled_by);
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
}
