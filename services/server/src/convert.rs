//! Wire <-> domain conversions. Pure functions; no decisions.

use chrono::{DateTime, Utc};
use fulfillment_core::models::Address;
use fulfillment_dispatch::carrier_accounts::{AccountSettings, AccountView, PocztaKind};
use fulfillment_orders::view::{OrderView, TrackingLink};
use fulfillment_policy::cancellation::{
    CancellationDecision, CancellationOutcome, CancelledBy, OrderFlag,
};
use fulfillment_policy::combined_shipment::Requirement;
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::values::Policy;
use fulfillment_proto::v1 as pb;
use prost_types::Timestamp;

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn opt_timestamp(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.map(timestamp)
}

/// Earliest and latest instants a request may carry: wide enough for any real order, narrow
/// enough that far-past and far-future values are refused at the edge, not by the database.
const EARLIEST_SECONDS: i64 = 0; // 1970-01-01T00:00:00Z
const LATEST_SECONDS: i64 = 7_258_118_400; // 2200-01-01T00:00:00Z

/// What callers say when [`from_timestamp`] refuses a value.
pub const TIMESTAMP_RANGE: &str =
    "must be a valid timestamp between 1970-01-01 and 2199-12-31 (nanos 0 to 999999999)";

/// `None` for an invalid or out-of-range timestamp; callers report the field.
pub fn from_timestamp(ts: &Timestamp) -> Option<DateTime<Utc>> {
    if !(EARLIEST_SECONDS..LATEST_SECONDS).contains(&ts.seconds) {
        return None;
    }
    let nanos = u32::try_from(ts.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(ts.seconds, nanos)
}

/// An address on the wire and in the domain have the same fields: they are listed once.
macro_rules! address {
    ($a:ident => $($to:ident)::+) => {
        $($to)::+ {
            name: $a.name,
            street_address1: $a.street_address1,
            street_address2: $a.street_address2,
            city: $a.city,
            state: $a.state,
            zipcode: $a.zipcode,
            country: $a.country,
            phone_number: $a.phone_number,
        }
    };
}

pub fn address_to_pb(a: Address) -> pb::ShippingDetail {
    address!(a => pb::ShippingDetail)
}

pub fn address_from_pb(a: pb::ShippingDetail) -> Address {
    address!(a => Address)
}

pub fn order_state(state: OrderState) -> pb::OrderState {
    match state {
        OrderState::Approved => pb::OrderState::Approved,
        OrderState::Shipped => pb::OrderState::Shipped,
        OrderState::Refunded => pb::OrderState::Refunded,
    }
}

pub fn order_flag(flag: &str) -> pb::OrderFlag {
    match flag {
        "TRACKING_NUMBER_CANCELLED" => pb::OrderFlag::TrackingNumberCancelled,
        "APLUS_TRACKING_NUMBER_CANCELLED" => pb::OrderFlag::AplusTrackingNumberCancelled,
        _ => pb::OrderFlag::Unspecified,
    }
}

fn refund_reason(reason: Option<&str>) -> pb::RefundReason {
    match reason {
        Some("NOT_SHIPPED_IN_TIME") => pb::RefundReason::NotShippedInTime,
        Some("TRACKING_CANCELLED_LATE") => pb::RefundReason::TrackingCancelledLate,
        _ => pb::RefundReason::Unspecified,
    }
}

pub fn tracking_status(status: &str) -> pb::TrackingStatus {
    pb::TrackingStatus::from_str_name(&format!("TRACKING_STATUS_{status}"))
        .unwrap_or(pb::TrackingStatus::Unspecified)
}

pub fn channel(channel: i32) -> Channel {
    match pb::Channel::try_from(channel) {
        Ok(pb::Channel::Dashboard) => Channel::Dashboard,
        _ => Channel::Api,
    }
}

pub fn order_tracking(link: &TrackingLink) -> pb::OrderTracking {
    pb::OrderTracking {
        tracking_number: link.tracking.tracking_number.clone(),
        carrier: link.tracking.carrier.clone(),
        origin_country: link.link.origin_country.clone(),
        shipped_at: Some(timestamp(link.link.shipped_at)),
        confirmed_fulfillment_at: opt_timestamp(link.confirmed_fulfillment_at()),
        status: tracking_status(&link.tracking.status) as i32,
        shipped_late: link.link.shipped_late,
    }
}

pub fn order(view: &OrderView) -> pb::Order {
    let o = &view.order;
    pb::Order {
        id: o.id.clone(),
        merchant_id: o.merchant_id.clone(),
        state: order_state(view.state()) as i32,
        initial_released_at: Some(timestamp(o.initial_released_at)),
        released_at: Some(timestamp(o.released_at)),
        fulfillment_deadline: Some(timestamp(o.fulfillment_deadline)),
        days_to_fulfill: view.time_left.days_to_fulfill,
        hours_to_fulfill: view.time_left.hours_to_fulfill,
        is_wish_express: o.is_wish_express,
        is_advanced_logistics: o.is_advanced_logistics,
        shipping_detail: Some(address_to_pb(o.shipping_detail())),
        customer_shipping_detail: Some(address_to_pb(o.customer_shipping_detail())),
        tracking: view.current.as_ref().map(order_tracking),
        tracking_number_cancelled: o.tracking_number_cancelled,
        tracking_number_cancelled_date: opt_timestamp(o.tracking_number_cancelled_date),
        is_re_released: o.is_re_released,
        order_re_released_date: opt_timestamp(o.order_re_released_date),
        flags: o.flags.iter().map(|f| order_flag(f) as i32).collect(),
        payment_eligible: view.payment.eligible,
        refund_reason: refund_reason(o.refund_reason.as_deref()) as i32,
        product_id: o.product_id.clone(),
        product_name: o.product_name.clone(),
        quantity: o.quantity,
        tracking_history: view.history.iter().map(order_tracking).collect(),
        update_time: Some(timestamp(o.updated_at)),
        overdue: view.overdue,
    }
}

pub fn merchant(m: fulfillment_core::models::Merchant) -> pb::Merchant {
    pb::Merchant {
        id: m.id,
        name: m.name,
        country: m.country,
        create_time: Some(timestamp(m.created_at)),
        update_time: Some(timestamp(m.updated_at)),
    }
}

pub fn requirement(r: Requirement) -> pb::ShippingRequirement {
    match r {
        Requirement::Standard => pb::ShippingRequirement::Standard,
        Requirement::WishExpress => pb::ShippingRequirement::WishExpress,
    }
}

pub fn policy(p: &Policy) -> pb::Policy {
    let days = |d: i64| i32::try_from(d).unwrap_or(i32::MAX);
    pb::Policy {
        version: p.version,
        effective_from: Some(timestamp(p.effective_from)),
        fulfillment_window_days: days(p.values.fulfillment_window_days),
        combine_window_days: days(p.values.combine_window_days),
        rerelease_window_days: days(p.values.rerelease_window_days),
        rerelease_deadline_days: days(p.values.rerelease_deadline_days),
        confirmed_removal_from: Some(timestamp(p.values.confirmed_removal_from)),
        rerelease_from: Some(timestamp(p.values.rerelease_from)),
        rerelease_countries: p.values.rerelease_countries.clone(),
    }
}

/// The caller's `cancelled_by`; `None` for UNSPECIFIED or a number the enum does not have.
pub fn cancelled_by(value: i32) -> Option<CancelledBy> {
    match pb::CancelledBy::try_from(value) {
        Ok(pb::CancelledBy::Merchant) => Some(CancelledBy::Merchant),
        Ok(pb::CancelledBy::Carrier) => Some(CancelledBy::Carrier),
        _ => None,
    }
}

/// A stored `cancelled_by` (R18) as the API's enum; UNSPECIFIED while not cancelled.
pub fn pb_cancelled_by(stored: Option<&str>) -> pb::CancelledBy {
    match stored.map(str::parse::<CancelledBy>) {
        Some(Ok(CancelledBy::Merchant)) => pb::CancelledBy::Merchant,
        Some(Ok(CancelledBy::Carrier)) => pb::CancelledBy::Carrier,
        None | Some(Err(_)) => pb::CancelledBy::Unspecified,
    }
}

pub fn cancellation_decision(
    d: &CancellationDecision,
    policy_version: i32,
) -> pb::CancellationDecision {
    pb::CancellationDecision {
        outcome: match d.outcome {
            CancellationOutcome::NotApplicable => pb::CancellationOutcome::NotApplicable,
            CancellationOutcome::FlagOnly => pb::CancellationOutcome::FlagOnly,
            CancellationOutcome::ReRelease => pb::CancellationOutcome::ReRelease,
            CancellationOutcome::Refund => pb::CancellationOutcome::Refund,
        } as i32,
        remove_confirmed_date: d.remove_confirmed_date,
        set_cancelled_flag: d.set_cancelled_flag,
        flags: d
            .flags
            .iter()
            .map(|f| match f {
                OrderFlag::TrackingNumberCancelled => pb::OrderFlag::TrackingNumberCancelled as i32,
                OrderFlag::AplusTrackingNumberCancelled => {
                    pb::OrderFlag::AplusTrackingNumberCancelled as i32
                }
            })
            .collect(),
        leave_aplus_program: d.leave_aplus_program,
        reset_shipping_to_customer: d.reset_shipping_to_customer,
        days_since_initial_release: d.days_since_initial_release,
        threshold_days: d.threshold_days,
        new_deadline: opt_timestamp(d.new_deadline),
        explanation: d.explanation.clone(),
        policy_version,
        re_released_at: opt_timestamp(d.re_released_at),
    }
}

/// The settings of a ConnectCarrierAccount request; secrets stay inside the returned value.
pub fn account_settings(
    settings: Option<pb::connect_carrier_account_request::Settings>,
) -> Option<AccountSettings> {
    use pb::connect_carrier_account_request::Settings;
    Some(match settings? {
        Settings::PocztaPolska(p) => AccountSettings::PocztaPolska {
            kind: match pb::PocztaPolskaAccountKind::try_from(p.account_kind) {
                Ok(pb::PocztaPolskaAccountKind::Regular) => Some(PocztaKind::Regular),
                Ok(pb::PocztaPolskaAccountKind::Marketplace) => Some(PocztaKind::Marketplace),
                _ => None,
            },
            login: p.login,
            password: p.password,
            default_sizes: p.default_sizes.into_iter().collect(),
            cod_bank_account: p.cod_bank_account,
        },
        Settings::PaczkaWRuchu(p) => AccountSettings::PaczkaWRuchu {
            partner_id: p.partner_id,
            partner_key: p.partner_key,
            default_size: p.default_size,
        },
        Settings::Inpost(p) => AccountSettings::Inpost {
            organization_id: p.organization_id,
            api_token: p.api_token,
            default_template: p.default_template,
            sending_locker: p.sending_locker,
            send_from_locker: p.send_from_locker,
        },
    })
}

pub fn carrier_account(a: AccountView) -> pb::CarrierAccount {
    pb::CarrierAccount {
        id: a.id,
        merchant_id: a.merchant_id,
        carrier: a.carrier,
        settings: a.settings.into_iter().collect(),
        create_time: Some(timestamp(a.created_at)),
    }
}

/// JSON as a protobuf `Struct` value (numbers become doubles, as JSON has them).
fn json_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(json_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn json_struct(map: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map.into_iter().map(|(k, v)| (k, json_value(v))).collect(),
    }
}

pub fn outbox_event(e: fulfillment_core::repo::outbox::Positioned) -> pb::OutboxEvent {
    let payload = match e.payload {
        serde_json::Value::Object(map) => json_struct(map),
        other => json_struct(serde_json::Map::from_iter([("value".to_owned(), other)])),
    };
    pb::OutboxEvent {
        id: e.event_id,
        event_type: e.event_type,
        merchant_id: e.merchant_id,
        order_id: e.order_id.unwrap_or_default(),
        payload: Some(payload),
        create_time: Some(timestamp(e.created_at)),
    }
}

pub fn worker_run(r: fulfillment_core::repo::worker_runs::WorkerRun) -> pb::WorkerRun {
    let counts = match r.counts {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_i64()?)))
            .collect(),
        _ => Default::default(),
    };
    pb::WorkerRun {
        id: r.id.to_string(),
        worker: r.worker,
        start_time: Some(timestamp(r.started_at)),
        finish_time: opt_timestamp(r.finished_at),
        outcome: r.outcome,
        dry_run: r.dry_run,
        counts,
        error: r.error.unwrap_or_default(),
    }
}

