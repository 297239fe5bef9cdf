//! Issue 22.2 and 22.4: the README's demo examples answer what the README shows. The demo data
//! (what `fulfillment-server --demo` loads) has a stuck Intelipost order for `m-saopaulo` (R13),
//! and the deadline-enforcer's dry run prints the very summary line the README quotes (R5).

#![allow(clippy::unwrap_used)]

use std::process::Command;

use chrono::Utc;
use diesel::Connection;
use fulfillment_core::testing::TestDb;
use fulfillment_orders::demo::{STUCK_INTELIPOST_ORDER, load_demo_data};
use fulfillment_orders::policies::PolicyStore;
use fulfillment_policy::stuck::StuckReason;
use fulfillment_tracking::tracking::list_stuck;

const README: &str = include_str!("../../README.md");

fn load_demo(db: &TestDb) {
    let mut conn = db.conn();
    conn.transaction(|conn| {
        let now = Utc::now();
        let policy = PolicyStore::new().at(conn, now)?;
        load_demo_data(conn, now, &policy)
    })
    .unwrap();
}

/// The `# <binary>: ...` line the README shows under `cargo run ... --bin <binary> -- --dry-run`.
fn readme_summary(binary: &str) -> String {
    let command = format!("--bin {binary} -- --dry-run");
    let mut lines = README.lines().skip_while(|l| !l.contains(&command));
    assert!(lines.next().is_some(), "README has no `{command}` example");
    let prefix = format!("# {binary}: ");
    lines
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# ").filter(|_| l.starts_with(&prefix)))
        .unwrap_or_else(|| panic!("README shows no summary line for {binary}"))
        .to_owned()
}

#[test]
fn the_demo_has_a_stuck_intelipost_order_and_reloading_changes_nothing() {
    let db = TestDb::new();
    load_demo(&db);
    load_demo(&db);
    let (stuck, next) = list_stuck(&mut db.conn(), "m-saopaulo", 0, "").unwrap();
    assert_eq!(next, "");
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].order_id, STUCK_INTELIPOST_ORDER);
    assert_eq!(stuck[0].carrier, "intelipost");
    assert_eq!(stuck[0].reason, StuckReason::IntelipostNotConnected);
}

#[test]
fn the_readme_dry_run_line_is_what_the_demo_prints() {
    let db = TestDb::new();
    load_demo(&db);
    let out = Command::new(env!("CARGO_BIN_EXE_deadline-enforcer"))
        .arg("--dry-run")
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = readme_summary("deadline-enforcer");
    assert!(
        stdout.lines().any(|l| l == expected),
        "README shows {expected:?}, the demo prints {stdout}"
    );
    assert!(
        stdout.contains("would: order o-far-apart: refund NOT_SHIPPED_IN_TIME"),
        "{stdout}"
    );
}
