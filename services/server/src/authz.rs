//! Which role may call which RPC: the one table (issue 5). A test walks every method of the
//! service descriptors and fails if one has no rule here, so a new RPC is born denied.
//!
//! Merchant scoping is the second half: a `merchant-gateway` caller also has the `merchant_id`
//! of each request checked against its token (`state::authorize`).

use crate::auth::Role;

const O: Role = Role::Operator;
const S: Role = Role::Service;
const G: Role = Role::MerchantGateway;

/// Full gRPC method path → the roles allowed to call it.
pub const RULES: &[(&str, &[Role])] = &[
    // Internal pipelines feed merchants and released orders in.
    ("/fulfillment.v1.FulfillmentService/UpsertMerchant", &[S]),
    ("/fulfillment.v1.FulfillmentService/ReleaseOrder", &[S]),
    // Reads: everyone, merchants only their own.
    ("/fulfillment.v1.FulfillmentService/GetOrder", &[O, S, G]),
    (
        "/fulfillment.v1.FulfillmentService/BatchGetOrders",
        &[O, S, G],
    ),
    (
        "/fulfillment.v1.FulfillmentService/ListOrdersToFulfill",
        &[O, S, G],
    ),
    (
        "/fulfillment.v1.FulfillmentService/ExportOrders",
        &[O, S, G],
    ),
    // What a merchant does: ship, bulk upload, carrier accounts, dispatch.
    ("/fulfillment.v1.FulfillmentService/FulfillOrder", &[G]),
    ("/fulfillment.v1.FulfillmentService/FulfillOrders", &[G]),
    ("/fulfillment.v1.FulfillmentService/ModifyTracking", &[G]),
    (
        "/fulfillment.v1.FulfillmentService/StartBulkFulfillment",
        &[G],
    ),
    ("/fulfillment.v1.FulfillmentService/GetBulkJob", &[O, G]),
    (
        "/fulfillment.v1.FulfillmentService/DownloadBulkJobResults",
        &[O, G],
    ),
    ("/fulfillment.v1.FulfillmentService/ListBulkJobs", &[O, G]),
    (
        "/fulfillment.v1.FulfillmentService/ConnectCarrierAccount",
        &[G],
    ),
    (
        "/fulfillment.v1.FulfillmentService/ListCarrierAccounts",
        &[O, G],
    ),
    (
        "/fulfillment.v1.FulfillmentService/DisconnectCarrierAccount",
        &[G],
    ),
    ("/fulfillment.v1.FulfillmentService/CreateShipments", &[G]),
    ("/fulfillment.v1.FulfillmentService/GetLabels", &[O, G]),
    // The platform's own bookkeeping: not merchant data.
    (
        "/fulfillment.v1.FulfillmentService/ListOutboxEvents",
        &[O, S],
    ),
    ("/fulfillment.v1.FulfillmentService/ListWorkerRuns", &[O, S]),
    // Rules and what-ifs.
    ("/fulfillment.v1.PolicyService/GetPolicy", &[O, S, G]),
    ("/fulfillment.v1.PolicyService/EvaluateOrder", &[O, S, G]),
    (
        "/fulfillment.v1.PolicyService/CheckCombinedShipment",
        &[O, S, G],
    ),
    (
        "/fulfillment.v1.PolicyService/DecideCancellation",
        &[O, S, G],
    ),
    // Issue 24: the policy team publishes versions and simulates them over every merchant's
    // history; anyone may read the versions.
    ("/fulfillment.v1.PolicyService/PublishPolicyVersion", &[O]),
    (
        "/fulfillment.v1.PolicyService/ListPolicyVersions",
        &[O, S, G],
    ),
    ("/fulfillment.v1.PolicyService/SimulatePolicy", &[O]),
    // Carrier facts come from pipelines; anyone may read them.
    ("/fulfillment.v1.TrackingService/GetTracking", &[O, S, G]),
    ("/fulfillment.v1.TrackingService/IngestTrackingEvents", &[S]),
    ("/fulfillment.v1.TrackingService/CancelTracking", &[S]),
    (
        "/fulfillment.v1.TrackingService/ListStuckTrackings",
        &[O, S, G],
    ),
    // The merchant-settings service records the integration (it carries a password).
    (
        "/fulfillment.v1.TrackingService/SetIntelipostIntegration",
        &[S],
    ),
];

/// Health and reflection answer without a token: probes and `grpcurl list` must always work
/// (reflection can be switched off instead).
pub fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

/// The roles allowed to call `path`; `None` for a method the table does not know.
pub fn allowed_roles(path: &str) -> Option<&'static [Role]> {
    RULES
        .iter()
        .find(|(method, _)| *method == path)
        .map(|(_, roles)| *roles)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    fn descriptor_methods() -> BTreeSet<String> {
        let set =
            prost_types::FileDescriptorSet::decode(fulfillment_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut methods = BTreeSet::new();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        methods
    }

    #[test]
    fn every_rpc_has_exactly_one_rule_and_every_rule_an_rpc() {
        let methods = descriptor_methods();
        assert!(methods.len() >= 27, "{methods:?}");
        for method in &methods {
            let rules = RULES.iter().filter(|(m, _)| m == method).count();
            assert_eq!(
                rules, 1,
                "{method} must have exactly one rule in authz::RULES"
            );
            assert!(!is_public(method), "{method} must not be public");
        }
        for (method, roles) in RULES {
            assert!(methods.contains(*method), "rule for unknown RPC {method}");
            assert!(!roles.is_empty(), "{method} allows no role");
        }
    }

    #[test]
    fn operators_cannot_change_orders_and_gateways_cannot_feed_the_pipeline() {
        for (method, roles) in RULES {
            let name = method.rsplit('/').next().unwrap();
            let reads = [
                "Get", "List", "BatchGet", "Export", "Download", "Evaluate", "Check", "Decide",
                "Simulate",
            ];
            // Policy values are the operators' own data (issue 24), not orders.
            if roles.contains(&Role::Operator) && name != "PublishPolicyVersion" {
                assert!(
                    reads.iter().any(|p| name.starts_with(p)),
                    "operator may only read and run what-ifs, not {name}"
                );
            }
        }
        for m in ["ReleaseOrder", "UpsertMerchant", "IngestTrackingEvents"] {
            let roles = allowed_roles(&format!(
                "/fulfillment.v1.{}/{m}",
                if m == "IngestTrackingEvents" {
                    "TrackingService"
                } else {
                    "FulfillmentService"
                }
            ))
            .unwrap();
            assert_eq!(roles, &[Role::Service], "{m}");
        }
    }

    #[test]
    fn health_and_reflection_are_public_others_are_not() {
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(is_public(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public("/fulfillment.v1.FulfillmentService/GetOrder"));
        assert!(!is_public("/grpc.health.v1.HealthX/Check"));
        assert_eq!(
            allowed_roles("/fulfillment.v1.FulfillmentService/Nope"),
            None
        );
    }
}