/// A wire order state as a filter value; `None` for unspecified or unknown values.
pub fn order_state_from_pb(value: i32) -> Option<OrderState> {
    match pb::OrderState::try_from(value) {
        Ok(pb::OrderState::Approved) => Some(OrderState::Approved),
        Ok(pb::OrderState::Shipped) => Some(OrderState::Shipped),
        Ok(pb::OrderState::Refunded) => Some(OrderState::Refunded),
        _ => None,
    }
}

pub fn bulk_job(j: fulfillment_core::repo::bulk_jobs::BulkJob) -> pb::BulkJob {
    let state = match j.state.as_str() {
        "PENDING" => pb::BulkJobState::Pending,
        "RUNNING" => pb::BulkJobState::Running,
        "COMPLETED" => pb::BulkJobState::Completed,
        "FAILED" => pb::BulkJobState::Failed,
        _ => pb::BulkJobState::Unspecified,
    };
    pb::BulkJob {
        id: j.id,
        merchant_id: j.merchant_id,
        file_name: j.file_name,
        state: state as i32,
        total_rows: j.total_rows.into(),
        processed_rows: j.processed_rows.into(),
        accepted_rows: j.accepted_rows.into(),
        rejected_rows: j.rejected_rows.into(),
        create_time: Some(timestamp(j.created_at)),
        finish_time: opt_timestamp(j.finished_at),
        error: j.error.unwrap_or_default(),
        skipped_rows: j.skipped_rows.into(),
    }
}

