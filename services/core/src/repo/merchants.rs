use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::ServiceResult;
use crate::models::Merchant;
use crate::repo::meaning::{Meaning, Means};
use crate::schema::merchants;

pub fn find(conn: &mut PgConnection, id: &str) -> QueryResult<Option<Merchant>> {
    merchants::table
        .find(id)
        .select(Merchant::as_select())
        .first(conn)
        .optional()
}

/// Inserts or updates a merchant; returns it and whether it was created.
pub fn upsert(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
    country: &str,
    now: DateTime<Utc>,
) -> ServiceResult<(Merchant, bool)> {
    let inserted = diesel::insert_into(merchants::table)
        .values((
            merchants::id.eq(id),
            merchants::name.eq(name),
            merchants::country.eq(country),
            merchants::created_at.eq(now),
            merchants::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .returning(Merchant::as_returning())
        .get_result(conn)
        .optional()?;
    if let Some(merchant) = inserted {
        return Ok((merchant, true));
    }
    let updated = diesel::update(merchants::table.find(id))
        .set((
            merchants::name.eq(name),
            merchants::country.eq(country),
            merchants::updated_at.eq(now),
        ))
        .returning(Merchant::as_returning())
        .get_result(conn)
        .means(|| [Meaning::absent("merchant", id)])?;
    Ok((updated, false))
}
