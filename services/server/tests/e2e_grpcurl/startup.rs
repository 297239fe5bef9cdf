//! How the binary starts: it refuses an open address without tokens, and logs plainly what
//! the migrations did.

use std::process::Command;

use fulfillment_core::testing::TestDb;

#[test]
fn without_tokens_the_server_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
        .args(["--listen", "0.0.0.0:0"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("FULFILLMENT_AUTH_TOKENS_FILE")
        .env_remove("FULFILLMENT_AUTH_TOKENS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && stderr.contains("--auth-tokens-file"),
        "{stderr}"
    );
}

/// Issue 22.5: a log written to a pipe or a file holds no colour codes, and the start-up line
/// says what the migrations did: "applied N migrations" on an empty database, then
/// "schema up to date".
#[test]
fn logs_off_a_terminal_are_plain_and_say_what_the_migrations_did() {
    use diesel::RunQueryDsl;
    let db = TestDb::new();
    diesel::sql_query("DROP SCHEMA public CASCADE")
        .execute(&mut db.conn())
        .unwrap();
    diesel::sql_query("CREATE SCHEMA public")
        .execute(&mut db.conn())
        .unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("up.sql").exists())
        .count();
    let migrate = || {
        let out = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("LOG_FORMAT")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "colour codes in a piped log: {stderr:?}"
        );
        stderr
    };
    let first = migrate();
    assert!(
        first.contains(&format!("applied {migrations} migrations")),
        "{first}"
    );
    let second = migrate();
    assert!(second.contains("schema up to date"), "{second}");
    assert!(!second.contains("applied"), "{second}");
}