pub fn bulk_job_row(r: fulfillment_core::repo::bulk_jobs::BulkJobRow) -> pb::BulkJobRow {
    let outcome = match r.outcome.as_str() {
        "PENDING" => pb::BulkRowOutcome::Pending,
        "ACCEPTED" => pb::BulkRowOutcome::Accepted,
        "REJECTED" => pb::BulkRowOutcome::Rejected,
        _ => pb::BulkRowOutcome::Unspecified,
    };
    pb::BulkJobRow {
        line: r.line.into(),
        order_id: r.order_id,
        outcome: outcome as i32,
        reason: r.reason,
        message: r.message,
    }
}

/// A CreateShipments request; `request_key` is the caller's idempotency key, if any.
pub fn create_shipments(
    req: pb::CreateShipmentsRequest,
    request_key: Option<String>,
) -> fulfillment_dispatch::dispatch::CreateShipments {
    use fulfillment_dispatch::dispatch::ShipmentType;
    let shipment_type = match pb::DispatchShipmentType::try_from(req.shipment_type) {
        Ok(pb::DispatchShipmentType::Unspecified | pb::DispatchShipmentType::Parcel) => {
            Some(ShipmentType::Parcel)
        }
        Ok(pb::DispatchShipmentType::RegisteredLetter) => Some(ShipmentType::RegisteredLetter),
        Ok(pb::DispatchShipmentType::UnregisteredLetter) => Some(ShipmentType::UnregisteredLetter),
        Err(_) => None,
    };
    fulfillment_dispatch::dispatch::CreateShipments {
        merchant_id: req.merchant_id,
        account_id: req.account_id,
        order_ids: req.order_ids,
        confirm_recreate: req.confirm_recreate,
        size: req.size,
        weight_grams: req.weight_grams,
        shipment_type,
        target_points: req.target_points.into_iter().collect(),
        sender: req.sender.map(address_from_pb),
        sender_email: req.sender_email,
        request_key,
    }
}

