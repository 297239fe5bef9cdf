//! `aplus-reset`'s writes (R18): A+ orders re-released without their A+ part.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz};

use crate::models::Address;
use crate::prepared::prepared;

/// R18 for A+ orders re-released without their A+ part (see [`super::CancellationQueue::AplusReset`]):
/// out of the program, the flag, the customer's address.
#[derive(Debug, Clone)]
pub struct AplusReset {
    pub order_id: String,
    pub flag: String,
    pub to: Address,
}

pub fn write_aplus_resets(
    conn: &mut PgConnection,
    rows: &[AplusReset],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    macro_rules! to {
        ($field:ident) => {
            rows.iter().map(|r| r.to.$field.clone()).collect::<Vec<_>>()
        };
    }
    prepared(
        "UPDATE orders o SET is_advanced_logistics = false,
             flags = ARRAY(SELECT DISTINCT f FROM unnest(o.flags || ARRAY[u.flag]) f ORDER BY f),
             ship_name = u.name, ship_street_address1 = u.street1, ship_street_address2 = u.street2,
             ship_city = u.city, ship_state = u.state, ship_zipcode = u.zipcode,
             ship_country = u.country, ship_phone_number = u.phone, updated_at = $11
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
           AS u (id, flag, name, street1, street2, city, state, zipcode, country, phone)
         WHERE o.id = u.id",
    )
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.flag.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(to!(name))
    .bind::<Array<Text>, _>(to!(street_address1))
    .bind::<Array<Text>, _>(to!(street_address2))
    .bind::<Array<Text>, _>(to!(city))
    .bind::<Array<Text>, _>(to!(state))
    .bind::<Array<Text>, _>(to!(zipcode))
    .bind::<Array<Text>, _>(to!(country))
    .bind::<Array<Text>, _>(to!(phone_number))
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Settles the A+ part of re-released links: `(link id, whether the order left A+)`.
pub fn mark_aplus_settled(
    conn: &mut PgConnection,
    links: &[(i64, bool)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if links.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE order_trackings ot SET aplus_reset_at = $3, aplus_leaves = u.leaves
         FROM unnest($1::int8[], $2::bool[]) AS u (id, leaves)
         WHERE ot.id = u.id",
    )
    .bind::<Array<BigInt>, _>(links.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(links.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}
