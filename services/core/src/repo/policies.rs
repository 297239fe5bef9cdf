//! Policy versions (R30), their publication audit (issue 24), and the decision history a
//! simulation replays, read in keyset pages so memory stays flat however long the window.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz};

use crate::models::PolicyRow;
use crate::prepared::prepared;
use crate::schema::{order_events, policies, policy_audit};

/// Every policy version, oldest first.
pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<PolicyRow>> {
    policies::table
        .order(policies::effective_from.asc())
        .select(PolicyRow::as_select())
        .load(conn)
}

/// Serialises publishers: the check "after the newest version" and the insert must see the
/// same newest version. Readers (`ACCESS SHARE`) are not blocked.
pub fn lock_for_publishing(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE policies IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .map(|_| ())
}

/// Inserts a version (its number is the caller's: the next after the highest).
pub fn insert(conn: &mut PgConnection, row: &PolicyRow) -> QueryResult<()> {
    diesel::insert_into(policies::table)
        .values((
            policies::version.eq(row.version),
            policies::effective_from.eq(row.effective_from),
            policies::fulfillment_window_days.eq(row.fulfillment_window_days),
            policies::combine_window_days.eq(row.combine_window_days),
            policies::rerelease_window_days.eq(row.rerelease_window_days),
            policies::rerelease_deadline_days.eq(row.rerelease_deadline_days),
            policies::confirmed_removal_from.eq(row.confirmed_removal_from),
            policies::rerelease_from.eq(row.rerelease_from),
            policies::rerelease_countries.eq(&row.rerelease_countries),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One publication, as audited.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = policy_audit, check_for_backend(diesel::pg::Pg))]
pub struct Publication {
    pub version: i32,
    pub actor: String,
    pub changes: serde_json::Value,
    pub note: String,
    pub occurred_at: DateTime<Utc>,
}

pub fn record_publication(conn: &mut PgConnection, p: &Publication) -> QueryResult<()> {
    diesel::insert_into(policy_audit::table)
        .values((
            policy_audit::version.eq(p.version),
            policy_audit::actor.eq(&p.actor),
            policy_audit::action.eq("published"),
            policy_audit::changes.eq(&p.changes),
            policy_audit::note.eq(&p.note),
            policy_audit::occurred_at.eq(p.occurred_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Every publication, by version.
pub fn publications(conn: &mut PgConnection) -> QueryResult<Vec<Publication>> {
    policy_audit::table
        .filter(policy_audit::action.eq("published"))
        .order(policy_audit::version.asc())
        .select(Publication::as_select())
        .load(conn)
}

/// Where a keyset page starts: after this event id, up to `last` (inclusive). Pages walk the
/// events in id order, which is the order they were written and the table's physical order, so
/// a replay reads the heap nearly sequentially (in time order it would jump about the table
/// wherever history was written out of time order, e.g. by a bulk load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub after: i64,
    pub last: i64,
}

/// The first and last decision event ids in `[from, to)`: every decision of the window lies
/// between them (read from the partial time index, without touching the table).
pub fn decision_id_bounds(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Option<(i64, i64)>> {
    #[derive(QueryableByName)]
    struct Bounds {
        #[diesel(sql_type = Nullable<BigInt>)]
        first: Option<i64>,
        #[diesel(sql_type = Nullable<BigInt>)]
        last: Option<i64>,
    }
    let b: Bounds = prepared(
        "SELECT min(id) AS first, max(id) AS last FROM order_events
         WHERE kind IN ('shipped', 'refunded', 're_released', 'cancellation_flag_only',
                        'cancellation_not_applicable', 'tracking_cancelled_not_applicable')
           AND occurred_at >= $1 AND occurred_at < $2",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .get_result(conn)?;
    Ok(b.first.zip(b.last))
}

/// An R5 decision point: a shipment of an `APPROVED` order, or a late refund, with the release
/// its deadline counted from (the latest release or re-release event before it). The fields
/// without a `sql_type` are the decision's own `order_events` columns.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = order_events)]
pub struct LateDecisionRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub order_id: String,
    pub merchant_id: String,
    /// `shipped` or `refunded`.
    pub kind: String,
    #[diesel(sql_type = Nullable<Bool>)]
    pub shipped_late: Option<bool>,
    /// `released` or `re_released`; `None` when no release is recorded before the decision.
    #[diesel(sql_type = Nullable<Text>)]
    pub release_kind: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub release_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub release_version: Option<i32>,
}

const LATE_DECISIONS: &str = "
    SELECT e.id, e.occurred_at, e.order_id, e.merchant_id, e.kind,
           (e.details->>'shipped_late')::boolean AS shipped_late,
           r.kind AS release_kind, r.policy_version AS release_version,
           CASE r.kind WHEN 'released' THEN (r.details->>'released_at')::timestamptz
                       ELSE r.occurred_at END AS release_at
    FROM order_events e
    LEFT JOIN LATERAL (
        SELECT r.kind, r.policy_version, r.details, r.occurred_at
        FROM order_events r
        WHERE r.order_id = e.order_id AND r.id < e.id AND r.kind IN ('released', 're_released')
        ORDER BY r.id DESC
        LIMIT 1) r ON true
    WHERE e.kind IN ('shipped', 'refunded')
      AND ((e.kind = 'shipped' AND e.state_before = 'APPROVED')
           OR (e.kind = 'refunded' AND e.details->>'rule' = 'R5'))
      AND e.occurred_at >= $1 AND e.occurred_at < $2
      AND e.id > $3 AND e.id <= $4
    ORDER BY e.id
    LIMIT $5";

/// A kind of decision a simulation replays, read in pages by [`decisions`] with its query.
pub trait Decision: QueryableByName<diesel::pg::Pg> + 'static {
    /// Binds `$1`, `$2`: the window `[from, to)`; `$3`, `$4`: the [`Cursor`]; `$5`: the limit.
    const QUERY: &'static str;
}

/// R5: the shipments of `APPROVED` orders and the late refunds.
impl Decision for LateDecisionRow {
    const QUERY: &'static str = LATE_DECISIONS;
}

/// Up to `limit` decisions of kind `D` in `[from, to)` within `after`, in id order.
pub fn decisions<D: Decision>(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    after: Cursor,
    limit: i64,
) -> QueryResult<Vec<D>> {
    prepared(D::QUERY)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .bind::<BigInt, _>(after.after)
        .bind::<BigInt, _>(after.last)
        .bind::<BigInt, _>(limit)
        .load(conn)
}

/// A final R15–R18 decision on a cancelled tracking (the decider's, or the detector's
/// `NOT_APPLICABLE`), with the facts it was made on as far as history holds them. The fields
/// without a `sql_type` are the decision's own `order_events` columns.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = order_events)]
pub struct CancellationDecisionRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub order_id: String,
    pub merchant_id: String,
    pub state_before: Option<String>,
    pub policy_version: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recorded_outcome: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub carrier: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub cancelled_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub initial_released_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub merchant_country: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub left_aplus_program: Option<bool>,
    #[diesel(sql_type = Bool)]
    pub is_advanced_logistics: bool,
    #[diesel(sql_type = Bool)]
    pub tracking_found: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub link_replaced_at: Option<DateTime<Utc>>,
}

const CANCELLATION_DECISIONS: &str = "
    SELECT e.id, e.occurred_at, e.order_id, e.merchant_id, e.state_before, e.policy_version,
           e.details->>'outcome' AS recorded_outcome,
           e.details->>'carrier' AS carrier,
           (e.details->>'cancelled_at')::timestamptz AS cancelled_at,
           e.details->>'cancelled_by' AS cancelled_by,
           (e.details->>'initial_released_at')::timestamptz AS initial_released_at,
           e.details->>'merchant_country' AS merchant_country,
           (e.details->>'left_aplus_program')::boolean AS left_aplus_program,
           o.is_advanced_logistics,
           l.link_id IS NOT NULL AS tracking_found,
           l.confirmed_fulfillment_at, l.replaced_at AS link_replaced_at
    FROM order_events e
    JOIN orders o ON o.id = e.order_id
    LEFT JOIN LATERAL (
        -- The link this decision was written to: the one decided at the decision's moment.
        SELECT ot.id AS link_id, t.confirmed_fulfillment_at, ot.replaced_at
        FROM trackings t
        JOIN order_trackings ot ON ot.tracking_id = t.id AND ot.order_id = e.order_id
        WHERE t.carrier = e.details->>'carrier' AND t.tracking_number = e.details->>'tracking_number'
        ORDER BY (ot.cancellation_decided_at = e.occurred_at) DESC NULLS LAST, ot.id DESC
        LIMIT 1) l ON true
    WHERE e.kind IN ('re_released', 'refunded', 'cancellation_flag_only',
                     'cancellation_not_applicable', 'tracking_cancelled_not_applicable')
      AND (e.kind <> 'refunded' OR e.details->>'rule' = 'R16')
      AND e.occurred_at >= $1 AND e.occurred_at < $2
      AND e.id > $3 AND e.id <= $4
    ORDER BY e.id
    LIMIT $5";

/// R15–R18: the final decisions on cancelled trackings.
impl Decision for CancellationDecisionRow {
    const QUERY: &'static str = CANCELLATION_DECISIONS;
}
