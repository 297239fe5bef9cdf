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

// ---- A private cluster never outlives the processes using it (issue 22.3) ----
//
// The child is this test binary run again on `a_child_that_holds_a_private_cluster`, which keeps
// its target in a `static` (as the test helpers do: never dropped) and then ends the way the
// parent asks. The parent waits, with a deadline, for the cluster to stop.

static HELD: std::sync::OnceLock<PgTarget> = std::sync::OnceLock::new();

#[test]
#[ignore = "run by the tests below as a child process"]
fn a_child_that_holds_a_private_cluster() {
    let (Ok(dir), Ok(port), Ok(end)) = (
        std::env::var("PG_CHILD_DIR"),
        std::env::var("PG_CHILD_PORT"),
        std::env::var("PG_CHILD_END"),
    ) else {
        return;
    };
    let cfg = config(
        "127.0.0.1:1".into(),
        Some(dir.into()),
        port.parse().unwrap(),
    );
    let target = HELD.get_or_init(|| PgTarget::resolve_with(&cfg).unwrap());
    println!("READY {:?}", target.source());
    match end.as_str() {
        // Wait to be killed with -9.
        "kill" => {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        // A failing test: libtest catches the panic and the process exits with 101, the static
        // never dropped.
        "panic" => panic!("the child test fails on purpose"),
        // A passing test that just returns, the static never dropped.
        _ => {}
    }
}

struct Child {
    process: std::process::Child,
    dir: PathBuf,
    port: u16,
}

fn spawn_child(end: &str, dir: &std::path::Path, port: u16) -> Child {
    use std::io::BufRead;
    let mut process = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_child_that_holds_a_private_cluster",
            "--ignored",
            "--nocapture",
        ])
        .env("PG_CHILD_DIR", dir)
        .env("PG_CHILD_PORT", port.to_string())
        .env("PG_CHILD_END", end)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        // The panicking child's message is expected; keep it out of this test's output.
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = process.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok);
    let ready = lines
        .find(|l| l.starts_with("READY"))
        .expect("the child reports its cluster");
    // Keep reading: a closed pipe would fail the child's own output, not what is tested.
    std::thread::spawn(move || lines.for_each(drop));
    assert!(ready.contains("PrivateCluster"), "{ready}");
    Child {
        process,
        dir: dir.to_path_buf(),
        port,
    }
}

fn serving(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits until nothing serves on the port and the data folder says the server is down.
fn wait_stopped(dir: &std::path::Path, port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while serving(port) || dir.join("data/postmaster.pid").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the private cluster on {port} outlived the process that used it"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn child_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fulfillment-pg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_private_cluster_stops_when_its_process_is_killed_with_sigkill() {
    let dir = child_dir("kill");
    let mut child = spawn_child("kill", &dir, free_port());
    assert!(serving(child.port));
    child.process.kill().unwrap(); // SIGKILL: no destructor, no handler runs
    child.process.wait().unwrap();
    wait_stopped(&child.dir, child.port);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_private_cluster_stops_when_a_test_binary_panics_or_never_drops_its_static() {
    for end in ["panic", "return"] {
        let dir = child_dir(end);
        let mut child = spawn_child(end, &dir, free_port());
        let status = child.process.wait().unwrap();
        assert_eq!(status.success(), end == "return", "{end}: {status}");
        wait_stopped(&child.dir, child.port);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_cluster_left_without_its_watcher_is_taken_over_by_the_next_process() {
    let dir = child_dir("takeover");
    let port = free_port();
    let mut child = spawn_child("kill", &dir, port);
    // Kill the watcher first, then the process: the cluster is left running with nobody
    // watching it, as after a crash of the whole process group.
    let watcher: i32 = std::fs::read_to_string(dir.join("watcher.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &watcher.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.process.kill().unwrap();
    child.process.wait().unwrap();
    assert!(serving(port), "nothing stopped it yet");

    let next =
        PgTarget::resolve_with(&config("127.0.0.1:1".into(), Some(dir.clone()), port)).unwrap();
    assert!(
        matches!(next.source(), PgSource::PrivateCluster { owned: false, .. }),
        "{:?}",
        next.source()
    );
    let mut conn = PgConnection::establish(&next.database_url("postgres")).unwrap();
    let one: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);
    // The newcomer owns it now: when it goes, the cluster goes.
    drop(next);
    wait_stopped(&dir, port);
    let _ = std::fs::remove_dir_all(&dir);
}