pub fn shipment_result(r: fulfillment_dispatch::dispatch::ShipmentResult) -> pb::ShipmentResult {
    use fulfillment_dispatch::dispatch::Outcome;
    let outcome = match r.outcome {
        Outcome::Created => pb::ShipmentOutcome::Created,
        Outcome::Skipped => pb::ShipmentOutcome::Skipped,
        Outcome::Failed => pb::ShipmentOutcome::Failed,
    };
    pb::ShipmentResult {
        order_id: r.order_id,
        outcome: outcome as i32,
        carrier_shipment_id: r.carrier_shipment_id,
        tracking_number: r.tracking_number,
        reason: r.reason,
        message: r.message,
        shipment_id: r.shipment_id,
        carrier: r.carrier,
    }
}

/// The labels answer: `pdf` holds the label when there is exactly one.
pub fn labels(l: fulfillment_dispatch::dispatch::Labels) -> pb::GetLabelsResponse {
    let pdf = match l.labels.as_slice() {
        [only] => only.pdf.clone(),
        _ => Vec::new(),
    };
    pb::GetLabelsResponse {
        pdf,
        labelled_order_ids: l.labels.iter().map(|x| x.order_id.clone()).collect(),
        unavailable: l
            .unavailable
            .into_iter()
            .map(|u| pb::LabelUnavailable {
                order_id: u.order_id,
                reason: u.reason,
                message: u.message,
            })
            .collect(),
        labels: l
            .labels
            .into_iter()
            .map(|x| pb::OrderLabel {
                order_id: x.order_id,
                pdf: x.pdf,
                carrier: x.carrier,
                tracking_number: x.tracking_number,
            })
            .collect(),
    }
}
