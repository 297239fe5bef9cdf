//! The Intelipost integration (R13, R14) and the NF-e mappings it reports (R12).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::models::IntelipostIntegration;
use crate::schema::{
    intelipost_integration_events, intelipost_integrations, intelipost_nfe_mappings,
};

pub fn find(
    conn: &mut PgConnection,
    merchant_id: &str,
) -> QueryResult<Option<IntelipostIntegration>> {
    intelipost_integrations::table
        .find(merchant_id)
        .select(IntelipostIntegration::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_username(
    conn: &mut PgConnection,
    username: &str,
) -> QueryResult<Option<IntelipostIntegration>> {
    intelipost_integrations::table
        .filter(intelipost_integrations::username.eq(username))
        .select(IntelipostIntegration::as_select())
        .first(conn)
        .optional()
}

/// Creates or replaces a merchant's integration; returns it.
pub fn upsert(
    conn: &mut PgConnection,
    merchant_id: &str,
    username: &str,
    password_hash: &str,
    connected: bool,
    now: DateTime<Utc>,
) -> QueryResult<IntelipostIntegration> {
    diesel::insert_into(intelipost_integrations::table)
        .values((
            intelipost_integrations::merchant_id.eq(merchant_id),
            intelipost_integrations::username.eq(username),
            intelipost_integrations::password_hash.eq(password_hash),
            intelipost_integrations::connected.eq(connected),
            intelipost_integrations::created_at.eq(now),
            intelipost_integrations::updated_at.eq(now),
        ))
        .on_conflict(intelipost_integrations::merchant_id)
        .do_update()
        .set((
            intelipost_integrations::username.eq(username),
            intelipost_integrations::password_hash.eq(password_hash),
            intelipost_integrations::connected.eq(connected),
            intelipost_integrations::updated_at.eq(now),
        ))
        .returning(IntelipostIntegration::as_returning())
        .get_result(conn)
}

pub fn set_connected(
    conn: &mut PgConnection,
    merchant_id: &str,
    connected: bool,
    now: DateTime<Utc>,
) -> QueryResult<Option<IntelipostIntegration>> {
    diesel::update(intelipost_integrations::table.find(merchant_id))
        .set((
            intelipost_integrations::connected.eq(connected),
            intelipost_integrations::updated_at.eq(now),
        ))
        .returning(IntelipostIntegration::as_returning())
        .get_result(conn)
        .optional()
}

pub fn touch_push(
    conn: &mut PgConnection,
    merchant_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(intelipost_integrations::table.find(merchant_id))
        .set(intelipost_integrations::last_push_at.eq(now))
        .execute(conn)
}

pub fn record_event(
    conn: &mut PgConnection,
    merchant_id: &str,
    actor: &str,
    kind: &str,
    details: Value,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(intelipost_integration_events::table)
        .values((
            intelipost_integration_events::merchant_id.eq(merchant_id),
            intelipost_integration_events::actor.eq(actor),
            intelipost_integration_events::kind.eq(kind),
            intelipost_integration_events::details.eq(details),
            intelipost_integration_events::occurred_at.eq(now),
        ))
        .execute(conn)
}

/// Stores what Intelipost reported (R12). The first report for a carrier number wins; returns
/// the NF-e number stored for it (which differs from `nfe_number` if an earlier report said
/// otherwise).
pub fn record_mapping(
    conn: &mut PgConnection,
    merchant_id: &str,
    carrier_number: &str,
    nfe_number: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    diesel::insert_into(intelipost_nfe_mappings::table)
        .values((
            intelipost_nfe_mappings::merchant_id.eq(merchant_id),
            intelipost_nfe_mappings::carrier_number.eq(carrier_number),
            intelipost_nfe_mappings::nfe_number.eq(nfe_number),
            intelipost_nfe_mappings::reported_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    resolve(conn, merchant_id, carrier_number)
        .map(|found| found.unwrap_or_else(|| nfe_number.to_owned()))
}

/// R12: the NF-e number Intelipost reported for a carrier's tracking number, if any.
pub fn resolve(
    conn: &mut PgConnection,
    merchant_id: &str,
    carrier_number: &str,
) -> QueryResult<Option<String>> {
    intelipost_nfe_mappings::table
        .filter(intelipost_nfe_mappings::merchant_id.eq(merchant_id))
        .filter(intelipost_nfe_mappings::carrier_number.eq(carrier_number))
        .select(intelipost_nfe_mappings::nfe_number)
        .first(conn)
        .optional()
}
