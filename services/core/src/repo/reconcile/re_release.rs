//! `re-release-decider`'s writes (R16–R18): re-released orders and each link's decision.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use crate::models::Address;
use crate::prepared::prepared;

/// R16–R18 for one re-released order, as the decision says.
#[derive(Debug, Clone)]
pub struct ReRelease {
    pub order_id: String,
    pub re_released_at: DateTime<Utc>,
    pub new_deadline: DateTime<Utc>,
    pub flags: Vec<String>,
    /// R18: `Some(address)` when the order leaves A+ and ships to the customer.
    pub leave_aplus_to: Option<Address>,
}

/// Re-releases a batch of orders in one statement: back to `APPROVED` with the decision's
/// deadline and flags, and, for A+ orders that leave the program, the customer's address in the
/// same row write (R18: no moment in which the order is shippable to the warehouse).
pub fn write_re_releases(
    conn: &mut PgConnection,
    rows: &[ReRelease],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    macro_rules! ship {
        ($field:ident) => {
            rows.iter()
                .map(|r| r.leave_aplus_to.as_ref().map(|a| a.$field.clone()))
                .collect::<Vec<_>>()
        };
    }
    prepared(
        "UPDATE orders o SET state = 'APPROVED', released_at = u.at, fulfillment_deadline = u.deadline,
             is_re_released = true, order_re_released_date = u.at,
             flags = ARRAY(SELECT DISTINCT f FROM unnest(o.flags || string_to_array(u.flags, ',')) f
                           ORDER BY f),
             is_advanced_logistics = o.is_advanced_logistics AND NOT u.leaves,
             ship_name = coalesce(u.name, o.ship_name),
             ship_street_address1 = coalesce(u.street1, o.ship_street_address1),
             ship_street_address2 = coalesce(u.street2, o.ship_street_address2),
             ship_city = coalesce(u.city, o.ship_city),
             ship_state = coalesce(u.state, o.ship_state),
             ship_zipcode = coalesce(u.zipcode, o.ship_zipcode),
             ship_country = coalesce(u.country, o.ship_country),
             ship_phone_number = coalesce(u.phone, o.ship_phone_number),
             updated_at = $14
         FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::bool[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::text[], $13::text[])
           AS u (id, at, deadline, flags, leaves, name, street1, street2, city, state, zipcode,
                 country, phone)
         WHERE o.id = u.id",
    )
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.re_released_at).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.new_deadline).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.flags.join(",")).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(
        rows.iter()
            .map(|r| r.leave_aplus_to.is_some())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(ship!(name))
    .bind::<Array<Nullable<Text>>, _>(ship!(street_address1))
    .bind::<Array<Nullable<Text>>, _>(ship!(street_address2))
    .bind::<Array<Nullable<Text>>, _>(ship!(city))
    .bind::<Array<Nullable<Text>>, _>(ship!(state))
    .bind::<Array<Nullable<Text>>, _>(ship!(zipcode))
    .bind::<Array<Nullable<Text>>, _>(ship!(country))
    .bind::<Array<Nullable<Text>>, _>(ship!(phone_number))
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// R16 on one link, as the decider decided it.
#[derive(Debug, Clone)]
pub struct LinkDecision {
    pub link_id: i64,
    pub outcome: &'static str,
    /// A re-release retires the cancelled tracking from the order (a new one is required).
    pub retire: bool,
    /// For a re-release: whether the A+ part took the order out of the program (R18); the A+
    /// part is then settled (`aplus_reset_at`).
    pub aplus_leaves: Option<bool>,
}

pub fn write_link_decisions(
    conn: &mut PgConnection,
    decisions: &[LinkDecision],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if decisions.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE order_trackings ot SET cancellation_decided_at = $5, cancellation_outcome = u.outcome,
             is_current = ot.is_current AND NOT u.retire,
             replaced_at = CASE WHEN u.retire THEN $5 ELSE ot.replaced_at END,
             aplus_leaves = u.leaves,
             aplus_reset_at = CASE WHEN u.leaves IS NULL THEN ot.aplus_reset_at ELSE $5 END
         FROM unnest($1::int8[], $2::text[], $3::bool[], $4::bool[]) AS u (id, outcome, retire, leaves)
         WHERE ot.id = u.id",
    )
    .bind::<Array<BigInt>, _>(decisions.iter().map(|d| d.link_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(
        decisions
            .iter()
            .map(|d| d.outcome.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Bool>, _>(decisions.iter().map(|d| d.retire).collect::<Vec<_>>())
    .bind::<Array<Nullable<Bool>>, _>(
        decisions.iter().map(|d| d.aplus_leaves).collect::<Vec<_>>(),
    )
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}
