use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::Merchant;
use fulfillment_core::{ServiceResult, Violations, repo};
use fulfillment_policy::tracking_number::validate_country_code;

use crate::input::{MAX_TEXT_LEN, check_id};

/// The merchant directory's sync: creates or updates a merchant.
pub fn upsert_merchant(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    id: &str,
    name: &str,
    country: &str,
) -> ServiceResult<(Merchant, bool)> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant.id", id);
    v.text("merchant.name", name, MAX_TEXT_LEN);
    let country = match validate_country_code(country) {
        Ok(code) => code,
        Err(e) => {
            v.add("merchant.country", e.to_string());
            String::new()
        }
    };
    v.finish("INVALID_MERCHANT")?;
    repo::merchants::upsert(conn, id, name.trim(), &country, now)
}
