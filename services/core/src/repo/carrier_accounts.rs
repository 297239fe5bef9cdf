//! Carrier accounts (R19). Secrets arrive here already sealed; nothing in this module sees them
//! in clear.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::ServiceResult;
use crate::repo::meaning::{Meaning, Means};
use crate::schema::{carrier_account_events, carrier_accounts};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = carrier_accounts, check_for_backend(diesel::pg::Pg))]
pub struct CarrierAccountRow {
    pub id: String,
    pub merchant_id: String,
    pub carrier: String,
    pub kind: String,
    pub settings: serde_json::Value,
    pub secret_key_id: String,
    pub secret_sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = carrier_accounts)]
pub struct NewCarrierAccount<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub carrier: &'a str,
    pub kind: &'a str,
    pub settings: &'a serde_json::Value,
    pub secret_key_id: &'a str,
    pub secret_sealed: &'a [u8],
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = carrier_account_events)]
pub struct NewAccountEvent<'a> {
    pub account_id: &'a str,
    pub merchant_id: &'a str,
    pub actor: &'a str,
    pub kind: &'a str,
    pub details: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// The connected account of a merchant for a carrier and kind, locked for update.
pub fn connected_for_update(
    conn: &mut PgConnection,
    merchant_id: &str,
    carrier: &str,
    kind: &str,
) -> QueryResult<Option<CarrierAccountRow>> {
    carrier_accounts::table
        .filter(carrier_accounts::merchant_id.eq(merchant_id))
        .filter(carrier_accounts::carrier.eq(carrier))
        .filter(carrier_accounts::kind.eq(kind))
        .filter(carrier_accounts::disconnected_at.is_null())
        .for_update()
        .select(CarrierAccountRow::as_select())
        .first(conn)
        .optional()
}

/// Connects an account. A second connected account of the same merchant, carrier and kind is
/// ALREADY_EXISTS (a concurrent connect won); an unknown merchant is NOT_FOUND.
pub fn insert(
    conn: &mut PgConnection,
    account: &NewCarrierAccount<'_>,
) -> ServiceResult<CarrierAccountRow> {
    diesel::insert_into(carrier_accounts::table)
        .values(account)
        .returning(CarrierAccountRow::as_returning())
        .get_result(conn)
        .means(|| {
            [
                Meaning::duplicate_on(
                    "carrier_accounts_one_connected",
                    "CARRIER_ACCOUNT_CONNECTED",
                    format!(
                        "a connected {} {} account of merchant {}",
                        account.carrier, account.kind, account.merchant_id
                    ),
                ),
                Meaning::missing(
                    "carrier_accounts_merchant_id_fkey",
                    "merchant",
                    account.merchant_id,
                ),
            ]
        })
}

/// Replaces the settings and sealed secret of an account (a reconnect with new credentials).
pub fn replace_credentials(
    conn: &mut PgConnection,
    id: &str,
    settings: &serde_json::Value,
    key_id: &str,
    sealed: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<CarrierAccountRow> {
    diesel::update(carrier_accounts::table.find(id))
        .set((
            carrier_accounts::settings.eq(settings),
            carrier_accounts::secret_key_id.eq(key_id),
            carrier_accounts::secret_sealed.eq(sealed),
            carrier_accounts::updated_at.eq(now),
        ))
        .returning(CarrierAccountRow::as_returning())
        .get_result(conn)
}

/// Only re-seals: settings and timestamps stay (key rotation is not a merchant's change).
pub fn reseal(
    conn: &mut PgConnection,
    id: &str,
    old_key_id: &str,
    key_id: &str,
    sealed: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        carrier_accounts::table
            .find(id)
            .filter(carrier_accounts::secret_key_id.eq(old_key_id)),
    )
    .set((
        carrier_accounts::secret_key_id.eq(key_id),
        carrier_accounts::secret_sealed.eq(sealed),
    ))
    .execute(conn)
}

pub fn connected(
    conn: &mut PgConnection,
    merchant_id: &str,
) -> QueryResult<Vec<CarrierAccountRow>> {
    carrier_accounts::table
        .filter(carrier_accounts::merchant_id.eq(merchant_id))
        .filter(carrier_accounts::disconnected_at.is_null())
        .order((
            carrier_accounts::carrier.asc(),
            carrier_accounts::kind.asc(),
        ))
        .select(CarrierAccountRow::as_select())
        .load(conn)
}

/// An account of this merchant by id (connected or not). Another merchant's id is not found.
pub fn get(
    conn: &mut PgConnection,
    merchant_id: &str,
    id: &str,
) -> QueryResult<Option<CarrierAccountRow>> {
    carrier_accounts::table
        .find(id)
        .filter(carrier_accounts::merchant_id.eq(merchant_id))
        .select(CarrierAccountRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a connected account disconnected; `false` if it was not connected.
pub fn disconnect(conn: &mut PgConnection, id: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    diesel::update(
        carrier_accounts::table
            .find(id)
            .filter(carrier_accounts::disconnected_at.is_null()),
    )
    .set(carrier_accounts::disconnected_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Up to `limit` accounts still sealed under a key other than `current_key_id`, locked and
/// skipped by concurrent rotations.
pub fn sealed_under_other_keys(
    conn: &mut PgConnection,
    current_key_id: &str,
    limit: i64,
) -> QueryResult<Vec<CarrierAccountRow>> {
    carrier_accounts::table
        .filter(carrier_accounts::secret_key_id.ne(current_key_id))
        .order(carrier_accounts::id.asc())
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(CarrierAccountRow::as_select())
        .load(conn)
}

pub fn record_event(conn: &mut PgConnection, event: &NewAccountEvent<'_>) -> QueryResult<usize> {
    diesel::insert_into(carrier_account_events::table)
        .values(event)
        .execute(conn)
}
