//! The embedded default really works: with nothing on the local address, a private cluster is
//! started from the installed binaries, serves, and is stopped when the target is dropped.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

use diesel::prelude::*;
use fulfillment_core::pg_bootstrap::{
    BootstrapConfig, PgSource, PgTarget, create_database_if_missing,
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(local_addr: String, data_dir: Option<PathBuf>, port: u16) -> BootstrapConfig {
    BootstrapConfig {
        explicit_url: None,
        local_addr,
        bin_dir: None,
        data_dir,
        port,
    }
}

#[test]
fn an_explicit_url_is_used_as_is() {
    let mut cfg = config("127.0.0.1:1".into(), None, 1);
    cfg.explicit_url = Some("postgres://u@db.internal:6432/orders?sslmode=require".into());
    let target = PgTarget::resolve_with(&cfg).unwrap();
    assert_eq!(target.source(), PgSource::Explicit);
    assert_eq!(
        target.default_url(),
        "postgres://u@db.internal:6432/orders?sslmode=require"
    );
    assert_eq!(
        target.database_url("t1"),
        "postgres://u@db.internal:6432/t1?sslmode=require"
    );
}

#[test]
fn a_server_answering_on_the_local_address_is_chosen() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let target = PgTarget::resolve_with(&config(addr.clone(), None, 1)).unwrap();
    assert_eq!(target.source(), PgSource::LocalServer(addr.clone()));
    assert_eq!(
        target.default_url(),
        format!("postgres://postgres@{addr}/fulfillment")
    );
}

#[test]
fn without_a_local_server_a_private_cluster_starts_serves_and_stops() {
    let dir = std::env::temp_dir().join(format!("fulfillment-pg-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let target =
        PgTarget::resolve_with(&config("127.0.0.1:1".into(), Some(dir.clone()), port)).unwrap();
    assert!(
        matches!(
            target.source(),
            PgSource::PrivateCluster { owned: true, .. }
        ),
        "{:?}",
        target.source()
    );

    let admin = target.database_url("postgres");
    create_database_if_missing(&admin, "fulfillment").unwrap();
    create_database_if_missing(&admin, "fulfillment").unwrap();
    let mut conn = PgConnection::establish(&target.default_url()).unwrap();
    let one: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);

    drop(target);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the private cluster is stopped with its owner"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
