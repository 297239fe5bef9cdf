//! Fixed SQL with bind parameters that Diesel keeps prepared on each connection.
//!
//! `diesel::sql_query` marks every statement unsafe to cache, so PostgreSQL parses and plans it
//! again on every call. The set-based writes (`unnest` over arrays) and claims of the workers are
//! fixed texts run thousands of times a run: [`prepared`] gives them Diesel's statement cache,
//! keyed by the SQL text and the bind types, so each connection prepares each text once.
//!
//! The text uses PostgreSQL's `$n` placeholders; each occurrence binds the `n`-th value given to
//! [`Prepared::bind`] (a placeholder may appear more than once).

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::Error;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

trait Bind: Send {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Bound<ST, T>(T, PhantomData<fn() -> ST>);

impl<ST, T> Bind for Bound<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg> + Send,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.0)
    }
}

/// A statement of fixed text; see the module documentation.
#[must_use = "a statement does nothing until it is executed or loaded"]
pub struct Prepared {
    sql: &'static str,
    binds: Vec<Box<dyn Bind>>,
}

/// Starts a statement of fixed text (a `&'static str`, so no value can be formatted into it).
pub fn prepared(sql: &'static str) -> Prepared {
    Prepared {
        sql,
        binds: Vec::new(),
    }
}

impl Prepared {
    /// Binds the next `$n`.
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + Send + 'static,
        ST: 'static,
    {
        self.binds
            .push(Box::new(Bound::<ST, T>(value, PhantomData)));
        self
    }
}

/// Splits `sql` at its `$n` placeholders: (text before, n) pairs and the trailing text.
fn placeholders(sql: &str) -> (Vec<(&str, usize)>, &str) {
    let mut parts = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 {
            // Not a placeholder (e.g. inside a dollar-quoted body): keep it as text.
            let (text, _) = rest.split_at(at + 1);
            parts.push((text, 0));
            rest = &rest[at + 1..];
            continue;
        }
        let n = rest[at + 1..at + 1 + digits].parse().unwrap_or(0);
        parts.push((&rest[..at], n));
        rest = &rest[at + 1 + digits..];
    }
    (parts, rest)
}

impl QueryFragment<Pg> for Prepared {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (parts, tail) = placeholders(self.sql);
        for (text, n) in parts {
            out.push_sql(text);
            if n == 0 {
                continue;
            }
            let bind = self.binds.get(n - 1).ok_or_else(|| {
                Error::QueryBuilderError(format!("${n} has no bound value").into())
            })?;
            bind.push(&mut out)?;
        }
        out.push_sql(tail);
        Ok(())
    }
}

impl QueryId for Prepared {
    type QueryId = ();
    // No static id: the cache keys it by its SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared {}

/// Issue 21: the statements that follow in this transaction run on their generic plan, planned
/// once per connection, instead of being planned again for every call. PostgreSQL keeps custom
/// plans for the ship path's two statements (their generic cost, estimated for arrays of
/// unknown length, never looks cheaper), and planning them was a third of PostgreSQL's CPU per
/// FulfillOrder (profiled with `perf`, docs/benchmarks.md). Only for statements whose generic
/// plan is as good as a custom one: a bound value that selects a partial index (`is_current =
/// $1`) makes the generic plan miss that index, so call [`chosen_plans`] before such statements.
/// `SET LOCAL`: the transaction's end (or a rolled-back savepoint) restores the default.
pub fn generic_plans(conn: &mut diesel::PgConnection) -> QueryResult<()> {
    diesel::connection::SimpleConnection::batch_execute(conn, GENERIC_PLANS)
}

/// The statement behind [`generic_plans`].
const GENERIC_PLANS: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

/// `BEGIN` and [`generic_plans`] in one simple-query message, so a transaction that runs only
/// the ship path's statements (and primary-key ones) pays no round trip of its own for them.
pub const BEGIN_ON_GENERIC_PLANS: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// Back to PostgreSQL's own choice between a custom and the generic plan (see [`generic_plans`]).
pub fn chosen_plans(conn: &mut diesel::PgConnection) -> QueryResult<()> {
    diesel::connection::SimpleConnection::batch_execute(
        conn,
        "SET LOCAL plan_cache_mode TO DEFAULT",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_placeholders_and_keeps_other_dollars() {
        let (parts, tail) = placeholders("SELECT $1::int8, $10 || '$' || $1 FROM t");
        assert_eq!(
            parts,
            [
                ("SELECT ", 1),
                ("::int8, ", 10),
                (" || '$", 0),
                ("' || ", 1)
            ]
        );
        assert_eq!(tail, " FROM t");
    }
}
