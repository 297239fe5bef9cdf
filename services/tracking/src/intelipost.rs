//! Intelipost (R12–R14): the merchant's integration (the webhook event rule with its Basic-auth
//! credentials), the pushes it sends, and the NF-e mappings they carry.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::{IntelipostIntegration, NewOrderEvent, NewTracking};
use fulfillment_core::password::{hash_password, verify_password};
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::webhook;
use serde_json::json;

use crate::tracking::{self, IncomingEvent, IngestOutcome, Source};
use fulfillment_core::input::{Actor, check_id};

pub const CARRIER: &str = "intelipost";
const MAX_CREDENTIAL_LEN: usize = 200;

/// The integration as callers see it: never the password or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationView {
    pub merchant_id: String,
    pub username: String,
    pub connected: bool,
    pub updated_at: DateTime<Utc>,
    pub last_push_at: Option<DateTime<Utc>>,
}

impl From<IntelipostIntegration> for IntegrationView {
    fn from(i: IntelipostIntegration) -> Self {
        Self {
            merchant_id: i.merchant_id,
            username: i.username,
            connected: i.connected,
            updated_at: i.updated_at,
            last_push_at: i.last_push_at,
        }
    }
}

/// Records a merchant's Intelipost integration (R13): connected with the webhook's Basic-auth
/// user name and password (stored hashed), or disconnected (credentials may then be empty).
/// Connecting re-arms polling of the merchant's open Intelipost trackings.
pub fn set_integration(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    merchant_id: &str,
    username: &str,
    password: &str,
    connected: bool,
) -> ServiceResult<IntegrationView> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let credentials_given = !username.is_empty() || !password.is_empty();
    if connected || credentials_given {
        if username.trim().is_empty() {
            v.add("username", "is required");
        } else if username.len() > MAX_CREDENTIAL_LEN
            || username.contains(':')
            || username.chars().any(char::is_control)
        {
            v.add(
                "username",
                format!(
                    "must be at most {MAX_CREDENTIAL_LEN} characters, without ':' or control characters"
                ),
            );
        }
        if password.is_empty() {
            v.add("password", "is required");
        } else if password.len() > MAX_CREDENTIAL_LEN {
            v.add(
                "password",
                format!("must be at most {MAX_CREDENTIAL_LEN} bytes"),
            );
        }
    }
    v.finish("INVALID_REQUEST")?;
    repo::merchants::find(conn, merchant_id)?
        .ok_or_else(|| ServiceError::not_found("merchant", merchant_id))?;
    if let Some(other) = repo::intelipost::find_by_username(conn, username)?
        && other.merchant_id != merchant_id
    {
        return Err(ServiceError::AlreadyExists {
            reason: "INTELIPOST_USERNAME_IN_USE",
            message: "R14: this Intelipost user name is already connected for another merchant"
                .to_owned(),
        });
    }
    let integration = if credentials_given {
        let hash = hash_password(password).map_err(ServiceError::internal)?;
        repo::intelipost::upsert(conn, merchant_id, username, &hash, connected, now)?
    } else {
        repo::intelipost::set_connected(conn, merchant_id, connected, now)?
            .ok_or_else(|| ServiceError::not_found("intelipost integration", merchant_id))?
    };
    repo::intelipost::record_event(
        conn,
        merchant_id,
        &actor.0,
        if connected {
            "connected"
        } else {
            "disconnected"
        },
        json!({ "username": integration.username, "credentials_changed": credentials_given }),
        now,
    )?;
    if connected {
        repo::trackings::rearm_polling(conn, merchant_id, CARRIER, now)?;
    }
    Ok(integration.into())
}

pub fn get_integration(
    conn: &mut PgConnection,
    merchant_id: &str,
) -> ServiceResult<Option<IntegrationView>> {
    Ok(repo::intelipost::find(conn, merchant_id)?.map(Into::into))
}

/// R14: the merchant whose connected integration these Basic-auth credentials are, if any.
pub fn authenticate(
    conn: &mut PgConnection,
    username: &str,
    password: &str,
) -> ServiceResult<Option<String>> {
    let Some(integration) = repo::intelipost::find_by_username(conn, username)? else {
        // Spend the same time as a real check, so a probe cannot tell user names apart.
        verify_password(password, DUMMY_HASH);
        return Ok(None);
    };
    let facts = webhook::Integration {
        connected: integration.connected,
        password_matches: verify_password(password, &integration.password_hash),
    };
    Ok(webhook::accepts(Some(facts)).then_some(integration.merchant_id))
}

const DUMMY_HASH: &str = "pbkdf2-sha256$20000$00000000000000000000000000000000$0000000000000000000000000000000000000000000000000000000000000000";

