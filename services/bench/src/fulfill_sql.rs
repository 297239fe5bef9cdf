//! FulfillOrder's own SQL in pgbench (issue 21): the two statements the service runs for one
//! FulfillOrder, taken from the very files `fulfillment-core` compiles in (so there is no second
//! copy to drift), in a pgbench script of the same four round trips (`BEGIN`, the lock, the
//! write, `COMMIT`) on generic plans, as the service runs them. Beside `pgbench -N` it says how
//! much of the gap is PostgreSQL doing FulfillOrder's work, and beside FulfillOrder how much is
//! the service around that SQL.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::pgbench::{Figure, PgbenchScript, pgbench};

/// `repo::orders::lock_for_shipping`'s statement.
pub(crate) const LOCK_FOR_SHIPPING: &str =
    include_str!("../../core/src/repo/sql/lock_for_shipping.sql");
/// `repo::orders::record_shipment`'s statement.
pub(crate) const RECORD_SHIPMENT: &str =
    include_str!("../../core/src/repo/sql/record_shipment.sql");

/// `sql` with each `$n` replaced by `values[n - 1]` (a `$` not followed by digits is kept).
pub(crate) fn bind_text(sql: &str, values: &[&str]) -> anyhow::Result<String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 {
            out.push('$');
            rest = &rest[at + 1..];
            continue;
        }
        let n: usize = rest[at + 1..at + 1 + digits].parse()?;
        let value = n
            .checked_sub(1)
            .and_then(|i| values.get(i))
            .with_context(|| format!("${n} has no value"))?;
        out.push_str(value);
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The ids of the orders run `run` seeds for its pgbench clients.
fn order_prefix(run: i64) -> String {
    format!("fsql-{run}-")
}

/// The pgbench script: client `c`'s `i`-th transaction ships seeded order `i * clients + c`
/// (pgbench's own per-client variables: no round trip, no two clients on one order) on a
/// tracking of its own, with the audit details and outbox payload the service wrote for a
/// FulfillOrder of this run (`:details`, `:payload`, `:policy`, `:merchant` are defines).
pub(crate) fn script(run: i64, clients: usize) -> anyhow::Result<String> {
    let order = format!("'{}' || lpad(:k::text, 7, '0')", order_prefix(run));
    let ids = format!("ARRAY[{order}]");
    let lock = bind_text(
        LOCK_FOR_SHIPPING,
        &[
            &ids,
            ":merchant",
            "'usps'",
            // As the RPCs' (`tracking_number`): upper-case letters and digits.
            &format!("'FSQL{run}X' || lpad(:k::text, 10, '0')"),
            "now()",
            "now()",
            "now()",
        ],
    )?;
    let record = bind_text(
        RECORD_SHIPMENT,
        &[
            &ids,
            "ARRAY[false]",
            "ARRAY['APPROVED']",
            "ARRAY[:details]",
            "ARRAY[:payload]",
            ":t_id",
            "'CN'",
            "'API'",
            "now()",
            "'SHIPPED'",
            ":merchant",
            "'api' || chr(58) || 'bench'",
            "'shipped'",
            ":policy",
        ],
    )?;
    Ok(format!(
        "\\set i :i + 1\n\\set k :i * {clients} + :client_id\nBEGIN;\n{} \\gset\n{};\nCOMMIT;\n",
        lock.trim_end(),
        record.trim_end()
    ))
}

/// Runs `psql` on `db` with `args` and answers its unaligned output.
fn psql(db: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .arg(db)
        .output()
        .context("running psql")?;
    if !output.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// One run of FulfillOrder's SQL: `orders` APPROVED orders of `merchant` seeded first
/// (`seed_list.sql`, ids `fsql-<run>-0000000` on), the script run by `clients` clients, the seeded rows left (the run's
/// merchant owns them, as it owns the RPCs' orders).
pub(crate) fn run(
    db: &str,
    scripts: &Path,
    (run, merchant): (i64, &str),
    clients: usize,
    (orders, duration): (usize, std::time::Duration),
) -> anyhow::Result<Figure> {
    let prefix = order_prefix(run);
    let seed = scripts.join("seed_list.sql");
    let seed = seed.to_str().context("the scripts' path is not UTF-8")?;
    psql(
        db,
        &[
            "-v",
            &format!("merchant={merchant}"),
            "-v",
            &format!("prefix={prefix}"),
            "-v",
            &format!("n={orders}"),
            "-f",
            seed,
        ],
    )?;
    // What the service wrote for one of this run's FulfillOrders, so the rows are as large.
    let written = psql(
        db,
        &[
            "-F",
            "\t",
            "-c",
            &format!(
                "SELECT e.details, x.payload, e.policy_version FROM order_events e \
                 JOIN outbox x ON x.event_id = 'customer.notified:' || e.id \
                 WHERE e.merchant_id = '{merchant}' AND e.kind = 'shipped' LIMIT 1"
            ),
        ],
    )?;
    let mut fields = written.split('\t');
    let (Some(details), Some(payload), Some(policy)) =
        (fields.next(), fields.next(), fields.next())
    else {
        bail!("no FulfillOrder of this run to take the audit row's size from");
    };
    let path = std::env::temp_dir().join(format!("fulfill-sql-{run}.sql"));
    std::fs::write(&path, script(run, clients)?)?;
    let figure = pgbench(
        db,
        PgbenchScript::FileOnGenericPlans(&path),
        clients,
        duration,
        &[
            ("i", "-1".to_owned()),
            ("merchant", merchant.to_owned()),
            ("details", details.to_owned()),
            ("payload", payload.to_owned()),
            ("policy", policy.to_owned()),
        ],
    );
    std::fs::remove_file(&path)?;
    figure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_every_placeholder_and_keeps_other_dollars() {
        let sql = bind_text(
            "SELECT $1, $10 || '$' || $2",
            &["a", "b", "", "", "", "", "", "", "", "j"],
        )
        .unwrap();
        assert_eq!(sql, "SELECT a, j || '$' || b");
        assert!(bind_text("SELECT $3", &["a"]).is_err());
    }

    #[test]
    fn the_script_binds_all_of_both_statements() {
        let script = script(1, 32).unwrap();
        assert!(
            !script.contains('$'),
            "a placeholder left unbound: {script}"
        );
        assert!(script.contains("\\set k :i * 32 + :client_id"));
        assert_eq!(script.matches("\\gset").count(), 1);
    }
}
