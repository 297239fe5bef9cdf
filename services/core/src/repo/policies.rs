use diesel::prelude::*;

use crate::models::PolicyRow;
use crate::schema::policies;

/// Every policy version, oldest first.
pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<PolicyRow>> {
    policies::table
        .order(policies::effective_from.asc())
        .select(PolicyRow::as_select())
        .load(conn)
}