/// One push from Intelipost, parsed. There is no sales channel: R14 makes the channel `wish` a
/// condition of the merchant's event rule in Intelipost, and the body does not carry it.
#[derive(Debug, Clone)]
pub struct Push {
    /// The carrier's own tracking number, when the push carries it.
    pub carrier_number: Option<String>,
    /// The NF-e invoice number (`invoice.invoice_number`): our tracking number for Intelipost
    /// (R12), when the push carries it.
    pub nfe_number: Option<String>,
    pub event: IncomingEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored and applied (or, for a redelivery, seen before).
    Applied { accepted: usize, duplicates: usize },
}

/// Applies a push for `merchant_id` (authenticated by the caller): finds the NF-e number the
/// push is about, records the carrier number's mapping to it (R12), finds or creates the
/// tracking by NF-e number (resolving a tracking stored under the carrier's number, R12), and
/// ingests the event (R14, R22: a redelivery changes nothing).
///
/// The NF-e is the push's `invoice.invoice_number`; a push without one is identified by its
/// carrier number only through a mapping Intelipost reported before (a fact, R12). Otherwise
/// it names no tracking of ours: `INVALID_ARGUMENT`, nothing stored, never guessed.
pub fn apply_push(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    merchant_id: &str,
    push: &Push,
) -> ServiceResult<PushOutcome> {
    let nfe = match (push.nfe_number.as_deref(), push.carrier_number.as_deref()) {
        (Some(nfe), _) => nfe.to_owned(),
        (None, Some(carrier_number)) => {
            repo::intelipost::resolve(conn, merchant_id, carrier_number)?.ok_or_else(|| {
                ServiceError::invalid(
                    "INTELIPOST_PUSH_UNIDENTIFIED",
                    "invoice.invoice_number",
                    format!(
                        "R12: the push carries no NF-e number (invoice.invoice_number) and Intelipost has not reported one for the carrier's tracking code {carrier_number}; it names no tracking, nothing was stored"
                    ),
                )
            })?
        }
        (None, None) => {
            return Err(ServiceError::invalid(
                "INTELIPOST_PUSH_UNIDENTIFIED",
                "invoice.invoice_number",
                "R12: the push carries neither an NF-e number (invoice.invoice_number) nor a carrier tracking code (tracking_code)",
            ));
        }
    };
    let nfe = nfe.as_str();
    if let Some(carrier_number) = push.carrier_number.as_deref()
        && carrier_number != nfe
    {
        repo::intelipost::record_mapping(conn, merchant_id, carrier_number, nfe, now)?;
        resolve_tracking(conn, now, actor, merchant_id, carrier_number, nfe)?;
    }
    let (tracking, _) = repo::trackings::get_or_create_locked(
        conn,
        &NewTracking {
            merchant_id,
            carrier: CARRIER,
            tracking_number: nfe,
            // Pushed, not polled: the webhook is how Intelipost trackings move (R13).
            next_poll_at: None,
            created_at: now,
            updated_at: now,
        },
    )?;
    if tracking.merchant_id != merchant_id {
        return Err(ServiceError::AlreadyExists {
            reason: "TRACKING_NUMBER_IN_USE",
            message: format!("R3: intelipost tracking number {nfe} belongs to another merchant"),
        });
    }
    let mut event = push.event.clone();
    event.carrier = CARRIER.to_owned();
    event.tracking_number = nfe.to_owned();
    let IngestOutcome {
        accepted,
        duplicates,
        ..
    } = tracking::ingest(
        conn,
        now,
        actor,
        Source::Webhook,
        std::slice::from_ref(&event),
        Some(merchant_id),
        None,
    )?;
    repo::intelipost::touch_push(conn, merchant_id, now)?;
    Ok(PushOutcome::Applied {
        accepted,
        duplicates,
    })
}

/// R12: orders fulfilled by API with the carrier's number wait for Intelipost's mapping; when
/// it arrives, their tracking takes the NF-e number (a fact reported by Intelipost, not a
/// guess). Each order on it gets an audit row.
fn resolve_tracking(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    merchant_id: &str,
    carrier_number: &str,
    nfe: &str,
) -> ServiceResult<()> {
    let Some(unresolved) = repo::trackings::find(conn, CARRIER, carrier_number)? else {
        return Ok(());
    };
    if unresolved.merchant_id != merchant_id || repo::trackings::find(conn, CARRIER, nfe)?.is_some()
    {
        return Ok(());
    }
    repo::trackings::renumber(conn, unresolved.id, nfe, now)?;
    for order in repo::trackings::current_orders(conn, unresolved.id)? {
        repo::audit::record_event(
            conn,
            &NewOrderEvent {
                order_id: &order.id,
                merchant_id,
                actor: &actor.0,
                kind: "tracking_resolved",
                state_before: Some(&order.state),
                state_after: &order.state,
                policy_version: None,
                details: json!({
                    "rule": "R12",
                    "carrier": CARRIER,
                    "carrier_number": carrier_number,
                    "tracking_number": nfe,
                }),
                occurred_at: now,
            },
        )?;
    }
    Ok(())
}
